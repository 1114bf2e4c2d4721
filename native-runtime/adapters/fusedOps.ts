// Linear weights hidden inside fused ops. ONNX Runtime's transformer optimizer (and exports made
// with `optimum-cli ... --optimize`) replace MatMul/Add/Softmax patterns with com.microsoft
// contrib ops: Attention holds the query, key and value projections as one [d, 3d] matrix,
// FusedMatMul/GemmFastGelu hold a linear weight. Adapters attach to plain MatMul/Gemm nodes, and
// those ops have no gradient rules, so the weights are out of reach: say so instead of listing
// fewer targets in silence.
import type { Model } from '../onnx/ir';
import type { HiddenWeight } from '../protocol';

/** Which input of a known fused op is a linear weight, and what it holds. */
const KNOWN: Record<string, Array<{ input: number; holds: string }>> = {
  Attention: [{ input: 1, holds: 'query, key and value projections in one matrix' }],
  QAttention: [{ input: 1, holds: 'query, key and value projections in one matrix (quantised)' }],
  DecoderAttention: [{ input: 1, holds: 'query projection' }, { input: 2, holds: 'key and value projections' }],
  FusedMatMul: [{ input: 1, holds: 'a linear weight' }],
  GemmFastGelu: [{ input: 1, holds: 'a linear weight (with the GELU after it)' }],
  MatMulNBits: [{ input: 1, holds: 'a linear weight (quantised)' }],
};
/** Fused ops whose 2-D inputs are lookup tables, not linear layers. */
const TABLES = new Set(['EmbedLayerNormalization']);

/** Weights (2-D initializers) that non-standard-domain ops consume, in model order. */
export function hiddenLinearWeights(model: Model): HiddenWeight[] {
  const g = model.graph;
  const out: HiddenWeight[] = [];
  for (const n of g.nodes) {
    if (n.domain === '' || n.domain === 'ai.onnx' || TABLES.has(n.opType)) continue;
    const known = KNOWN[n.opType];
    const picks = known
      ? known.filter((k) => g.initializers.has(n.inputs[k.input] ?? ''))
      : n.inputs.flatMap((name, input) => (g.initializers.get(name)?.dims.length === 2 ? [{ input, holds: 'a 2-D weight' }] : []));
    for (const p of picks) {
      const t = g.initializers.get(n.inputs[p.input])!;
      out.push({ node: n.name, op: `${n.domain}.${n.opType}`, weight: t.name, dims: [...t.dims], holds: p.holds });
    }
  }
  return out;
}

/** What to tell the user about hidden weights (empty when there are none). */
export function hiddenWeightsNote(hidden: HiddenWeight[]): string {
  if (hidden.length === 0) return '';
  const ops = [...new Set(hidden.map((h) => h.op))].join(', ');
  const list = hidden.slice(0, 6).map((h) => `${h.weight} [${h.dims.join('x')}] in ${h.node} (${h.op}: ${h.holds})`).join('; ');
  const more = hidden.length > 6 ? `; and ${hidden.length - 6} more` : '';
  return `${hidden.length} linear weight(s) are hidden inside fused ops (${ops}), which adapters cannot target: ${list}${more}. `
    + 'The file was optimized by ONNX Runtime (transformer optimizer or optimum --optimize); export the model again without that optimization '
    + '(torch.onnx.export, or optimum-cli export onnx without --optimize) to adapt them.';
}
