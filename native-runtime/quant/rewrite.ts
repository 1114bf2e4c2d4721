// Puts quantized frozen weights into a built step graph (train or eval). Each float32 weight W
// in the store becomes its stored form (int8 / packed int4 + scales, or bfloat16 bits), and
// every node that reads W gets its own dequantization right before it:
//   forward   MatMul(x, W)          -> MatMul(x, dequant(W))
//   backward  Gemm(g, W, transB=1)  -> Gemm(g, dequant(W), transB=1)   (dx = g W^T, autodiff's rule)
//   embedding Gather(W, ids)        -> the stored rows gathered, then only they dequantized
// so a float32 copy of W exists only from its dequantization to the product that reads it: it
// is not kept from the forward pass to the backward pass, and no transposed copy is made.
// Each dequantization is tied to the product's activation input (a Where on a one-element
// slice of it) for two reasons: onnxruntime then cannot run it early (which would keep the
// float32 copy alive meanwhile) nor merge the forward and backward copies into one (common
// subexpression elimination), and it cannot constant-fold it back into a float32 initializer.
// The int8/int4 arrays become graph inputs fed by StepRunner from one buffer for every
// session (onnxruntime-node cannot feed bfloat16: that form stays an initializer, which the
// tie keeps unfolded).
import type { AttrValue, DataType, Graph, Node, Tensor } from '../onnx/ir';
import { attr, GraphBuilder } from '../onnx/ir';
import { INT4_GROUP, type QuantizedWeight } from './formats';

export interface RewriteResult {
  /** Weights now held in a smaller type. */
  replaced: string[];
  /** Stored arrays that the session should take as inputs (int8/int4 data, scales, zero points). */
  feeds: Tensor[];
}

/**
 * Weights the rewrite must leave in float32 in `graph`: read inside a subgraph (e.g. the chunked
 * loss's Loop) other than as the table of a Gather (rows of a table are gathered from the stored
 * form there too: the vocabulary-sliced loss, train/vocabSlicedLoss.ts).
 */
export function weightsReadInSubgraphs(graph: Graph, names: Iterable<string>): Set<string> {
  const want = new Set(names);
  const found = new Set<string>();
  const visit = (g: Graph) => {
    for (const n of g.nodes) {
      for (const a of Object.values(n.attrs)) {
        if (a.kind !== 'graph') continue;
        const body = a.value;
        for (const bn of body.nodes) bn.inputs.forEach((i, slot) => {
          if (want.has(i) && !body.initializers.has(i) && !(slot === 0 && isTableGather(bn))) found.add(i);
        });
        visit(body);
      }
    }
  };
  visit(graph);
  return found;
}

function isTableGather(n: Node): boolean {
  return n.opType === 'Gather' && n.domain === '' && (n.attrs.axis?.kind !== 'int' || n.attrs.axis.value === 0);
}

const FLOATS = new Set<DataType>(['float32', 'float64', 'float16']);

/**
 * Rewrites `graph` in place for the weights in `store` that are float32 initializers of it
 * (others, e.g. trainable ones, are left alone), except those in `keep`.
 */
export function applyQuantizedWeights(graph: Graph, store: ReadonlyMap<string, QuantizedWeight>, keep: ReadonlySet<string> = new Set()): RewriteResult {
  const targets = new Map<string, QuantizedWeight>();
  for (const [name, q] of store) {
    const t = graph.initializers.get(name);
    if (!t || t.dtype !== 'float32' || keep.has(name)) continue;
    if (t.dims.length !== 2 || t.dims[0] !== q.dims[0] || t.dims[1] !== q.dims[1]) {
      throw new Error(`weights_dtype: ${name} is [${t.dims.join(', ')}] in the model but [${q.dims.join(', ')}] in the quantized cache (a stale cache; delete it)`);
    }
    targets.set(name, q);
  }
  if (targets.size === 0) return { replaced: [], feeds: [] };
  const b = new GraphBuilder(graph);
  const feeds: Tensor[] = [];
  const stored = new Map<string, Stored>();
  for (const [name, q] of targets) {
    graph.initializers.delete(name);
    const s = store_(graph, b, name, q);
    stored.set(name, s);
    feeds.push(...s.feeds);
  }
  const old = graph.nodes;
  graph.nodes = [];
  for (const n of old) {
    // An embedding lookup: gather the stored rows, then dequantize only those.
    const table = n.opType === 'Gather' && n.domain === '' ? stored.get(n.inputs[0]) : undefined;
    if (table && (n.attrs.axis?.kind !== 'int' || n.attrs.axis.value === 0) && !stored.has(n.inputs[1]) && staticShape(graph, n.inputs[1])) {
      gatherDequant(graph, b, n, table);
      continue;
    }
    for (let k = 0; k < n.inputs.length; k++) {
      const s = stored.get(n.inputs[k]);
      if (!s) continue;
      n.inputs[k] = dequantChain(graph, b, n, s, tieOf(graph, n, stored));
    }
    graph.nodes.push(n);
  }
  for (const n of graph.nodes) for (const a of Object.values(n.attrs)) if (a.kind === 'graph') rewriteSubgraphGathers(a.value, stored);
  return { replaced: [...targets.keys()], feeds };
}

/**
 * In a subgraph (a Loop body) reading stored tables of the outer graph: each Gather of table
 * rows gathers the stored rows and dequantizes those only. Any other read was kept float32 by
 * weightsReadInSubgraphs; one here would read a removed weight.
 */
function rewriteSubgraphGathers(body: Graph, stored: Map<string, Stored>): void {
  const b = new GraphBuilder(body);
  const old = body.nodes;
  body.nodes = [];
  for (const n of old) {
    const table = isTableGather(n) && !body.initializers.has(n.inputs[0]) ? stored.get(n.inputs[0]) : undefined;
    if (table && staticShape(body, n.inputs[1])) {
      gatherDequant(body, b, n, table);
      continue;
    }
    const other = n.inputs.find((i) => stored.has(i) && !body.initializers.has(i));
    if (other) throw new Error(`weights_dtype: ${other} is read inside a subgraph by ${n.opType} ${n.name}, which cannot read its stored form (keep it float32)`);
    body.nodes.push(n);
  }
  for (const n of body.nodes) for (const a of Object.values(n.attrs)) if (a.kind === 'graph') rewriteSubgraphGathers(a.value, stored);
}

interface Stored {
  weight: string;
  q: QuantizedWeight;
  /** Names of the stored arrays, by role. */
  data: string;
  scale?: string;
  zero?: string;
  feeds: Tensor[];
}

function store_(graph: Graph, b: GraphBuilder, name: string, q: QuantizedWeight): Stored {
  const add = (role: string, dtype: DataType, dims: number[], data: Tensor['data'], feed: boolean): { name: string; t: Tensor } => {
    const n = b.fresh(`${name}.${role}`);
    const t: Tensor = { name: n, dtype, dims, data };
    graph.initializers.set(n, t);
    return { name: n, t };
  };
  if (q.kind === 'int8') {
    const d = add('int8', 'int8', [...q.dims], q.q, true);
    const s = add('int8_scale', 'float32', [q.dims[1]], q.scale, true);
    return { weight: name, q, data: d.name, scale: s.name, feeds: [d.t, s.t] };
  }
  if (q.kind === 'int4') {
    const groups = q.scale.length;
    const d = add('int4', 'uint8', [groups, INT4_GROUP / 2], q.packed, true);
    const s = add('int4_scale', 'float32', [groups], q.scale, true);
    const z = add('int4_zero', 'uint8', [groups], q.zero, true);
    return { weight: name, q, data: d.name, scale: s.name, zero: z.name, feeds: [d.t, s.t, z.t] };
  }
  const d = add('bf16', 'bfloat16', [...q.dims], q.bits, false);
  return { weight: name, q, data: d.name, feeds: [] };
}

/** The node's first float activation input (not a weight or constant): what the dequantization waits for. */
function tieOf(graph: Graph, n: Node, stored: Map<string, Stored>): string | undefined {
  for (const i of n.inputs) {
    if (!i || stored.has(i) || graph.initializers.has(i)) continue;
    const vi = graph.valueInfo.get(i) ?? graph.inputs.find((x) => x.name === i);
    if (vi && FLOATS.has(vi.dtype) && vi.shape && vi.shape.length > 0 && vi.shape.every((d) => typeof d === 'number' && d > 0)) return i;
  }
  return undefined;
}

function setInfo(graph: Graph, name: string, dtype: DataType, shape: number[]): string {
  graph.valueInfo.set(name, { name, dtype, shape });
  return name;
}

/** A bool [1] that is computed from `tie` (its first element is non-zero), so anything using it runs after `tie` exists. */
function tieCondition(graph: Graph, b: GraphBuilder, tie: string, scope: string): string {
  const rank = (graph.valueInfo.get(tie) ?? graph.inputs.find((x) => x.name === tie))!.shape!.length;
  const zeros = b.constInt64(new Array(rank).fill(0), false, `${scope}/starts`);
  const ones = b.constInt64(new Array(rank).fill(1), false, `${scope}/ends`);
  const first = setInfo(graph, b.op1('Slice', [tie, zeros, ones], {}, scope), graph.valueInfo.get(tie)?.dtype ?? 'float32', new Array(rank).fill(1));
  const flat = setInfo(graph, b.op1('Reshape', [first, b.constInt64([1], false, `${scope}/one`)], {}, scope), graph.valueInfo.get(tie)?.dtype ?? 'float32', [1]);
  return setInfo(graph, b.op1('Cast', [flat], { to: attr.i(9) }, scope), 'bool', [1]);
}

/** `a` again, as a fresh value that exists only after `cond` (Where(cond, a, a)). */
function tied(graph: Graph, b: GraphBuilder, a: string, cond: string | undefined, dtype: DataType, shape: number[], scope: string): string {
  if (!cond) return a;
  return setInfo(graph, b.op1('Where', [cond, a, a], {}, scope), dtype, shape);
}

/** The concrete shape of a value (an initializer, a graph input or an intermediate), if known. */
function staticShape(graph: Graph, name: string): number[] | undefined {
  const t = graph.initializers.get(name);
  if (t) return t.dims;
  const shape = (graph.valueInfo.get(name) ?? graph.inputs.find((x) => x.name === name))?.shape;
  return shape && shape.every((d) => typeof d === 'number') ? (shape as number[]) : undefined;
}

function idDtype(graph: Graph, ids: string): DataType {
  return (graph.initializers.get(ids) ?? graph.valueInfo.get(ids) ?? graph.inputs.find((x) => x.name === ids))?.dtype ?? 'int64';
}

/** Gather(W, ids) -> the same rows of W, gathered from its stored form and dequantized (written to the node's output). */
function gatherDequant(graph: Graph, b: GraphBuilder, user: Node, s: Stored): void {
  const scope = `${s.weight}/gather_for_${user.name}`;
  const ids = user.inputs[1];
  const idShape = staticShape(graph, ids)!;
  const [rows, cols] = s.q.dims;
  const out = user.outputs[0];
  const outShape = [...idShape, cols];
  if (s.q.kind === 'int8') {
    const q = setInfo(graph, b.op1('Gather', [s.data, ids], { axis: attr.i(0) }, scope), 'int8', outShape);
    b.op('DequantizeLinear', [q, s.scale!], { axis: attr.i(outShape.length - 1) }, { scope, outputs: [out] });
  } else if (s.q.kind === 'int4') {
    const per = cols / INT4_GROUP;
    const half = INT4_GROUP / 2;
    const n = idShape.reduce((a, d) => a * d, 1);
    const view = (name: string, dims: number[], dtype: DataType) => setInfo(graph, b.op1('Reshape', [name, b.constInt64(dims, false, `${scope}/shape`)], {}, scope), dtype, dims);
    // Row r's groups are r*per .. r*per + per - 1 of the stored [groups, ...] arrays: gathered by
    // group index, so the stored arrays are read as they are (a Reshape of a graph input copies it).
    const perRow = b.constant({ name: `${scope}/per_row`, dtype: 'int64', dims: [], data: BigInt64Array.of(BigInt(per)) });
    const within = b.constant({ name: `${scope}/groups_of_row`, dtype: 'int64', dims: [1, per], data: BigInt64Array.from({ length: per }, (_, k) => BigInt(k)) });
    // Gather's ids may be int32 and negative (counted from the end).
    let ids64 = view(ids, [n, 1], idDtype(graph, ids));
    if (idDtype(graph, ids) !== 'int64') ids64 = setInfo(graph, b.op1('Cast', [ids64], { to: attr.i(7) }, scope), 'int64', [n, 1]);
    const zeroId = b.constant({ name: `${scope}/zero_id`, dtype: 'int64', dims: [], data: BigInt64Array.of(0n) });
    const rowCount = b.constant({ name: `${scope}/rows`, dtype: 'int64', dims: [], data: BigInt64Array.of(BigInt(rows)) });
    const negative = setInfo(graph, b.op1('Less', [ids64, zeroId], {}, scope), 'bool', [n, 1]);
    ids64 = setInfo(graph, b.op1('Where', [negative, setInfo(graph, b.op1('Add', [ids64, rowCount], {}, scope), 'int64', [n, 1]), ids64], {}, scope), 'int64', [n, 1]);
    const first = setInfo(graph, b.op1('Mul', [ids64, perRow], {}, scope), 'int64', [n, 1]);
    const groupIds = setInfo(graph, b.op1('Add', [first, within], {}, scope), 'int64', [n, per]);
    const packed = setInfo(graph, b.op1('Gather', [s.data, groupIds], { axis: attr.i(0) }, scope), 'uint8', [n, per, half]);
    const flat = view(packed, [n * per, half], 'uint8');
    const four = b.constant({ name: `${scope}/four`, dtype: 'uint8', dims: [], data: Uint8Array.of(4) });
    const hi = setInfo(graph, b.op1('BitShift', [flat, four], { direction: attr.s('RIGHT') }, scope), 'uint8', [n * per, half]);
    const hiBack = setInfo(graph, b.op1('BitShift', [hi, four], { direction: attr.s('LEFT') }, scope), 'uint8', [n * per, half]);
    const lo = setInfo(graph, b.op1('Sub', [flat, hiBack], {}, scope), 'uint8', [n * per, half]);
    const q = setInfo(graph, b.op1('Concat', [lo, hi], { axis: attr.i(1) }, scope), 'uint8', [n * per, INT4_GROUP]);
    const scale = view(setInfo(graph, b.op1('Gather', [s.scale!, groupIds], { axis: attr.i(0) }, scope), 'float32', [n, per]), [n * per], 'float32');
    const zero = view(setInfo(graph, b.op1('Gather', [s.zero!, groupIds], { axis: attr.i(0) }, scope), 'uint8', [n, per]), [n * per], 'uint8');
    const w = setInfo(graph, b.op1('DequantizeLinear', [q, scale, zero], { axis: attr.i(0) }, scope), 'float32', [n * per, INT4_GROUP]);
    b.op('Reshape', [w, b.constInt64(outShape, false, `${scope}/out_shape`)], {}, { scope, outputs: [out] });
  } else {
    const bits = setInfo(graph, b.op1('Gather', [s.data, ids], { axis: attr.i(0) }, scope), 'bfloat16', outShape);
    b.op('Cast', [bits], { to: attr.i(1) }, { scope, outputs: [out] });
  }
  setInfo(graph, out, 'float32', outShape);
}

function dequantChain(graph: Graph, b: GraphBuilder, user: Node, s: Stored, tie: string | undefined): string {
  const scope = `${s.weight}/dequant_for_${user.name}`;
  const [rows, cols] = s.q.dims;
  const cond = tie ? tieCondition(graph, b, tie, scope) : undefined;
  const out = (name: string) => setInfo(graph, name, 'float32', [rows, cols]);
  if (s.q.kind === 'int8') {
    const scale = tied(graph, b, s.scale!, cond, 'float32', [cols], scope);
    return out(b.op1('DequantizeLinear', [s.data, scale], { axis: attr.i(1) }, scope));
  }
  if (s.q.kind === 'int4') {
    const groups = s.q.scale.length;
    const half = INT4_GROUP / 2;
    const packed = tied(graph, b, s.data, cond, 'uint8', [groups, half], scope);
    const four = b.constant({ name: `${scope}/four`, dtype: 'uint8', dims: [], data: Uint8Array.of(4) });
    const hi = setInfo(graph, b.op1('BitShift', [packed, four], { direction: attr.s('RIGHT') } as Record<string, AttrValue>, scope), 'uint8', [groups, half]);
    const hiBack = setInfo(graph, b.op1('BitShift', [hi, four], { direction: attr.s('LEFT') }, scope), 'uint8', [groups, half]);
    const lo = setInfo(graph, b.op1('Sub', [packed, hiBack], {}, scope), 'uint8', [groups, half]);
    const q = setInfo(graph, b.op1('Concat', [lo, hi], { axis: attr.i(1) }, scope), 'uint8', [groups, INT4_GROUP]);
    const w = setInfo(graph, b.op1('DequantizeLinear', [q, s.scale!, s.zero!], { axis: attr.i(0) }, scope), 'float32', [groups, INT4_GROUP]);
    return out(b.op1('Reshape', [w, b.constInt64([rows, cols], false, `${scope}/shape`)], {}, scope));
  }
  // bfloat16: Reshape to its own shape through a shape that depends on the tie, then Cast.
  let shape = b.constInt64([rows, cols], false, `${scope}/shape`);
  if (cond) shape = tied(graph, b, shape, cond, 'int64', [2], scope);
  const bits = setInfo(graph, b.op1('Reshape', [s.data, shape], {}, scope), 'bfloat16', [rows, cols]);
  return out(b.op1('Cast', [bits], { to: attr.i(1) }, scope));
}
