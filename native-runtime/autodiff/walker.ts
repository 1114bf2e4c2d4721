// The reverse-mode walker. It runs once over the graph and does the parts no rule should
// repeat: find the nodes on paths from `wrt` to the loss, visit them in reverse topological
// order, accumulate fan-out gradients with Sum, un-broadcast gradients of broadcasting ops,
// and report ops that have no rule.
import type { Graph, Node } from '../onnx/ir';
import { attr, GraphBuilder, tensorToNumbers } from '../onnx/ir';
import { withComposites } from './composites';
import { rematerialize, type RecomputeReport } from './recompute';
import { emitReduceSum, GradContext, zerosOfShape } from './context';
import { NON_DIFFERENTIABLE, RULES } from './rules';
import { FLOAT_DTYPES, findValueInfo, sameShape, valueDtype, valueShape } from './shapes';

export interface GradientOptions {
  /** Default-domain opset of the model (decides ReduceSum/ReduceMean/Split forms). Default 17. */
  opset?: number;
  /**
   * Gradients already known for some values (value -> the name of its gradient, same shape).
   * When given, they start the backward pass instead of the loss: the chunked LM loss
   * (train/chunkedLoss.ts) computes the hidden state's gradient together with the loss, chunk
   * by chunk, so nothing between that hidden state and the loss is differentiated here.
   */
  seeds?: Map<string, string>;
  /**
   * Gradient checkpointing (recompute.ts): the backward pass reads recomputed copies of the
   * forward activations, segment by segment, so only the segment boundaries stay alive.
   */
  recompute?: boolean;
  /**
   * Exported rotary embeddings differentiated as one op whose gradient is onnxruntime's
   * RotaryEmbedding with -sin (composites.ts findRotaryComposites). Default on.
   */
  rotary?: boolean;
  /** Filled with what the recomputation did (segments, cloned nodes, cuts). */
  report?: { recompute?: RecomputeReport };
}

/** Nodes in topological order (ONNX files normally list them so; this checks and repairs). */
export function topoOrder(graph: Graph): Node[] {
  const producer = new Map<string, number>();
  graph.nodes.forEach((n, k) => n.outputs.forEach((o) => o && producer.set(o, k)));
  const state = new Uint8Array(graph.nodes.length); // 0 new, 1 visiting, 2 done
  const order: Node[] = [];
  // Iterative DFS keeps the original order when it is already topological.
  for (let root = 0; root < graph.nodes.length; root++) {
    if (state[root]) continue;
    const stack: [number, number][] = [[root, 0]];
    state[root] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const n = graph.nodes[top[0]];
      if (top[1] < n.inputs.length) {
        const p = producer.get(n.inputs[top[1]++]);
        if (p === undefined || state[p] === 2) continue;
        if (state[p] === 1) throw new Error(`autodiff: the graph has a cycle through node ${n.name} (${n.opType})`);
        state[p] = 1;
        stack.push([p, 0]);
      } else {
        state[top[0]] = 2;
        order.push(n);
        stack.pop();
      }
    }
  }
  return order;
}

function isFloat(graph: Graph, name: string): boolean {
  const vi = findValueInfo(graph, name);
  return !!vi && FLOAT_DTYPES.has(vi.dtype);
}

export function buildGradients(graph: Graph, loss: string, wrt: string[], opts: GradientOptions = {}): Map<string, string> {
  const opset = opts.opset ?? 17;
  const lossShape = valueShape(graph, loss);
  const lossDtype = valueDtype(graph, loss);
  if (!FLOAT_DTYPES.has(lossDtype)) throw new Error(`autodiff: loss ${loss} has dtype ${lossDtype}; expected a float scalar`);
  if (lossShape.reduce((a, d) => a * d, 1) !== 1) throw new Error(`autodiff: loss ${loss} has shape ${JSON.stringify(lossShape)}; expected a scalar (one element)`);
  for (const w of wrt) {
    const dt = valueDtype(graph, w);
    if (!FLOAT_DTYPES.has(dt)) throw new Error(`autodiff: cannot differentiate with respect to ${w}: dtype ${dt} is not a float type`);
  }

  const order = topoOrder(graph);
  // Values that depend (differentiably) on some wrt tensor.
  const active = new Set<string>(wrt);
  for (const n of order) {
    if (NON_DIFFERENTIABLE.has(n.opType) && n.domain === '') continue;
    if (!n.inputs.some((i) => i && active.has(i))) continue;
    for (const o of n.outputs) if (o && isFloat(graph, o)) active.add(o);
  }
  // Values on a path to the loss, and the nodes to differentiate.
  const needed = new Set<string>();
  const onPath: Node[] = [];
  const starts = opts.seeds ? [...opts.seeds.keys()].filter((v) => active.has(v)) : active.has(loss) ? [loss] : [];
  if (starts.length > 0) {
    for (const v of starts) needed.add(v);
    for (let k = order.length - 1; k >= 0; k--) {
      const n = order[k];
      if (!n.outputs.some((o) => o && needed.has(o) && active.has(o))) continue;
      onPath.push(n);
      for (const i of n.inputs) if (i && active.has(i)) needed.add(i);
    }
  }

  const forwardCount = graph.nodes.length;
  const b = new GraphBuilder(graph);
  const contributions = new Map<string, string[]>();
  const accumulated = new Map<string, string | undefined>();
  const addContribution = (name: string, g: string) => {
    let list = contributions.get(name);
    if (!list) contributions.set(name, (list = []));
    list.push(g);
  };
  /** The total gradient of a value (summing fan-out once); undefined when none flows. */
  const gradOf = (name: string): string | undefined => {
    if (accumulated.has(name)) return accumulated.get(name);
    let list = contributions.get(name);
    if (list && list.length > 1) list = concatTiledPads(graph, b, list, forwardCount, `${sanitize(name)}_grad_accum`);
    let g: string | undefined;
    if (!list || list.length === 0) g = undefined;
    else if (list.length === 1) g = list[0];
    else g = b.op('Sum', list, {}, { scope: `${sanitize(name)}_grad_accum` })[0];
    if (g !== undefined) recordInfo(graph, g, name);
    accumulated.set(name, g);
    return g;
  };

  if (opts.seeds) {
    for (const v of starts) addContribution(v, opts.seeds.get(v)!);
  } else if (active.has(loss)) {
    const seed = b.constant({
      name: `${sanitize(loss)}_grad_seed`, dtype: 'float32', dims: lossShape, data: Float32Array.of(1),
    });
    addContribution(loss, lossDtype === 'float32' ? seed : b.op('Cast', [seed], { to: attr.i(dtypeCode(lossDtype)) }, { scope: `${sanitize(loss)}_grad_seed` })[0]);
  }

  const path = withComposites(graph, onPath, opset, { rotary: opts.rotary });
  for (const n of path.nodes) {
    const spec = path.rules.get(n) ?? (n.domain === '' ? RULES[n.opType] : undefined);
    if (!spec) throw new Error(`autodiff: no gradient rule for op ${n.domain ? `${n.domain}.` : ''}${n.opType} at node ${n.name}; add one under native-runtime/autodiff/rules/ (see ARCHITECTURE.md) or freeze the weights that reach it`);
    const ctx = new GradContext(graph, b, n, opset, gradOf, (i) => needed.has(i) && active.has(i));
    const result = spec.rule(ctx);
    n.inputs.forEach((input, i) => {
      if (!input || !needed.has(input) || !active.has(input)) return;
      const g = result[i];
      if (g === undefined) return;
      const target = valueShape(graph, input);
      const known = graph.valueInfo.get(g)?.shape as number[] | undefined;
      const gShape = known ?? (spec.broadcast ? valueShape(graph, n.outputs[0]) : target);
      addContribution(input, unbroadcast(b, g, gShape, target, opset, n));
    });
  }

  const result = new Map<string, string>();
  for (const w of wrt) {
    let g = gradOf(w);
    if (g === undefined) {
      g = zerosOfShape(b, valueShape(graph, w), valueDtype(graph, w), `${sanitize(w)}_grad_zero`);
      recordInfo(graph, g, w);
    }
    result.set(w, g);
  }
  if (opts.recompute) {
    const recompute = rematerialize({ graph, forwardCount, forwardOrder: order, differentiated: [...onPath].reverse(), gradOf: (v) => accumulated.get(v) });
    if (opts.report) opts.report.recompute = recompute;
  }
  return result;
}

/**
 * Gradients of Slices of one value (Slice's rule pads g back with zeros) that tile that value
 * along one axis: rotary embeddings' rotate_half slices q and k into halves. Summed, each Pad
 * writes the full tensor and the Sum reads them all; one Concat of the unpadded pieces is the
 * same tensor. Returns the contributions with those Pads replaced by the Concat (the Pads,
 * which nothing else reads, are removed). Other contributions are returned as they are.
 */
function concatTiledPads(graph: Graph, b: GraphBuilder, list: string[], forwardCount: number, scope: string): string[] {
  const pieces: { name: string; node: Node; data: string; axis: number; begin: number; end: number; extent: number }[] = [];
  const producers = new Map<string, Node>();
  for (let k = graph.nodes.length - 1; k >= forwardCount && producers.size < list.length; k--) {
    const n = graph.nodes[k];
    if (list.includes(n.outputs[0])) producers.set(n.outputs[0], n);
  }
  for (const name of list) {
    const n = producers.get(name);
    // Zero padding only: mode constant and no pad value or axes input.
    if (!n || n.opType !== 'Pad' || n.domain !== '' || n.inputs.length !== 2) continue;
    const mode = n.attrs.mode;
    if (mode && !(mode.kind === 'string' && mode.value === 'constant')) continue;
    const padsT = graph.initializers.get(n.inputs[1]);
    const shape = graph.valueInfo.get(n.inputs[0])?.shape;
    if (!padsT || !shape) continue;
    const pads = tensorToNumbers(padsT).map(Number);
    const rank = pads.length / 2;
    const axes = Array.from({ length: rank }, (_, a) => a).filter((a) => pads[a] !== 0 || pads[a + rank] !== 0);
    if (axes.length !== 1 || pads.some((p) => p < 0) || typeof shape[axes[0]] !== 'number') continue;
    const axis = axes[0];
    const size = Number(shape[axis]);
    pieces.push({ name, node: n, data: n.inputs[0], axis, begin: pads[axis], end: pads[axis] + size, extent: pads[axis] + size + pads[axis + rank] });
  }
  for (const axis of new Set(pieces.map((p) => p.axis))) {
    const along = pieces.filter((p) => p.axis === axis).sort((x, y) => x.begin - y.begin);
    // Pieces end to end from 0 to the full extent, no gaps, no overlaps.
    const tiles = along.length >= 2 && along[0].begin === 0 && along.every((p, k) => p.extent === along[0].extent && (k === 0 || p.begin === along[k - 1].end))
      && along[along.length - 1].end === along[0].extent;
    if (!tiles) continue;
    const concat = b.op('Concat', along.map((p) => p.data), { axis: attr.i(axis) }, { scope })[0];
    const drop = new Set(along.map((p) => p.node));
    graph.nodes = graph.nodes.filter((n) => !drop.has(n));
    for (const p of along) graph.initializers.delete(p.node.inputs[1]);
    const names = new Set(along.map((p) => p.name));
    return [concat, ...list.filter((g) => !names.has(g))];
  }
  return list;
}

function sanitize(name: string): string {
  return name.replace(/[^A-Za-z0-9_./:-]/g, '_');
}

function dtypeCode(d: string): number {
  return ({ float32: 1, float16: 10, float64: 11, bfloat16: 16 } as Record<string, number>)[d];
}

function recordInfo(graph: Graph, g: string, like: string): void {
  if (graph.initializers.has(g) || graph.valueInfo.has(g)) return;
  const vi = findValueInfo(graph, like);
  if (vi) graph.valueInfo.set(g, { name: g, dtype: vi.dtype, shape: vi.shape ? [...vi.shape] : undefined });
}

/**
 * Reduces a gradient of (broadcast) shape `from` to the input's shape `to`: sums over the
 * leading axes `to` lacks and over axes where `to` has 1, then reshapes.
 */
export function unbroadcast(b: GraphBuilder, g: string, from: number[], to: number[], opset: number, node: Node): string {
  if (sameShape(from, to)) return g;
  const lead = from.length - to.length;
  if (lead < 0) throw new Error(`autodiff: node ${node.name} (${node.opType}): gradient of shape ${JSON.stringify(from)} cannot be reduced to input shape ${JSON.stringify(to)}`);
  const axes: number[] = [];
  for (let k = 0; k < from.length; k++) {
    if (k < lead) { axes.push(k); continue; }
    const t = to[k - lead];
    if (t === from[k]) continue;
    if (t !== 1) throw new Error(`autodiff: node ${node.name} (${node.opType}): gradient of shape ${JSON.stringify(from)} does not broadcast from input shape ${JSON.stringify(to)} (dim ${k})`);
    axes.push(k);
  }
  const scope = `${node.name}_grad`;
  // keepdims=1 leaves rank `from.length`; a Reshape drops the leading axes `to` lacks.
  const r = axes.length > 0 ? emitReduceSum(b, g, axes, true, opset, scope) : g;
  if (lead === 0) return r;
  return b.op('Reshape', [r, b.constInt64(to, false, `${scope}/shape`)], {}, { scope })[0];
}

/** Emits sum over all elements of x_i^2 for every tensor in `names` (a float scalar, shape []). */
export function emitSumOfSquares(b: GraphBuilder, names: string[], opts: { scope?: string } = {}): string {
  if (names.length === 0) throw new Error('emitSumOfSquares: no tensors given');
  const scope = opts.scope ?? 'sum_of_squares';
  const parts = names.map((n) => b.op('ReduceSumSquare', [n], { keepdims: attr.i(0) }, { scope })[0]);
  return parts.length === 1 ? parts[0] : b.op('Sum', parts, {}, { scope })[0];
}


