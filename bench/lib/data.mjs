// The bench's training data: token-length samples from a real corpus's histogram
// (bench/data/lengths-*.json, made by scripts/oracle/length_histogram.py), filled with seeded
// random token ids. Both sides read the same examples (data.json) and batch them in the same
// order; each pads (or packs) them its own way.
import * as fs from 'node:fs';
import * as path from 'node:path';
// The engine's own seeded generator (built to out/ by `npm run build`), not a copy of it.
import { mulberry32 as rng } from '../../out/native-runtime/adapters/init.js';
import { groupByLength } from '../../out/native-runtime/train/data/plan.js';

export function loadHistogram(root, name) {
  const file = path.join(root, 'bench', 'data', name);
  const h = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!Array.isArray(h.histogram) || !h.histogram.length) throw new Error(`${file}: no "histogram" of [length, count] pairs`);
  return h;
}

/** `n` lengths drawn from the histogram (inverse CDF), each capped at `maxLength`. */
export function sampleLengths(h, n, maxLength, seed) {
  const total = h.histogram.reduce((s, [, c]) => s + c, 0);
  const rand = rng(seed);
  const out = [];
  for (let i = 0; i < n; i++) {
    let u = rand() * total;
    let len = h.histogram[h.histogram.length - 1][0];
    for (const [l, c] of h.histogram) {
      u -= c;
      if (u < 0) { len = l; break; }
    }
    out.push(Math.min(len, maxLength));
  }
  return out;
}

/** Examples {ids, label?}: ids in [5, vocab) (0 is padding), labels 0/1 for classification. */
export function makeExamples(lengths, vocab, classify, seed) {
  const rand = rng(seed);
  return lengths.map((n) => {
    const ids = Array.from({ length: n }, () => 5 + Math.floor(rand() * (vocab - 5)));
    return classify ? { ids, label: rand() < 0.5 ? 0 : 1 } : { ids };
  });
}

/** Real (non-padding) tokens in a list of examples. */
export const realTokens = (examples) => examples.reduce((s, e) => s + e.ids.length, 0);

/**
 * Example indices in data.group_by_length's order (the engine's groupByLength: mega-batches of
 * `megaBatches` batches, each sorted longest first), with whole batches then put in a seeded
 * random order. Trailing records that do not fill a batch are left out.
 */
export function groupedOrder(lengths, batch, megaBatches, seed) {
  const order = groupByLength(Uint32Array.from(lengths, (_, i) => i), lengths, batch * megaBatches);
  const batches = [];
  for (let s = 0; s + batch <= order.length; s += batch) batches.push(Array.from(order.subarray(s, s + batch)));
  const rand = rng(seed);
  for (let i = batches.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [batches[i], batches[j]] = [batches[j], batches[i]];
  }
  return batches.flat();
}
