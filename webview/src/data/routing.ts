// The matrices the router heatmap can show, all shaped [layer][expert]: the reference-set mean
// (router_stats.json per_layer.mean), the mean per class (per_class), one token of the chosen
// input (example.probs), or one logged training step (a router.jsonl line).
import type { RouterLine, RouterStats } from '../../../native-runtime/runFiles';

export type RouterStatsTarget = RouterStats['targets'][number];

/** Entropy in nats of a probability vector (normalised first, so rounding does not matter). */
export function entropy(p: readonly number[]): number {
  let sum = 0;
  for (const v of p) sum += v > 0 ? v : 0;
  if (sum <= 0) return 0;
  let h = 0;
  for (const v of p) {
    if (v > 0) {
      const q = v / sum;
      h -= q * Math.log(q);
    }
  }
  return h;
}

export function referenceMatrix(target: RouterStatsTarget): number[][] {
  return target.per_layer.map((layer) => layer.mean);
}

/** Class labels present in a target's per-class statistics, in first-seen order. */
export function classLabels(target: RouterStatsTarget): string[] {
  const labels: string[] = [];
  for (const layer of target.per_layer) {
    for (const label of Object.keys(layer.per_class ?? {})) if (!labels.includes(label)) labels.push(label);
  }
  return labels;
}

/** Rows of a class; a layer without that class gets NaNs (drawn as "no data"). */
export function classMatrix(target: RouterStatsTarget, label: string): number[][] {
  return target.per_layer.map((layer) => layer.per_class?.[label] ?? new Array<number>(target.num_B).fill(NaN));
}

export function tokenMatrix(target: RouterStatsTarget, tokenIndex: number): number[][] | undefined {
  const example = target.example;
  if (!example) return undefined;
  return example.probs.map((perToken) => perToken[tokenIndex] ?? new Array<number>(target.num_B).fill(NaN));
}

export function trainingMatrix(line: RouterLine | undefined, target: string): number[][] | undefined {
  return line?.targets[target];
}

/** Largest finite value of a matrix (0 when empty), for the colour scale's upper end. */
export function matrixMax(rows: readonly (readonly number[])[]): number {
  let max = 0;
  for (const row of rows) for (const v of row) if (Number.isFinite(v) && v > max) max = v;
  return max;
}

/** One token of the example input: the expert it is routed to most (mean over the target's layers) and how clearly. */
export interface TokenRouting {
  token: string;
  /** Mean routing probabilities over the layers, per expert. */
  mean: number[];
  /** argmax of `mean`. */
  expert: number;
  /** 0 when the mean is uniform over the experts, 1 when all of it goes to one. */
  strength: number;
}

export function tokenRouting(target: RouterStatsTarget): TokenRouting[] {
  const example = target.example;
  if (!example || example.probs.length === 0) return [];
  const layers = example.probs.length;
  const uniform = 1 / Math.max(1, target.num_B);
  return example.tokens.map((token, t) => {
    const mean = new Array<number>(target.num_B).fill(0);
    for (const layer of example.probs) (layer[t] ?? []).forEach((p, e) => { mean[e] += p / layers; });
    let expert = 0;
    for (let e = 1; e < mean.length; e++) if (mean[e] > mean[expert]) expert = e;
    const strength = uniform >= 1 ? 1 : Math.max(0, Math.min(1, (mean[expert] - uniform) / (1 - uniform)));
    return { token, mean, expert, strength };
  });
}
