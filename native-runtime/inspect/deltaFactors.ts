// The weight update ΔW_l = scale · A_l · B_l of every adapted layer, as two thin factors (never the
// d_in × d_out product unless a caller asks for it). For Lily, A_l is the layer's shared A and
// B_l = B_mix(l) = Σ_e p_l[e] · B_e with p_l the router's mean probabilities over a reference set
// (LILY.md: ΔW depends on the data only through p); for LoRA it is (alpha / r) · A_l · B_l.
// Spectra (spectrum.ts) and the merged export (merge.ts) both start from these factors.
import { layerTensorNames, type AdapterWeights, type NamedTensor } from '../io/adapterWeights';
import type { TargetInfo } from '../runFiles';
import { mat, type Mat } from './linalg';

/** Mean router probabilities per adapted Lily layer (module path -> [num_B]). */
export type Mixtures = Map<string, number[]>;

export interface LayerDelta {
  module: string;
  target: TargetInfo;
  index: number;
  a_group: number;
  /** [d_in, r] */
  A: Mat;
  /** [r, d_out] */
  B: Mat;
  scale: number;
  /** Lily: the mixture used for B (uniform when the layer had none). */
  mixture?: number[];
}

function tensor(w: AdapterWeights, name: string): NamedTensor {
  const t = w.tensors.get(name);
  if (!t) throw new Error(`adapter weights: tensor "${name}" is missing; the adapter does not match its sharing structure`);
  return t;
}

/** Uniform mixture 1/num_B (the "monoscale" fixed routing). */
export function uniformMixture(numB: number): number[] {
  return Array.from({ length: numB }, () => 1 / numB);
}

/** Σ_e p[e] · B_e for a pool stored [num_B, r, d_out]. */
export function mixExperts(pool: NamedTensor, p: number[]): Mat {
  const [numB, r, dOut] = pool.dims;
  if (p.length !== numB) throw new Error(`mixture has ${p.length} probabilities but the B pool has ${numB} experts`);
  const out = mat(r, dOut);
  const size = r * dOut;
  for (let e = 0; e < numB; e++) {
    const pe = p[e];
    if (pe === 0) continue;
    const off = e * size;
    for (let k = 0; k < size; k++) out.data[k] += pe * pool.data[off + k];
  }
  return out;
}

/**
 * The factors of every adapted layer, target by target in model order. A Lily layer without an
 * entry in `mixtures` gets the uniform mixture (and `mixture` says so by being uniform).
 */
export function layerDeltas(w: AdapterWeights, mixtures?: Mixtures): LayerDelta[] {
  const s = w.settings;
  const out: LayerDelta[] = [];
  for (const t of w.targets) {
    const names = layerTensorNames(s.method, t);
    t.layers.forEach((l, i) => {
      const n = names[i];
      const a = tensor(w, n.A);
      const A = mat(t.d_in, s.r, a.data);
      if (s.method === 'lily') {
        const pool = tensor(w, n.B);
        const p = mixtures?.get(l.module) ?? uniformMixture(s.num_B);
        out.push({ module: l.module, target: t, index: l.index, a_group: l.a_group, A, B: mixExperts(pool, p), scale: s.scaling, mixture: p });
      } else {
        const b = tensor(w, n.B);
        out.push({ module: l.module, target: t, index: l.index, a_group: l.a_group, A, B: mat(s.r, t.d_out, b.data), scale: s.lora_alpha / s.r });
      }
    });
  }
  return out;
}

/** The explicit ΔW = scale · A · B as [d_in, d_out] float64 (for merging into a base weight). */
export function explicitDelta(d: LayerDelta): Float64Array {
  const { A, B, scale } = d;
  const m = A.rows, r = A.cols, n = B.cols;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < r; k++) {
      const a = scale * A.data[i * r + k];
      if (a === 0) continue;
      const bo = k * n;
      const oo = i * n;
      for (let j = 0; j < n; j++) out[oo + j] += a * B.data[bo + j];
    }
  }
  return out;
}
