// Shape inference in JS for a model whose inputs have concrete shapes: every value's dtype and
// shape, and the values of small integer tensors (the shape arithmetic exports are full of),
// node by node with the rules of shapeRules.ts. Specialisation uses it to avoid running the
// model: probing a 768-wide, 12-layer encoder in onnxruntime took minutes on 2 cores; this takes
// milliseconds. Values it cannot work out are simply absent; the caller probes those in ORT.
import type { DataType, Model, TensorData, ValueInfo } from './ir';
import { defaultOpset, tensorSize } from './ir';
import { RuleInput, SHAPE_RULES, type Known } from './shapeRules';

export interface InferredValue {
  dtype: DataType;
  dims: number[];
  /** Row-major values, for integer/bool tensors of at most `maxDataElements` elements. */
  data?: TensorData;
}

/** Integer types whose values are tracked (what shape arithmetic uses). */
const TRACKED = new Set<DataType>(['int64', 'int32', 'bool']);

function toBigints(dtype: DataType, data: TensorData): bigint[] | undefined {
  if (!TRACKED.has(dtype)) return undefined;
  return Array.from(data as ArrayLike<number | bigint>, (v) => (typeof v === 'bigint' ? v : BigInt(v)));
}

function toTensorData(dtype: DataType, data: bigint[]): TensorData {
  if (dtype === 'int64') return BigInt64Array.from(data);
  if (dtype === 'int32') return Int32Array.from(data, Number);
  return Uint8Array.from(data, (v) => (v !== 0n ? 1 : 0));
}

/**
 * Infers every node output of `model` it can. Graph inputs must have concrete shapes (those
 * with symbolic dims are treated as unknown). Nodes of other domains, with subgraphs, or
 * without a rule yield unknown outputs, as does anything computed from an unknown value.
 * `known`: values whose dtype and shape are already known (a graph's valueInfo, an outer
 * graph's values read by a subgraph), taken as given where no rule says otherwise.
 */
export function inferShapes(model: Model, opts: { maxDataElements?: number; known?: Iterable<ValueInfo> } = {}): Map<string, InferredValue> {
  const maxData = opts.maxDataElements ?? 1 << 16;
  const g = model.graph;
  const opset = defaultOpset(model);
  const known = new Map<string, Known>();
  for (const v of opts.known ?? []) {
    if (v.shape && v.shape.every((d) => typeof d === 'number')) known.set(v.name, { dtype: v.dtype, dims: v.shape as number[] });
  }
  for (const inp of g.inputs) {
    if (inp.shape && inp.shape.every((d) => typeof d === 'number')) known.set(inp.name, { dtype: inp.dtype, dims: inp.shape as number[] });
  }
  for (const [name, t] of g.initializers) {
    const small = tensorSize(t.dims) <= maxData;
    known.set(name, { dtype: t.dtype, dims: [...t.dims], data: small ? toBigints(t.dtype, t.data) : undefined });
  }
  const out = new Map<string, InferredValue>();
  for (const n of g.nodes) {
    const rule = n.domain === '' || n.domain === 'ai.onnx' ? SHAPE_RULES[n.opType] : undefined;
    if (!rule) continue;
    const ins = n.inputs.map((i) => (i === '' ? undefined : known.get(i)));
    if (n.inputs.some((i, k) => i !== '' && !ins[k])) continue;
    let results: (Known | undefined)[] | undefined;
    try {
      results = rule(new RuleInput(n, ins, opset));
    } catch {
      // A malformed node (wrong attribute kind, rank mismatch): let onnxruntime report it.
      results = undefined;
    }
    if (!results) continue;
    n.outputs.forEach((o, k) => {
      const r = results![k];
      if (!o || !r || r.dims.some((d) => !Number.isInteger(d) || d < 0)) return;
      const keepData = r.data && TRACKED.has(r.dtype) && r.data.length === tensorSize(r.dims) && r.data.length <= maxData;
      const v: Known = { dtype: r.dtype, dims: r.dims, data: keepData ? r.data : undefined };
      known.set(o, v);
      out.set(o, { dtype: v.dtype, dims: v.dims, data: v.data ? toTensorData(v.dtype, v.data) : undefined });
    });
  }
  return out;
}
