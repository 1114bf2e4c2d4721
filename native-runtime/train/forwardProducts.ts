// The forward products of a training step: the MatMul nodes that read a frozen weight as their
// right operand (x·W, the export's layout of a linear layer's weight). runtime.pack_weights
// "forward" keeps just these weights packed in the train session (stepRunner.ts): the input
// gradients read the same weights transposed (Gemm transB), which would be a second packed form.
import type { Graph, Node } from '../onnx/ir';

/** For each 2-D float32 initializer of at least `minElements` read as a MatMul's B: those nodes. */
export function forwardProducts(g: Graph, minElements: number): Map<string, Set<Node>> {
  const out = new Map<string, Set<Node>>();
  for (const n of g.nodes) {
    if (n.opType !== 'MatMul' || n.domain !== '') continue;
    const w = g.initializers.get(n.inputs[1]);
    if (!w || w.dims.length !== 2 || w.dtype !== 'float32' || !(w.data instanceof Float32Array) || w.data.length < minElements) continue;
    let readers = out.get(w.name);
    if (!readers) out.set(w.name, (readers = new Set()));
    readers.add(n);
  }
  return out;
}
