// Finds each value's dtype, concrete shape and (when asked) its data for specialisation: first
// by shape inference in JS (shapeInference.ts), then, for whatever that cannot tell (an op
// without a rule, a shape computed from float data), by running the needed part of the model
// once in onnxruntime on dummy inputs with those values exposed as graph outputs: ORT knows
// every op, so it stays the authority, and JS only saves it the work of running the model.
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import type { DataType, Graph, Model, Node, Tensor, TensorData } from './ir';
import { tensorSize } from './ir';
import { removeDeadCode } from './foldDeadCode';
import { bytesPerElement, modelToProto } from './proto';
import { inferShapes, type InferredValue } from './shapeInference';

export interface ProbedValue {
  dtype: DataType;
  dims: number[];
  data: TensorData;
}

const ORT_TO_DTYPE: Record<string, DataType> = {
  float32: 'float32', float64: 'float64', float16: 'float16', bfloat16: 'bfloat16',
  int64: 'int64', int32: 'int32', int16: 'int16', int8: 'int8',
  uint64: 'uint64', uint32: 'uint32', uint16: 'uint16', uint8: 'uint8',
  bool: 'bool', string: 'string',
};

export function dtypeFromOrt(type: string, what: string): DataType {
  const d = ORT_TO_DTYPE[type];
  if (!d) throw new Error(`${what}: onnxruntime returned a tensor of unsupported type ${type}`);
  return d;
}

/** An all-zero (or empty-string) ORT tensor: zeros are valid indices for every Gather. */
export function zeroOrtTensor(dtype: DataType, dims: number[]): ort.Tensor {
  const n = tensorSize(dims);
  switch (dtype) {
    case 'float32': return new ort.Tensor('float32', new Float32Array(n), dims);
    case 'float64': return new ort.Tensor('float64', new Float64Array(n), dims);
    case 'float16': return new ort.Tensor('float16', new Uint16Array(n), dims);
    case 'int64': return new ort.Tensor('int64', new BigInt64Array(n), dims);
    case 'uint64': return new ort.Tensor('uint64', new BigUint64Array(n), dims);
    case 'int32': return new ort.Tensor('int32', new Int32Array(n), dims);
    case 'uint32': return new ort.Tensor('uint32', new Uint32Array(n), dims);
    case 'int16': return new ort.Tensor('int16', new Int16Array(n), dims);
    case 'uint16': return new ort.Tensor('uint16', new Uint16Array(n), dims);
    case 'int8': return new ort.Tensor('int8', new Int8Array(n), dims);
    case 'uint8': return new ort.Tensor('uint8', new Uint8Array(n), dims);
    case 'bool': return new ort.Tensor('bool', new Uint8Array(n), dims);
    case 'string': return new ort.Tensor('string', Array.from({ length: n }, () => ''), dims);
    default: throw new Error(`no dummy input for dtype ${dtype}`);
  }
}

/** Copies ORT output data into an IR-compatible typed array (bool as Uint8Array). */
export function ortDataToTensorData(t: ort.Tensor): TensorData {
  const d = t.data as unknown;
  if (Array.isArray(d)) return [...(d as string[])];
  if (t.type === 'bool') return Uint8Array.from(d as ArrayLike<number>);
  const ta = d as Float32Array;
  return ta.slice() as unknown as TensorData;
}

export function ortTensorToIr(name: string, t: ort.Tensor): Tensor {
  return { name, dtype: dtypeFromOrt(t.type, name), dims: [...t.dims], data: ortDataToTensorData(t) };
}

/**
 * The dtype, concrete shape and (where `keepData(name, dtype, dims)` says so) the data of every
 * requested value; input shapes must be concrete. Shape inference in JS (shapeInference.ts)
 * answers almost everything without running the model; what it cannot work out is computed by
 * onnxruntime on the smallest sub-model that yields it (Shape/Size of values with known shapes
 * and every value known in JS become constants, so the big layers are cut away).
 */
export async function probeValues(
  model: Model,
  names: string[],
  keepData: (name: string, dtype: DataType, dims: number[]) => boolean,
  budgetBytes = 256 * 1024 * 1024,
): Promise<Map<string, ProbedValue>> {
  const inferred = inferShapes(model);
  const out = new Map<string, ProbedValue>();
  const rest: string[] = [];
  for (const n of names) {
    const v = inferred.get(n);
    if (!v) rest.push(n);
    else if (!keepData(n, v.dtype, v.dims)) out.set(n, { dtype: v.dtype, dims: v.dims, data: new Float32Array(0) });
    else if (v.data) out.set(n, { dtype: v.dtype, dims: v.dims, data: v.data });
    else rest.push(n);
  }
  if (rest.length === 0) return out;
  const probed = await probeValuesInOrt(pruneForProbe(model, rest, inferred), rest, keepData, budgetBytes);
  for (const [k, v] of probed) out.set(k, v);
  return out;
}

/**
 * A copy of `model` that computes just `wanted`: values known in JS (with data) become
 * initializers, Shape/Size of values whose shape is known become constants, and every node
 * that `wanted` does not depend on is dropped.
 */
function pruneForProbe(model: Model, wanted: string[], inferred: Map<string, InferredValue>): Model {
  const g = model.graph;
  const want = new Set(wanted);
  const initializers = new Map(g.initializers);
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    const outs = n.outputs.filter((o) => o);
    const constant = outs.length > 0 && outs.every((o) => inferred.get(o)?.data && !want.has(o));
    if (!constant) {
      nodes.push(n);
      continue;
    }
    for (const o of outs) {
      const v = inferred.get(o)!;
      initializers.set(o, { name: o, dtype: v.dtype, dims: [...v.dims], data: v.data! });
    }
  }
  const graph: Graph = { ...g, nodes, initializers, outputs: [], valueInfo: new Map() };
  removeDeadCode(graph, wanted);
  // Frozen weights whose float32 values were released (model.weights_dtype: quant/forConfig.ts)
  // are fed as zero inputs: shapes never depend on a linear layer's weight values.
  for (const [name, t] of graph.initializers) {
    if (t.data.length > 0 || tensorSize(t.dims) === 0) continue;
    graph.initializers.delete(name);
    graph.inputs = [...graph.inputs, { name, dtype: t.dtype, shape: [...t.dims] }];
  }
  return { ...model, graph };
}

/**
 * Runs `model` on zero inputs (input shapes must be concrete; `feed` may give others) and
 * returns every requested value. `keepData(name, dtype, dims)` decides whose data is copied (others get empty data).
 */
export async function probeValuesInOrt(
  model: Model,
  names: string[],
  keepData: (name: string, dtype: DataType, dims: number[]) => boolean,
  budgetBytes = 256 * 1024 * 1024,
  feed: (name: string, dtype: DataType, dims: number[]) => ort.Tensor | undefined = () => undefined,
): Promise<Map<string, ProbedValue>> {
  const proto = modelToProto(model);
  const graph = proto.graph!;
  graph.output = graph.output ?? [];
  const already = new Set(graph.output.map((o) => o.name));
  const inputNames = new Set(model.graph.inputs.map((i) => i.name));
  // Outputs without a type are allowed: ORT infers their type from the producing node.
  for (const n of names) {
    if (!already.has(n) && !inputNames.has(n)) {
      graph.output.push(onnx.ValueInfoProto.create({ name: n }));
      already.add(n);
    }
  }
  const bytes = onnx.ModelProto.encode(proto).finish();
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      // Disabled: every value is fetched anyway, and fusions must not change what is probed.
      graphOptimizationLevel: 'disabled',
      logSeverityLevel: 3,
    });
  } catch (e) {
    throw new Error(`specialize: onnxruntime could not load the model for shape probing: ${(e as Error).message}`);
  }
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const inp of model.graph.inputs) {
      const dims = (inp.shape ?? []).map((d) => {
        if (typeof d !== 'number') throw new Error(`specialize: input ${inp.name} still has dynamic dim ${d}`);
        return d;
      });
      feeds[inp.name] = feed(inp.name, inp.dtype, dims) ?? zeroOrtTensor(inp.dtype, dims);
    }
    const wanted = names.filter((n) => !inputNames.has(n));
    // Fetch in chunks so that a large model's intermediates never all sit in memory at
    // once: each run returns at most about `budgetBytes`, judged by the largest value so far.
    const out = new Map<string, ProbedValue>();
    let largest = 0;
    for (let at = 0; at < wanted.length;) {
      const chunkLen = largest === 0 ? Math.min(16, wanted.length - at) : Math.max(1, Math.min(wanted.length - at, Math.floor(budgetBytes / largest)));
      const chunk = wanted.slice(at, at + chunkLen);
      at += chunkLen;
      let results: ort.InferenceSession.OnnxValueMapType;
      try {
        results = await session.run(feeds, chunk);
      } catch (e) {
        throw new Error(`specialize: probing run of the model on zero inputs failed: ${(e as Error).message}`);
      }
      for (const n of chunk) {
        const t = results[n] as ort.Tensor | undefined;
        if (!t) throw new Error(`specialize: onnxruntime did not return value ${n}`);
        const dtype = dtypeFromOrt(t.type, n);
        const dims = [...t.dims];
        largest = Math.max(largest, tensorSize(dims) * Math.max(bytesPerElement(dtype), 1));
        out.set(n, { dtype, dims, data: keepData(n, dtype, dims) ? ortDataToTensorData(t) : new Float32Array(0) });
        t.dispose?.();
      }
    }
    return out;
  } finally {
    await session.release();
  }
}
