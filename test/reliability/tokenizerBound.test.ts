// Text handed to the tokenizer is bounded by max_length (issue 13, item 5). One 50 MB text field
// cost 47 s and 3.7 GB RSS although 32 tokens were kept. The real @huggingface/tokenizers is
// watched (its encode is wrapped to record input lengths) on a WordPiece tokenizer and on a
// byte-level BPE trained by Python's `tokenizers`; the kept tokens must equal those of the whole
// text.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Tokenizer } from '@huggingface/tokenizers';
import { MAX_CHARS_PER_TOKEN } from '../../native-runtime/train/data/boundText';
import { loadTokenizer } from '../../native-runtime/train/data/tokenizer';
import { bertTokenizerJson, tempDir } from '../data/fixtures';
import { lily, makeWorkspace, tinyEncoder } from '../cli/workspace';
import { recordBadInput } from './ledger';

const PYTHON = path.resolve(__dirname, '../../.venv/bin/python');

/** The longest text the real tokenizer is asked to encode while `fn` runs. */
function longestTokenized<T>(fn: () => T): { result: T; longest: number } {
  const proto = Tokenizer.prototype as unknown as { encode: (text: string, opts?: { text_pair?: string | null }) => unknown };
  const original = proto.encode;
  let longest = 0;
  proto.encode = function (this: unknown, text: string, opts?: { text_pair?: string | null }) {
    longest = Math.max(longest, text.length, opts?.text_pair?.length ?? 0);
    return original.call(this, text, opts);
  };
  try {
    return { result: fn(), longest };
  } finally {
    proto.encode = original;
  }
}

/** A byte-level BPE tokenizer.json trained by Python's tokenizers on a small corpus. */
function bpeTokenizer(dir: string): string {
  const file = path.join(dir, 'bpe', 'tokenizer.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const script = `
import sys
from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
corpus = ["the movie was great fun", "a film that was not good", "playing the part, bad or good?"] * 50
tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
tok.save(sys.argv[1])
`;
  const r = spawnSync(PYTHON, ['-c', script, file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`training a BPE tokenizer failed: ${r.stderr}`);
  return file;
}

/** Deterministic text of `n` chars: words, punctuation, newlines, a few long words and non-ASCII. */
function longText(n: number, seed: number): string {
  const words = ['the', 'movie', 'was', 'great', 'fun', 'not', 'good', 'bad', 'playing,', 'film.', 'über', 'naïve', '日本語', 'supercalifragilistic', '?!', '\n'];
  let s = '';
  let x = seed;
  while (s.length < n) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += words[(x >>> 16) % words.length] + ((x >>> 8) % 7 === 0 ? "  " : " ");
  }
  return s.slice(0, n);
}

describe('reliability: text handed to the tokenizer is bounded by max_length', function () {
  this.timeout(120000);
  let dir: string;
  let files: Record<string, string>;
  before(() => {
    dir = tempDir('lily-tokbound-');
    const wp = path.join(dir, 'wordpiece', 'tokenizer.json');
    fs.mkdirSync(path.dirname(wp), { recursive: true });
    fs.writeFileSync(wp, JSON.stringify(bertTokenizerJson()));
    files = { wordpiece: wp, sentiment: path.resolve(__dirname, '../../examples/sentiment/tokenizer.json'), bpe: bpeTokenizer(dir) };
  });

  it('keeps exactly the tokens of the whole text (single texts, pairs, words; three tokenizers; max_length 8..128)', () => {
    for (const [name, file] of Object.entries(files)) {
      const ours = loadTokenizer(file);
      const whole = loadTokenizer(file, { boundInput: false });
      for (const maxLength of [8, 32, 128]) {
        for (const seed of [1, 2]) {
          const text = longText(40000, seed);
          const pair = longText(30000, seed + 10);
          const where = `${name}, max_length ${maxLength}, seed ${seed}`;
          const got = longestTokenized(() => ours.encode(text, undefined, maxLength));
          assert.ok(got.longest < 16 * maxLength * 4 + 1024, `${where}: the window (${got.longest} chars) is bounded`);
          assert.deepStrictEqual(got.result, whole.encode(text, undefined, maxLength), `${where}: single text`);
          assert.deepStrictEqual(ours.encode(text, pair, maxLength), whole.encode(text, pair, maxLength), `${where}: pair`);
          assert.deepStrictEqual(ours.encode(text, 'short pair', maxLength), whole.encode(text, 'short pair', maxLength), `${where}: long text, short pair`);
          const words = text.split(/\s+/).filter((w) => w);
          assert.deepStrictEqual(ours.encodeWords(words, maxLength), whole.encodeWords(words, maxLength), `${where}: words`);
        }
      }
    }
  });

  it('a 5 MB text: the tokenizer sees at most a window proportional to max_length (was the whole 5 MB)', () => {
    for (const [name, file] of Object.entries(files)) {
      const tok = loadTokenizer(file);
      const huge = longText(5_000_000, 3);
      const { result, longest } = longestTokenized(() => tok.encode(huge, undefined, 32));
      assert.strictEqual(result.ids.length, 32);
      assert.ok(longest <= 16 * 32 * 4 + 1024, `${name}: the tokenizer got ${longest} chars for 32 tokens`);
      // No whitespace at all: the window still stops at its cap.
      const blob = longestTokenized(() => tok.encode('x'.repeat(5_000_000), undefined, 32));
      assert.ok(blob.longest <= MAX_CHARS_PER_TOKEN * 32 + 256, `${name}: ${blob.longest} chars for a whitespace-free text`);
      // Token classification: words past max_length are not tokenized.
      const words = longestTokenized(() => tok.encodeWords(Array.from({ length: 200000 }, (_, i) => `w${i % 7}`), 16));
      assert.strictEqual(words.result.ids.length, 16);
    }
  });

  it('`lily train` on data with a 5 MB line trains, and the tokenizer never sees more than the window', async () => {
    tinyEncoder();
    const ws = makeWorkspace({ training: { max_steps: 2, eval_every: 2 } });
    fs.appendFileSync(path.join(ws.dir, 'train.jsonl'), JSON.stringify({ text: longText(5_000_000, 4), label: 'positive' }) + '\n');
    const proto = Tokenizer.prototype as unknown as { encode: (t: string, o?: unknown) => unknown };
    const original = proto.encode;
    let longest = 0;
    proto.encode = function (this: unknown, t: string, o?: unknown) { longest = Math.max(longest, t.length); return original.call(this, t, o); };
    try {
      const r = await lily(['train', ws.config], ws.dir);
      assert.strictEqual(r.code, 0, r.stderr);
    } finally {
      proto.encode = original;
    }
    assert.ok(longest > 0 && longest <= 16 * 16 * 4 + 1024, `the tokenizer got ${longest} chars at max_length 16`);
    recordBadInput('data', 'a 5 MB text field', 'trained; tokenizer saw a bounded window');
  });
});
