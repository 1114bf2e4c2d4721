// spectrum.json: per adapted layer, the singular values of ΔW_l and its rank measures, next to the
// rank bound r and the LoRA rank that the same trainable-parameter count would buy (budget.ts).
// For Lily also the cosine similarity between the B experts of each target (are the experts
// still distinct, or did they collapse?) and, through `a_group`, which layers share an A.
import { lilyTargetParamCount, loraRankAtBudget, loraTargetParamCount, type BudgetTarget } from '../adapters/budget';
import type { AdapterWeights } from '../io/adapterWeights';
import type { LayerSpectrum, SpectrumReport } from '../runFiles';
import { layerDeltas, type Mixtures } from './deltaFactors';
import { cosineSimilarity, lowRankProductSingularValues, rankMeasures } from './linalg';

export interface SpectrumOptions {
  step: number;
  /** What the Lily mixtures were computed on (e.g. the eval file), or why they are uniform. */
  reference?: string;
}

/** Cosine similarity between the flattened B experts of a pool stored [num_B, r, d_out]. */
export function expertSimilarity(pool: { dims: number[]; data: Float32Array }): number[][] {
  const [numB, r, dOut] = pool.dims;
  const size = r * dOut;
  return cosineSimilarity(Array.from({ length: numB }, (_, e) => pool.data.subarray(e * size, (e + 1) * size)));
}

export function computeSpectrum(w: AdapterWeights, mixtures: Mixtures | undefined, opts: SpectrumOptions): SpectrumReport {
  const s = w.settings;
  const deltas = layerDeltas(w, mixtures);
  const targets: SpectrumReport['targets'] = w.targets.map((t) => {
    const shape: BudgetTarget = { layers: t.layers.length, d_in: t.d_in, d_out: t.d_out };
    const trainable = s.method === 'lily' ? lilyTargetParamCount(shape, s) : loraTargetParamCount(shape, s.r);
    const layers = deltas.filter((d) => d.target === t).map((d) => {
      const sv = lowRankProductSingularValues(d.A, d.B, d.scale);
      const layer: LayerSpectrum & { index: number } = {
        module: d.module,
        index: d.index,
        a_group: d.a_group,
        singular_values: sv,
        ...rankMeasures(sv, { m: t.d_in, n: t.d_out }),
        ...(d.mixture ? { mixture: d.mixture } : {}),
      };
      return layer;
    });
    const pool = s.method === 'lily' ? w.tensors.get(`${t.layers[0].module}.lily_B`) : undefined;
    return {
      target: t.target,
      d_in: t.d_in,
      d_out: t.d_out,
      r: s.r,
      lora_rank_at_budget: loraRankAtBudget([shape], trainable),
      trainable_params: trainable,
      layers,
      ...(pool ? { expert_similarity: expertSimilarity(pool) } : {}),
    };
  });
  return { step: opts.step, method: s.method, ...(opts.reference !== undefined ? { reference: opts.reference } : {}), targets };
}
