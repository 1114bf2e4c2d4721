// Test helpers: run an IR model in onnxruntime-node and move data in and out as plain arrays.
import * as ort from 'onnxruntime-node';
import type { DataType, Model } from '../../../native-runtime/onnx/ir';
import { modelToBytes } from '../../../native-runtime/onnx/proto';
import { mulberry32 } from '../../../native-runtime/adapters/init';

export async function session(model: Model): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(modelToBytes(model), { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1, logSeverityLevel: 3 });
}

export function tensor(dtype: DataType, data: ArrayLike<number>, dims: number[]): ort.Tensor {
  switch (dtype) {
    case 'float32': return new ort.Tensor('float32', Float32Array.from(data), dims);
    case 'float64': return new ort.Tensor('float64', Float64Array.from(data), dims);
    case 'int64': return new ort.Tensor('int64', BigInt64Array.from(Array.from(data, (v) => BigInt(v))), dims);
    case 'int32': return new ort.Tensor('int32', Int32Array.from(data), dims);
    case 'bool': return new ort.Tensor('bool', Uint8Array.from(data), dims);
    default: throw new Error(`test helper: no tensor constructor for ${dtype}`);
  }
}

export function toNumbers(t: ort.Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

export async function runModel(model: Model, feeds: Record<string, ort.Tensor>, outputs?: string[]): Promise<Record<string, ort.Tensor>> {
  const s = await session(model);
  try {
    return await s.run(feeds, outputs ?? model.graph.outputs.map((o) => o.name));
  } finally {
    await s.release();
  }
}

/** A small deterministic PRNG so tests are reproducible (the adapters' own mulberry32). */
export const rng = mulberry32;

export function randomArray(n: number, r: () => number, lo = -1, hi = 1): number[] {
  return Array.from({ length: n }, () => lo + (hi - lo) * r());
}
