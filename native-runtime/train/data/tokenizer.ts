// Text -> token ids with a Hugging Face `tokenizer.json`, through the pure-JS
// `@huggingface/tokenizers`. That library adds special tokens but neither truncates nor pads,
// so this wrapper does both: truncation is "longest first" over the non-special segments
// (as Hugging Face's default), which keeps [CLS]/[SEP]-style tokens in place.
import * as fs from 'fs';
import * as path from 'path';
import { Tokenizer } from '@huggingface/tokenizers';
import { boundText } from './boundText';

export interface Encoded {
  ids: number[];
  typeIds: number[];
  /** Token strings (for router examples and debugging). */
  tokens: string[];
  /** For word-aligned encodings: index of the source word of each token, -1 for special tokens. */
  wordIds?: number[];
}

export interface TextTokenizer {
  readonly file: string;
  /** Id used for padding. */
  readonly padId: number;
  /** Encodes text (and an optional second text) with special tokens, truncated to `maxLength`. */
  encode(text: string, pair: string | undefined, maxLength: number): Encoded;
  /** Encodes pre-split words (token classification), truncated to `maxLength`. */
  encodeWords(words: string[], maxLength: number): Encoded;
  idToToken(id: number): string | undefined;
}

interface AddedTokenJson { id: number; content: string; special?: boolean }

const PAD_CANDIDATES = ['[PAD]', '<pad>', '<|pad|>', '<PAD>', '[pad]'];
const EOS_CANDIDATES = ['</s>', '<|endoftext|>', '<eos>', '<|eos|>', '[SEP]'];

export interface TokenizerOptions {
  /** Cut long texts before tokenizing (boundText.ts; default true). Off only to compare against whole-text encodings. */
  boundInput?: boolean;
}

/** Loads `tokenizer.json` (and `tokenizer_config.json` beside it when present). */
export function loadTokenizer(file: string, options: TokenizerOptions = {}): TextTokenizer {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: cannot read tokenizer (expected a Hugging Face tokenizer.json): ${(e as Error).message}`);
  }
  let config: Record<string, unknown> = {};
  const configFile = path.join(path.dirname(file), 'tokenizer_config.json');
  if (fs.existsSync(configFile)) {
    try {
      config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    } catch (e) {
      throw new Error(`${configFile}: invalid JSON: ${(e as Error).message}`);
    }
  }
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json, config);
  } catch (e) {
    throw new Error(`${file}: unsupported tokenizer: ${(e as Error).message}`);
  }
  const added = (Array.isArray(json.added_tokens) ? json.added_tokens : []) as AddedTokenJson[];
  const special = new Set(added.filter((t) => t.special).map((t) => t.id));
  const byContent = new Map(added.map((t) => [t.content, t.id]));
  const lookup = (s: string) => byContent.get(s) ?? tok.token_to_id(s);

  let padId: number | undefined;
  const padding = json.padding as { pad_id?: number } | null | undefined;
  if (padding && typeof padding.pad_id === 'number') padId = padding.pad_id;
  const configPad = typeof config.pad_token === 'string' ? config.pad_token : undefined;
  if (padId === undefined && configPad) padId = lookup(configPad);
  for (const c of PAD_CANDIDATES) if (padId === undefined) padId = lookup(c);
  // Causal LMs often have no pad token: pad with end-of-sequence (the mask and -100 labels hide it).
  for (const c of EOS_CANDIDATES) if (padId === undefined) padId = lookup(c);

  // Special tokens wrapped around a single text, found by encoding one word with and without them.
  const probeWith = tok.encode('a').ids;
  const probeWithout = tok.encode('a', { add_special_tokens: false }).ids;
  let at = -1;
  for (let i = 0; i + probeWithout.length <= probeWith.length && at < 0; i++) {
    if (probeWithout.every((v, k) => probeWith[i + k] === v)) at = i;
  }
  const prefix = at >= 0 ? probeWith.slice(0, at) : [];
  const suffix = at >= 0 ? probeWith.slice(at + probeWithout.length) : [];

  // The unknown token is "special" in added_tokens, but it stands for text: it must not split
  // segments, or truncation removes words between [UNK]s instead of cutting the text's end.
  const model = (json.model ?? {}) as { unk_token?: unknown; unk_id?: unknown };
  const unkId = typeof model.unk_token === 'string' ? lookup(model.unk_token) : typeof model.unk_id === 'number' ? model.unk_id : undefined;
  const isSpecial = (id: number) => special.has(id) && id !== unkId;
  const countTokens = (s: string) => tok.encode(s, { add_special_tokens: false }).ids.length;

  function truncate(e: Encoded, maxLength: number): Encoded {
    if (e.ids.length <= maxLength) return e;
    // Segments: maximal runs of non-special tokens. Remove from the end of the longest one.
    const keep = e.ids.map(() => true);
    const segments: number[][] = [];
    let cur: number[] | undefined;
    e.ids.forEach((id, i) => {
      if (isSpecial(id)) cur = undefined;
      else {
        if (!cur) segments.push((cur = []));
        cur.push(i);
      }
    });
    let excess = e.ids.length - maxLength;
    while (excess > 0) {
      let longest: number[] | undefined;
      for (const s of segments) if (!longest || s.length > longest.length) longest = s;
      if (!longest || longest.length === 0) break;
      keep[longest.pop()!] = false;
      excess--;
    }
    // Not enough ordinary tokens to remove: cut from the end.
    const pick = <T>(a: T[]) => a.filter((_, i) => keep[i]).slice(0, maxLength);
    return { ids: pick(e.ids), typeIds: pick(e.typeIds), tokens: pick(e.tokens), wordIds: e.wordIds ? pick(e.wordIds) : undefined };
  }

  return {
    file,
    padId: padId ?? 0,
    idToToken: (id) => tok.id_to_token(id),
    encode(text, pair, maxLength) {
      // Each text alone is cut to what max_length can keep (boundText.ts): longest-first
      // truncation never keeps more than maxLength tokens of either, so the result is unchanged.
      const bound = (s: string) => (options.boundInput === false ? s : boundText(s, maxLength, countTokens));
      const enc = tok.encode(bound(text), { text_pair: pair === undefined ? null : bound(pair), return_token_type_ids: true });
      const typeIds = enc.token_type_ids ?? enc.ids.map(() => 0);
      return truncate({ ids: enc.ids, typeIds, tokens: enc.tokens }, maxLength);
    },
    encodeWords(words, maxLength) {
      // Every word gives at least one token: words past maxLength cannot be among those kept.
      if (words.length > maxLength && options.boundInput !== false) words = words.slice(0, maxLength);
      const ids = [...prefix];
      const wordIds = prefix.map(() => -1);
      words.forEach((w, k) => {
        const sub = tok.encode(w, { add_special_tokens: false }).ids;
        for (const id of sub) { ids.push(id); wordIds.push(k); }
      });
      ids.push(...suffix);
      wordIds.push(...suffix.map(() => -1));
      const tokens = ids.map((id) => tok.id_to_token(id) ?? '');
      return truncate({ ids, typeIds: ids.map(() => 0), tokens, wordIds }, maxLength);
    },
  };
}
