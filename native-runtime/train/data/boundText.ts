// Memory and time bounded by max_length, not by the longest line. A 50 MB text field used to be
// tokenized whole (47 s, 3.7 GB RSS) for the 32 tokens kept. So a long text is cut before it
// reaches the tokenizer, at a whitespace boundary, to a window that grows (x4) until it holds
// more than `maxTokens` + MARGIN tokens, or the window reaches MAX_CHARS_PER_TOKEN × maxTokens.
// The tokens the encoding keeps then come from words wholly inside the window, so they are
// exactly those of the full text (pre-tokenizers split at whitespace, and truncation keeps a
// prefix). The one approximation: a single "word" longer than the final window is cut inside;
// its tokens were [UNK] or byte pieces anyway.

/** First window, in characters per token of max_length (ordinary text has 3-6 chars a token). */
const FIRST_CHARS_PER_TOKEN = 16;
/** The window never grows past this many characters per token of max_length. */
export const MAX_CHARS_PER_TOKEN = 1024;
/** Tokens beyond maxTokens the window must hold, so the cut word lies past the kept part. */
const MARGIN = 8;
/** Texts at most this long (in chars per token) are never cut: the common case costs nothing. */
const SHORT = 64;

/**
 * The part of `text` to tokenize when at most `maxTokens` of its tokens are kept. `count`
 * tokenizes a candidate without special tokens and returns how many tokens it gave.
 */
export function boundText(text: string, maxTokens: number, count: (s: string) => number): string {
  const budget = Math.max(1, maxTokens);
  if (text.length <= SHORT * budget + 256) return text;
  const cap = MAX_CHARS_PER_TOKEN * budget + 256;
  for (let window = FIRST_CHARS_PER_TOKEN * budget + 256; ; window *= 4) {
    if (window >= text.length) return text;
    const cut = cutAtWhitespace(text, Math.min(window, cap));
    if (window >= cap || count(cut) > budget + MARGIN) return cut;
  }
}

/** `text` cut to at most `n` chars, at the last whitespace in its second half when there is one. */
function cutAtWhitespace(text: string, n: number): string {
  for (let i = n; i > n / 2; i--) if (/\s/.test(text[i])) return text.slice(0, i);
  return text.slice(0, n);
}
