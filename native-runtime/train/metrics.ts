// Evaluation metrics computed from the model's logits and the batch labels, independent of the
// training graph's own loss: accuracy and macro-F1 (classification), MSE and Pearson
// (regression), loss and perplexity (causal LM). `loss` is always the task loss recomputed here
// in float64 (cross-entropy or MSE), averaged over samples (tokens for token-level tasks).
import type { TaskType } from '../config/types';

export type Metrics = Record<string, number>;

const IGNORE = -100;

function toNumbers(data: ArrayLike<number | bigint>): number[] {
  const out = new Array<number>(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Number(data[i]);
  return out;
}

/** log-sum-exp and log-softmax value of one row of logits at `k`. */
function logSoftmaxAt(logits: ArrayLike<number>, offset: number, C: number, k: number): number {
  let max = -Infinity;
  for (let c = 0; c < C; c++) max = Math.max(max, logits[offset + c]);
  let sum = 0;
  for (let c = 0; c < C; c++) sum += Math.exp(logits[offset + c] - max);
  return logits[offset + k] - max - Math.log(sum);
}

function argmax(logits: ArrayLike<number>, offset: number, C: number): number {
  let best = 0;
  for (let c = 1; c < C; c++) if (logits[offset + c] > logits[offset + best]) best = c;
  return best;
}

/** Macro-F1 over the classes present in the labels or the predictions (scikit-learn's definition). */
export function macroF1(preds: number[], labels: number[]): number {
  const classes = new Set<number>([...labels, ...preds]);
  if (classes.size === 0) return 0;
  let sum = 0;
  for (const c of classes) {
    let tp = 0, fp = 0, fn = 0;
    for (let i = 0; i < labels.length; i++) {
      if (preds[i] === c && labels[i] === c) tp++;
      else if (preds[i] === c) fp++;
      else if (labels[i] === c) fn++;
    }
    sum += tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
  }
  return sum / classes.size;
}

export function accuracy(preds: number[], labels: number[]): number {
  if (labels.length === 0) return 0;
  let ok = 0;
  for (let i = 0; i < labels.length; i++) if (preds[i] === labels[i]) ok++;
  return ok / labels.length;
}

export function pearson(x: number[], y: number[]): number {
  const n = x.length;
  if (n < 2) return 0;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  // A constant prediction has no correlation (scipy returns NaN; 0 keeps the JSON numeric).
  return sxx === 0 || syy === 0 ? 0 : sxy / Math.sqrt(sxx * syy);
}

/** Accumulates predictions over eval batches, then reports the task's metrics. */
export class EvalAccumulator {
  private preds: number[] = [];
  private targets: number[] = [];
  private lossSum = 0;
  private lossCount = 0;

  constructor(readonly task: TaskType) {}

  /**
   * Adds one batch. `logits` dims: [B, C] or [B, D, C] (sequence classification; D document
   * slots of packed rows), [B] or [B, 1] (regression),
   * [B, T, C] (token classification), [B, T, V] (causal LM: position t predicts label t+1).
   */
  add(logits: ArrayLike<number>, dims: readonly number[], labels: ArrayLike<number | bigint>): void {
    const y = toNumbers(labels);
    switch (this.task) {
      case 'sequence-classification': {
        // [B, C], or [B, D, C] from a packed classifier (one score per document slot; an empty
        // slot's label is -100).
        const C = dims[dims.length - 1];
        const rows = dims.slice(0, -1).reduce((a, b) => a * b, 1);
        for (let b = 0; b < rows; b++) {
          if (y[b] === IGNORE) continue;
          this.preds.push(argmax(logits, b * C, C));
          this.targets.push(y[b]);
          this.lossSum -= logSoftmaxAt(logits, b * C, C, y[b]);
          this.lossCount++;
        }
        break;
      }
      case 'regression': {
        const B = dims[0];
        for (let b = 0; b < B; b++) {
          const p = logits[b];
          this.preds.push(p);
          this.targets.push(y[b]);
          this.lossSum += (p - y[b]) ** 2;
          this.lossCount++;
        }
        break;
      }
      case 'token-classification':
      case 'causal-lm': {
        const [B, T, C] = [dims[0], dims[1], dims[2]];
        const shift = this.task === 'causal-lm' ? 1 : 0;
        for (let b = 0; b < B; b++) {
          for (let t = 0; t + shift < T; t++) {
            const label = y[b * T + t + shift];
            if (label === IGNORE) continue;
            const off = (b * T + t) * C;
            this.preds.push(argmax(logits, off, C));
            this.targets.push(label);
            this.lossSum -= logSoftmaxAt(logits, off, C, label);
            this.lossCount++;
          }
        }
        break;
      }
    }
  }

  /**
   * Adds one batch of a per-token task from the chunked eval head (train/chunkedLoss.ts): the
   * arg-max prediction and the log-probability of the target at each position [B, T], so the
   * [B, T, vocab] logits never exist. Same positions and shift as `add`.
   */
  addTokenScores(predictions: ArrayLike<bigint | number>, labelLogp: ArrayLike<number>, dims: readonly number[], labels: ArrayLike<number | bigint>): void {
    if (this.task !== 'causal-lm' && this.task !== 'token-classification') throw new Error(`EvalAccumulator: per-token scores for task ${this.task}`);
    const y = toNumbers(labels);
    const [B, T] = [dims[0], dims[1]];
    const shift = this.task === 'causal-lm' ? 1 : 0;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t + shift < T; t++) {
        const label = y[b * T + t + shift];
        if (label === IGNORE) continue;
        this.preds.push(Number(predictions[b * T + t]));
        this.targets.push(label);
        this.lossSum -= labelLogp[b * T + t];
        this.lossCount++;
      }
    }
  }

  get count(): number {
    return this.lossCount;
  }

  result(): Metrics {
    const loss = this.lossCount ? this.lossSum / this.lossCount : NaN;
    switch (this.task) {
      case 'sequence-classification':
      case 'token-classification':
        return { loss, accuracy: accuracy(this.preds, this.targets), f1: macroF1(this.preds, this.targets) };
      case 'regression':
        return { loss, mse: loss, pearson: pearson(this.preds, this.targets) };
      case 'causal-lm':
        return { loss, perplexity: Math.exp(loss), accuracy: accuracy(this.preds, this.targets) };
    }
  }
}

/** The metric shown as "the" eval result (before/after comparisons, progress lines). */
export function headlineMetric(task: TaskType): { name: string; higherIsBetter: boolean } {
  switch (task) {
    case 'sequence-classification':
    case 'token-classification': return { name: 'accuracy', higherIsBetter: true };
    case 'regression': return { name: 'mse', higherIsBetter: false };
    case 'causal-lm': return { name: 'perplexity', higherIsBetter: false };
  }
}
