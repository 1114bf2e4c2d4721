// Looking up the dtype and concrete shape of any value of a specialised graph.
import type { DataType, Graph } from '../onnx/ir';
import { findValueInfo } from '../onnx/ir';

// (findValueInfo lives with the IR, where graph rewrites below autodiff use it too.)
export { findValueInfo };

export const FLOAT_DTYPES: ReadonlySet<DataType> = new Set<DataType>(['float32', 'float64', 'float16', 'bfloat16']);

export function valueDtype(graph: Graph, name: string): DataType {
  const vi = findValueInfo(graph, name);
  if (!vi) throw new Error(`autodiff: no type known for value ${name}; run specialize() on the model first so every value has valueInfo`);
  return vi.dtype;
}

export function valueShape(graph: Graph, name: string): number[] {
  const vi = findValueInfo(graph, name);
  if (!vi || !vi.shape) throw new Error(`autodiff: no shape known for value ${name}; run specialize() on the model first so every value has a concrete shape`);
  return vi.shape.map((d, k) => {
    if (typeof d !== 'number') throw new Error(`autodiff: value ${name} has symbolic dim ${k} (${d}); specialize() the model to concrete input shapes first`);
    return d;
  });
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, k) => d === b[k]);
}

/** Normalises a possibly negative axis against a rank. */
export function normAxis(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= Math.max(rank, 1)) throw new Error(`${what}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}
