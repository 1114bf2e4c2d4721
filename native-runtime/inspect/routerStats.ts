// router_stats.json: how each Lily layer's router spreads over the B experts on a reference set
// (the eval set by default). Fed with per-row router probabilities p_tok ([rows, num_B] per layer,
// one row per token for layers on [batch, tokens, d] inputs, one per sample for pooled ones).
//
// Which rows count: the rows the model's own mixture averages over. `batch` routing averages over
// every row, padding included (the reference behaviour), so padding rows count here too; `masked`
// and `token` routing average over non-padding rows of token-level layers, so only those count.
// Everything below is a weighted mean over the counted rows of the whole reference set:
//   mean          Σ w·p_tok / Σ w              (the p that freezes ΔW for spectra and merging)
//   entropy       H(mean), in nats
//   token_entropy Σ w·H(p_tok) / Σ w           (how decisive routing is per token)
//   per_class     `mean` restricted to rows of samples (or, for token classification, tokens)
//                 with that label; the overall mean is the row-weighted average of these.
import type { RouterStats, TargetInfo } from '../runFiles';
import type { Mixtures } from './deltaFactors';

export interface RouterBatch {
  /** Samples in the batch. */
  size: number;
  /** Per layer: p_tok as [rows, num_B] (rows a multiple of `size`). */
  tokenProbs: Map<string, Float32Array>;
  /** attention_mask [size, tokens], when the model has one. */
  mask?: ArrayLike<number | bigint>;
  /** Class ids: [size] (sequence classification) or [size, tokens] (token classification, -100 = ignore). */
  labels?: ArrayLike<number | bigint>;
  /** Token strings of the batch's first sample (when the data pipeline tokenized it). */
  firstTokens?: string[];
  /** input_ids [size, tokens], to label the example's tokens when no strings are known. */
  inputIds?: ArrayLike<number | bigint>;
}

export interface RouterStatsOptions {
  numB: number;
  routing: 'batch' | 'masked' | 'token';
  /** Class names by id (classification); ids are used as names without them. */
  labelNames?: string[];
  /** Per-class means: by sample label, by token label, or none. */
  classes?: 'sample' | 'token' | 'none';
  /** Index (in reference order) of the input whose per-token probabilities are kept (default 0). */
  exampleIndex?: number;
}

interface LayerSums {
  p: Float64Array;
  w: number;
  tokenEntropy: number;
  perClass: Map<number, { p: Float64Array; w: number }>;
  example?: number[][];
}

export function entropy(p: ArrayLike<number>): number {
  let h = 0;
  for (let i = 0; i < p.length; i++) if (p[i] > 0) h -= p[i] * Math.log(p[i]);
  return h;
}

const IGNORE = -100;

export class RouterStatsAccumulator {
  private readonly sums = new Map<string, LayerSums>();
  private samples = 0;
  private exampleTokens?: string[];

  constructor(readonly targets: TargetInfo[], readonly opts: RouterStatsOptions) {
    for (const t of targets) {
      for (const l of t.layers) this.sums.set(l.module, { p: new Float64Array(opts.numB), w: 0, tokenEntropy: 0, perClass: new Map() });
    }
  }

  get sampleCount(): number {
    return this.samples;
  }

  add(batch: RouterBatch): void {
    const nB = this.opts.numB;
    const B = batch.size;
    const maskLen = batch.mask ? batch.mask.length / B : 0;
    const exampleIndex = this.opts.exampleIndex ?? 0;
    const exampleHere = exampleIndex >= this.samples && exampleIndex < this.samples + B ? exampleIndex - this.samples : -1;
    const labelLen = batch.labels ? batch.labels.length / B : 0;
    for (const [module, sums] of this.sums) {
      const probs = batch.tokenProbs.get(module);
      if (!probs) throw new Error(`router statistics: no per-token router probabilities for layer ${module}; the inspection graph must expose them`);
      const rows = probs.length / nB;
      if (!Number.isInteger(rows) || rows % B !== 0) throw new Error(`router statistics: layer ${module} has ${probs.length} probabilities, not [k·${B}, ${nB}]`);
      const perSample = rows / B;
      const tokenLevel = perSample > 1 && perSample === maskLen;
      const useMask = this.opts.routing !== 'batch' && !!batch.mask && tokenLevel;
      const exampleRows: number[][] = [];
      for (let row = 0; row < rows; row++) {
        const sample = Math.floor(row / perSample);
        const w = useMask ? Number(batch.mask![row]) : 1;
        const off = row * nB;
        if (sample === exampleHere) {
          // The example keeps its real tokens only (padding rows dropped when a mask says which).
          const real = !batch.mask || !tokenLevel || Number(batch.mask[row]) !== 0;
          if (real) exampleRows.push(Array.from(probs.subarray(off, off + nB)));
        }
        if (w === 0) continue;
        let h = 0;
        for (let e = 0; e < nB; e++) {
          const v = probs[off + e];
          sums.p[e] += w * v;
          if (v > 0) h -= v * Math.log(v);
        }
        sums.w += w;
        sums.tokenEntropy += w * h;
        const cls = this.classOf(batch, sample, row, perSample, labelLen);
        if (cls !== undefined) {
          let c = sums.perClass.get(cls);
          if (!c) sums.perClass.set(cls, (c = { p: new Float64Array(nB), w: 0 }));
          for (let e = 0; e < nB; e++) c.p[e] += w * probs[off + e];
          c.w += w;
        }
      }
      if (exampleHere >= 0) sums.example = exampleRows;
    }
    if (exampleHere >= 0) this.exampleTokens = this.tokensOf(batch, exampleHere);
    this.samples += B;
  }

  /** The mean router probabilities per layer: what freezes ΔW for spectra and the merged export. */
  mixtures(): Mixtures {
    const out: Mixtures = new Map();
    for (const [module, s] of this.sums) if (s.w > 0) out.set(module, Array.from(s.p, (v) => v / s.w));
    return out;
  }

  result(step: number, reference: string): RouterStats {
    const names = this.opts.labelNames;
    return {
      step,
      reference,
      samples: this.samples,
      targets: this.targets.map((t) => {
        const probs = t.layers.every((l) => this.sums.get(l.module)!.example) ? t.layers.map((l) => this.sums.get(l.module)!.example!) : undefined;
        // Inputs without token ids (e.g. image patches) get position labels.
        const rows = probs ? Math.max(...probs.map((p) => p.length)) : 0;
        const tokens = this.exampleTokens?.length ? this.exampleTokens : Array.from({ length: rows }, (_, k) => `@${k}`);
        const example = probs ? { tokens, probs } : undefined;
        return {
          ...t,
          num_B: this.opts.numB,
          per_layer: t.layers.map((l) => {
            const s = this.sums.get(l.module)!;
            const mean = s.w > 0 ? Array.from(s.p, (v) => v / s.w) : [];
            const perClass = [...s.perClass].sort((a, b) => a[0] - b[0]);
            return {
              module: l.module,
              mean,
              entropy: entropy(mean),
              token_entropy: s.w > 0 ? s.tokenEntropy / s.w : 0,
              ...(perClass.length ? { per_class: Object.fromEntries(perClass.map(([c, v]) => [names?.[c] ?? String(c), Array.from(v.p, (x) => x / v.w)])) } : {}),
            };
          }),
          ...(example ? { example } : {}),
        };
      }),
    };
  }

  private classOf(batch: RouterBatch, sample: number, row: number, perSample: number, labelLen: number): number | undefined {
    if (!batch.labels || this.opts.classes === 'none' || this.opts.classes === undefined) return undefined;
    let v: number;
    if (this.opts.classes === 'sample') v = Number(batch.labels[sample]);
    else if (perSample === labelLen) v = Number(batch.labels[row]); // token labels line up with token rows
    else return undefined;
    return v === IGNORE || !Number.isInteger(v) || v < 0 ? undefined : v;
  }

  private tokensOf(batch: RouterBatch, sample: number): string[] {
    if (sample === 0 && batch.firstTokens) return batch.firstTokens;
    const B = batch.size;
    if (batch.inputIds) {
      const T = batch.inputIds.length / B;
      const out: string[] = [];
      for (let t = 0; t < T; t++) {
        if (batch.mask && batch.mask.length === batch.inputIds.length && Number(batch.mask[sample * T + t]) === 0) continue;
        out.push(`#${Number(batch.inputIds[sample * T + t])}`);
      }
      return out;
    }
    return [];
  }
}
