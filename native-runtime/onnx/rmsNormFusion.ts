// RMSNorm's forward as one onnxruntime kernel. transformers exports y = w * (x * q) with
//   q = 1 / sqrt(mean(x^2, last axis) + eps)
// as seven nodes (x^2, ReduceMean, Add, Sqrt, Reciprocal or Div(1, .), two Muls): four passes
// over the [tokens, D] activation (five nodes with the export's same-type Cast of n). onnxruntime fuses them itself only where q has no other
// reader; in a training step the backward reads q (autodiff/composites.ts's RMSNorm rule), so
// the seven ran one by one. SimplifiedLayerNormalization (an onnxruntime operator in the default
// domain, implemented by its CPU, CUDA and WebGPU providers) computes y and, as its optional
// second output inv_std_var, q itself, in one kernel that reads x twice and writes y once.
import type { Graph, Node } from './ir';
import { attr, consumers, findValueInfo, isOnnxOp, producers, soleReader } from './ir';
import { nodeReads } from './foldDeadCode';
import { constantExponent } from './powers';

/** A one-element constant's value (epsilon, the 1 of Div(1, .)). */
const scalar = (graph: Graph, name: string) => constantExponent(graph.initializers.get(name));

/**
 * Replaces, in place, each float32 RMSNorm whose normalised value n = x * q has no reader but
 * y = n * w (w of shape [D], D = x's last dimension) by one SimplifiedLayerNormalization(x, w)
 * with outputs [y, q]: the names stay, so the readers of q (the backward pass) are untouched.
 * The square, mean, epsilon and square-root values must have no other reader. Subgraphs are
 * left alone. Returns how many norms changed.
 */
export function fuseRmsNorms(graph: Graph, opset: number): number {
  const users = consumers(graph);
  const made = producers(graph);
  const onlyReader = soleReader(graph, users);
  const sole = (v: string, op: string): Node | undefined => {
    const r = onlyReader(v);
    return isOnnxOp(r, op) ? r : undefined;
  };
  const shapeOf = (v: string) => findValueInfo(graph, v)?.shape;
  const dtypeOf = (v: string) => findValueInfo(graph, v)?.dtype;
  const position = new Map(graph.nodes.map((m, k) => [m, k]));
  const replaced = new Map<Node, Node>();
  const removed = new Set<Node>();
  for (const mean of graph.nodes) {
    if (!isOnnxOp(mean, 'ReduceMean')) continue;
    const square = made.get(mean.inputs[0]);
    if (!square || sole(square.outputs[0], 'ReduceMean') !== mean) continue;
    const x = square.inputs[0];
    const isSquare = (isOnnxOp(square, 'Pow') && constantExponent(graph.initializers.get(square.inputs[1])) === 2)
      || (isOnnxOp(square, 'Mul') && square.inputs[0] === square.inputs[1]);
    const xShape = shapeOf(x);
    if (!isSquare || dtypeOf(x) !== 'float32' || !xShape || xShape.length < 1) continue;
    const rank = xShape.length;
    const D = xShape[rank - 1];
    if (typeof D !== 'number') continue;
    // Mean over the last axis only, kept as a size-1 axis.
    const keepdims = mean.attrs.keepdims?.kind === 'int' ? Number(mean.attrs.keepdims.value) : 1;
    const axesName = opset >= 18 ? mean.inputs[1] : undefined;
    const axesT = axesName ? graph.initializers.get(axesName) : undefined;
    const axes = axesName ? (axesT ? Array.from(axesT.data as BigInt64Array, Number) : undefined) : mean.attrs.axes?.kind === 'ints' ? mean.attrs.axes.value : undefined;
    if (keepdims !== 1 || !axes || axes.length !== 1 || (axes[0] < 0 ? axes[0] + rank : axes[0]) !== rank - 1) continue;
    const add = sole(mean.outputs[0], 'Add');
    const eps = add ? scalar(graph, add.inputs[add.inputs[0] === mean.outputs[0] ? 1 : 0]) : undefined;
    if (!add || eps === undefined || !(eps >= 0)) continue;
    const sqrt = sole(add.outputs[0], 'Sqrt');
    if (!sqrt) continue;
    const inv = onlyReader(sqrt.outputs[0]);
    if (!inv) continue;
    const isInverse = inv.opType === 'Reciprocal' ? isOnnxOp(inv, 'Reciprocal') : isOnnxOp(inv, 'Div') && inv.inputs[1] === sqrt.outputs[0] && scalar(graph, inv.inputs[0]) === 1;
    if (!isInverse) continue;
    const q = inv.outputs[0];
    // n = x * q, read only by y = n * w (w: [D]).
    const scale = (users.get(q) ?? []).find((r) => isOnnxOp(r, 'Mul') && r.inputs.includes(x) && r.inputs.includes(q));
    if (!scale) continue;
    // (Through the export's Cast of n to the input's dtype, float32 to float32 here.)
    const cast = sole(scale.outputs[0], 'Cast');
    if (cast && dtypeOf(cast.outputs[0]) !== 'float32') continue;
    const n = cast ? cast.outputs[0] : scale.outputs[0];
    const weighting = sole(n, 'Mul');
    if (!weighting || weighting.inputs.every((i) => i === n)) continue;
    const w = weighting.inputs[weighting.inputs[0] === n ? 1 : 0];
    const wShape = shapeOf(w);
    if (!wShape || wShape.length !== 1 || wShape[0] !== D || dtypeOf(w) !== 'float32') continue;
    const members = [square, mean, add, sqrt, inv, scale, ...(cast ? [cast] : [])];
    if ([...members, weighting].some((m) => removed.has(m))) continue;
    // The fused node stands where y was made, so every other reader of q must come later.
    const at = position.get(weighting)!;
    if ((users.get(q) ?? []).some((r) => r !== scale && position.get(r)! < at)) continue;
    const fused: Node = {
      name: `${weighting.name}/simplified_layer_norm`,
      opType: 'SimplifiedLayerNormalization',
      domain: '',
      inputs: [x, w],
      outputs: [weighting.outputs[0], q],
      attrs: { axis: attr.i(-1), epsilon: attr.f(eps) },
    };
    for (const m of members) removed.add(m);
    replaced.set(weighting, fused);
  }
  if (replaced.size === 0) return 0;
  graph.nodes = graph.nodes.filter((m) => !removed.has(m)).map((m) => replaced.get(m) ?? m);
  // The square, mean, epsilon sum, root and n are gone (q keeps its name and valueInfo), and
  // so are constants (eps, 1, the exponent 2) nothing reads any more.
  const read = new Set([...graph.nodes.flatMap(nodeReads), ...graph.outputs.map((o) => o.name)]);
  for (const m of removed) {
    if (m.opType !== 'Reciprocal' && m.opType !== 'Div') for (const o of m.outputs) graph.valueInfo.delete(o);
    for (const i of m.inputs) if (graph.initializers.has(i) && !read.has(i)) graph.initializers.delete(i);
  }
  return replaced.size;
}
