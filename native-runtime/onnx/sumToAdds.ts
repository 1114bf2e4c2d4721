// Sum(a, b, c, ...) rewritten as Add(Add(a, b), c) ... . onnxruntime's CPU Sum accumulates its
// inputs one pair at a time on a single thread, where Add splits its work over the intra-op
// threads; the autodiff's fan-out accumulation (walker.ts) emits many Sums of 2 to 5
// activation-sized gradients. The chain adds in the order Sum does (output = in0 + in1, then
// += in2, ...), so every value is the same to the bit, and onnxruntime may run each Add in place
// of its first input (no extra buffer is live at a time).
import type { Graph, Node } from './ir';
import { findValueInfo, GraphBuilder } from './ir';
import { broadcastDims } from './shapeData';

/** A value's shape when every dimension is a known number. */
function knownShape(graph: Graph, name: string): number[] | undefined {
  const s = findValueInfo(graph, name)?.shape;
  return s && s.every((d): d is number => typeof d === 'number') ? s : undefined;
}

/**
 * Replaces, in place, each default-domain Sum of two or more inputs by a left-to-right chain of
 * Adds ending in the Sum's output name (readers untouched). The partial sums get valueInfo
 * where the inputs' shapes are known. Subgraphs are left alone. Returns how many Sums changed.
 */
export function sumsToAdds(graph: Graph): number {
  const b = new GraphBuilder(graph);
  const out: Node[] = [];
  let changed = 0;
  for (const n of graph.nodes) {
    if (n.opType !== 'Sum' || (n.domain !== '' && n.domain !== 'ai.onnx') || n.inputs.length < 2) {
      out.push(n);
      continue;
    }
    const dtype = graph.valueInfo.get(n.outputs[0])?.dtype;
    let acc = n.inputs[0];
    let accShape = knownShape(graph, acc);
    for (let k = 1; k < n.inputs.length; k++) {
      const last = k === n.inputs.length - 1;
      const result = last ? n.outputs[0] : b.fresh(`${n.outputs[0]}/partial${k}`);
      out.push({ name: b.fresh(`${n.name}/add${k}`), opType: 'Add', domain: '', inputs: [acc, n.inputs[k]], outputs: [result], attrs: {} });
      const next = knownShape(graph, n.inputs[k]);
      accShape = accShape && next ? broadcastDims([accShape, next]) : undefined;
      if (!last && dtype && accShape) graph.valueInfo.set(result, { name: result, dtype, shape: accShape });
      acc = result;
    }
    changed++;
  }
  graph.nodes = out;
  return changed;
}
