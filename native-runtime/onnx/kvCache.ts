// Decoder exports with a KV cache (optimum's default `text-generation-with-past`, torch exports
// with use_cache=True) take the past keys/values as inputs: `past_key_values.N.key/value`
// [batch, heads, past_len, head_dim], or older `past_N` [2, batch, heads, past_len, head_dim],
// with an attention mask over past_len + seq. Training has no past: the inputs are bound to an
// empty past (past_len 0), computed in the graph from the batch size of the token input, so the
// data need not carry them and the mask covers just the sequence. What such a graph outputs for
// the cache (present.N.*) is dropped by the step (it keeps only the logits).
import type { Dim, Model, Tensor, ValueInfo } from './ir';
import { attr, GraphBuilder } from './ir';

/** Input names of a KV cache. */
const PAST = /^(past_key_values(\.\d+\.(key|value))?|past_\d+|past_key_\d+|past_value_\d+|past\.\d+\.(key|value))$/;
/** Dimension names of the past length and of the batch, as exporters write them. */
const PAST_DIM = /past/i;
const BATCH_DIM = /batch/i;

export function isPastInput(name: string): boolean {
  return PAST.test(name);
}

/** Thrown for exports the engine cannot train, with the export flag to use. */
export class CacheExportError extends Error {}

const REEXPORT = 'export the model without a KV cache: `optimum-cli export onnx --model MODEL --task text-generation OUT` '
  + '(not text-generation-with-past), or torch.onnx.export of the model with use_cache=False';

/**
 * Replaces every KV-cache input of `model` (in place) by an empty past built in the graph.
 * Returns the inputs it bound (none for a model without a cache).
 */
export function bindEmptyPast(model: Model): string[] {
  const g = model.graph;
  const past = g.inputs.filter((i) => isPastInput(i.name));
  const branch = g.inputs.find((i) => i.name === 'use_cache_branch');
  if (branch) {
    throw new CacheExportError(`the model has a use_cache_branch input (optimum's merged decoder: the graphs with and without the KV cache in one If node), which the engine cannot train; ${REEXPORT}`);
  }
  if (past.length === 0) return [];
  const tokens = g.inputs.find((i) => i.name === 'input_ids') ?? g.inputs.find((i) => !isPastInput(i.name) && i.dtype === 'int64');
  if (!tokens) throw new CacheExportError(`the model's KV-cache inputs (${past[0].name}, ...) need a token input (input_ids) to take the batch size from; ${REEXPORT}`);

  const b = new GraphBuilder(g);
  const appended = g.nodes.length;
  const batch = b.op1('Slice', [b.op1('Shape', [tokens.name], {}, 'kv_cache'), b.constInt64([0]), b.constInt64([1])], {}, 'kv_cache');
  for (const p of past) {
    const parts = (p.shape ?? []).map((d, k) => dimPart(b, p, d, k, batch));
    if (!p.shape || !parts.length) throw new CacheExportError(`KV-cache input ${p.name} has no known shape; ${REEXPORT}`);
    if (!p.shape.some((d) => typeof d === 'string' && PAST_DIM.test(d))) {
      throw new CacheExportError(`KV-cache input ${p.name} has no past-length dimension (shape ${JSON.stringify(p.shape)}); ${REEXPORT}`);
    }
    const shape = b.op1('Concat', parts, { axis: attr.i(0) }, 'kv_cache');
    const zero: Tensor = { name: 'zero', dtype: p.dtype, dims: [1], data: p.dtype === 'float32' ? new Float32Array(1) : p.dtype === 'float64' ? new Float64Array(1) : unsupported(p) };
    b.op('ConstantOfShape', [shape], { value: attr.t(zero) }, { outputs: [p.name], scope: 'kv_cache' });
  }
  // The new nodes read only graph inputs and constants: put them first, where consumers can see them.
  const added = g.nodes.splice(appended);
  g.nodes.unshift(...added);
  const bound = new Set(past.map((p) => p.name));
  g.inputs = g.inputs.filter((i) => !bound.has(i.name));
  return [...bound];
}

function dimPart(b: GraphBuilder, p: ValueInfo, d: Dim, k: number, batch: string): string {
  if (typeof d === 'number' && d >= 0) return b.constInt64([d]);
  if (typeof d === 'string' && PAST_DIM.test(d)) return b.constInt64([0]);
  if (typeof d === 'string' && BATCH_DIM.test(d)) return batch;
  throw new CacheExportError(`KV-cache input ${p.name}: cannot tell what dimension ${k} ("${d}") is (neither the batch nor the past length); ${REEXPORT}`);
}

function unsupported(p: ValueInfo): never {
  throw new CacheExportError(`KV-cache input ${p.name} is ${p.dtype}; only float32/float64 caches are supported; ${REEXPORT}`);
}
