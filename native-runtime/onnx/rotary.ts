// Rotary position embeddings as transformers exports them (Llama-family apply_rotary_pos_emb):
//   y = x * cos + Concat(-x[..., H/2:], x[..., :H/2]) * sin          x: [B, heads, S, H]
// seven nodes and about five and a half passes over x. onnxruntime's RotaryEmbedding (domain
// com.microsoft, CPU and CUDA) computes the same in one pass from cos/sin caches of half width
// indexed by position ids. Its transpose is the same rotation with -sin, so the backward pass is
// one kernel too (autodiff/composites.ts's rotary composite). Valid only where cos and sin repeat
// their first half in their second (HF's cat(freqs, freqs)): that is proven from the graph (the
// values come from a Concat of one value with itself through elementwise maps), never assumed.
import type { AttrValue, Graph, Model, Node } from './ir';
import { attr, consumers, findValueInfo, GraphBuilder, isOnnxOp, producers, soleReader, tensorToNumbers } from './ir';

export const MS_DOMAIN = 'com.microsoft';

export interface RotaryPattern {
  /** The rotated value [B, heads, S, H], the cos and sin it is multiplied by ([B or 1, 1, S, H]). */
  x: string;
  cos: string;
  sin: string;
  out: string;
  /** The seven nodes (Mul by cos, the two Slices, Neg, Concat, Mul by sin, Add). */
  members: Node[];
  shape: [number, number, number, number];
  /** cos/sin's leading dimension: 1 (shared by every row) or B. */
  tableRows: number;
}

function shapeOf(graph: Graph, v: string): number[] | undefined {
  const s = findValueInfo(graph, v)?.shape;
  return s && s.every((d) => typeof d === 'number') ? s as number[] : undefined;
}

const ints = (graph: Graph, v: string | undefined) => {
  const t = v ? graph.initializers.get(v) : undefined;
  return t ? tensorToNumbers(t).map(Number) : undefined;
};

/** [begin, end) of a Slice of `x` along its last axis (rank `rank`, length `len`) with step 1; undefined otherwise. */
function lastAxisSlice(graph: Graph, n: Node, rank: number, len: number): [number, number] | undefined {
  if (n.inputs.length < 3) return undefined;
  const [starts, ends, axes, steps] = [1, 2, 3, 4].map((k) => (n.inputs[k] ? ints(graph, n.inputs[k]) : k >= 3 ? [] : undefined));
  if (!starts || !ends || !axes || !steps || starts.length !== 1 || ends.length !== 1) return undefined;
  const axis = axes.length === 0 ? 0 : axes.length === 1 ? axes[0] : NaN;
  if ((axis < 0 ? axis + rank : axis) !== rank - 1 || (steps.length > 0 && (steps.length !== 1 || steps[0] !== 1))) return undefined;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + len : v, 0), len);
  return [clamp(starts[0]), clamp(ends[0])];
}

/**
 * True when `v`'s last axis holds one half twice: v is a Concat of a value with itself along the
 * last axis, seen through maps that act on each element alone or keep the last axis whole
 * (Cos, Sin, Cast, Identity, Unsqueeze, scalar Mul/Div, Reshape/Expand/Transpose keeping it).
 */
export function repeatsHalves(graph: Graph, v: string, made = producers(graph)): boolean {
  for (let depth = 0; depth < 16; depth++) {
    const n = made.get(v);
    if (!n || (n.domain !== '' && n.domain !== 'ai.onnx')) return false;
    const rank = shapeOf(graph, n.outputs[0])?.length;
    if (n.opType === 'Concat') {
      const axis = n.attrs.axis?.kind === 'int' ? Number(n.attrs.axis.value) : NaN;
      return rank !== undefined && n.inputs.length === 2 && n.inputs[0] === n.inputs[1] && (axis < 0 ? axis + rank : axis) === rank - 1;
    }
    const last = shapeOf(graph, n.outputs[0])?.at(-1);
    const inLast = shapeOf(graph, n.inputs[0])?.at(-1);
    const elementwise = ['Cos', 'Sin', 'Cast', 'Identity', 'Unsqueeze'].includes(n.opType);
    const scalarOther = (n.opType === 'Mul' || n.opType === 'Div') && n.inputs.length === 2
      && (graph.initializers.get(n.inputs[1])?.dims.reduce((a, b) => a * b, 1) === 1);
    const keepsLast = ['Reshape', 'Expand'].includes(n.opType) && last !== undefined && last === inLast;
    const perm = n.attrs.perm?.kind === 'ints' ? n.attrs.perm.value : undefined;
    const transposeKeeps = n.opType === 'Transpose' && !!perm && rank !== undefined && perm[rank - 1] === rank - 1;
    if (!elementwise && !scalarOther && !keepsLast && !transposeKeeps) return false;
    v = n.inputs[0];
  }
  return false;
}

/** Every exported rotary embedding whose intermediates have no reader outside it. */
export function findRotaryPatterns(graph: Graph): RotaryPattern[] {
  const made = producers(graph);
  const sole = soleReader(graph, consumers(graph));
  const found: RotaryPattern[] = [];
  for (const add of graph.nodes) {
    if (!isOnnxOp(add, 'Add') || add.inputs.length !== 2) continue;
    const [m0, m1] = add.inputs.map((i) => made.get(i));
    if (!isOnnxOp(m0, 'Mul') || !isOnnxOp(m1, 'Mul') || sole(m0.outputs[0]) !== add || sole(m1.outputs[0]) !== add) continue;
    // One product reads the Concat (x rotated), the other x itself.
    const concatOf = (m: Node) => m.inputs.map((i) => made.get(i)).find((p) => isOnnxOp(p, 'Concat') && sole(p.outputs[0]) === m);
    const [mulSin, mulCos] = concatOf(m1) ? [m1, m0] : [m0, m1];
    const concat = concatOf(mulSin);
    if (!concat || concat.inputs.length !== 2 || concatOf(mulCos)) continue;
    const sin = mulSin.inputs.find((i) => i !== concat.outputs[0]);
    const neg = made.get(concat.inputs[0]);
    const first = made.get(concat.inputs[1]);
    if (!sin || !isOnnxOp(neg, 'Neg') || sole(neg.outputs[0]) !== concat || !isOnnxOp(first, 'Slice') || sole(first.outputs[0]) !== concat) continue;
    const second = made.get(neg.inputs[0]);
    if (!isOnnxOp(second, 'Slice') || sole(second.outputs[0]) !== neg || second.inputs[0] !== first.inputs[0]) continue;
    const x = first.inputs[0];
    if (!mulCos.inputs.includes(x) || mulCos.inputs[0] === mulCos.inputs[1]) continue;
    const cos = mulCos.inputs.find((i) => i !== x)!;
    const shape = shapeOf(graph, x);
    if (!shape || shape.length !== 4 || shape[3] % 2 !== 0 || findValueInfo(graph, x)?.dtype !== 'float32') continue;
    const [B, , S, H] = shape;
    const axisOk = (n: Node) => {
      const axis = n.attrs.axis?.kind === 'int' ? Number(n.attrs.axis.value) : NaN;
      return (axis < 0 ? axis + 4 : axis) === 3;
    };
    const lo = lastAxisSlice(graph, first, 4, H);
    const hi = lastAxisSlice(graph, second, 4, H);
    if (!axisOk(concat) || !lo || !hi || lo[0] !== 0 || lo[1] !== H / 2 || hi[0] !== H / 2 || hi[1] !== H) continue;
    // cos and sin: [B or 1, 1, S, H], each its first half twice.
    const cs = shapeOf(graph, cos);
    const ss = shapeOf(graph, sin);
    const tableOk = (t: number[] | undefined) => !!t && t.length === 4 && (t[0] === 1 || t[0] === B) && t[1] === 1 && t[2] === S && t[3] === H;
    if (!tableOk(cs) || !tableOk(ss) || cs![0] !== ss![0]) continue;
    if (!repeatsHalves(graph, cos, made) || !repeatsHalves(graph, sin, made)) continue;
    found.push({ x, cos, sin, out: add.outputs[0], members: [mulCos, first, second, neg, concat, mulSin, add], shape: [B, shape[1], S, H], tableRows: cs![0] });
  }
  return found;
}

/** Emits nodes for emitRotary (a GraphBuilder in a graph rewrite, a rule's context in autodiff). */
export interface Emit {
  /** One float32 output of the given shape (recorded as valueInfo). */
  op(opType: string, inputs: string[], shape: number[], attrs?: Record<string, AttrValue>, domain?: string): string;
  int64(name: string, dims: number[], values: number[]): string;
}

/**
 * RotaryEmbedding(input, positions, cos cache, sin cache) for pattern `p`, rotating `input`
 * (x's shape) by the pattern's angles, or by their negatives (`transpose`: the backward pass).
 * The caches are cos/sin's first halves, one row per (table row, position); the position ids
 * point each row of x at its own.
 */
export function emitRotary(e: Emit, p: RotaryPattern, input: string, transpose: boolean): string {
  const [B, , S, H] = p.shape;
  const rows = p.tableRows * S;
  const half = (t: string) => e.op('Reshape', [
    e.op('Slice', [t, e.int64('zero', [1], [0]), e.int64('half', [1], [H / 2]), e.int64('last', [1], [3])], [p.tableRows, 1, S, H / 2]),
    e.int64('rows', [2], [rows, H / 2]),
  ], [rows, H / 2]);
  const cosCache = half(p.cos);
  const sinHalf = half(p.sin);
  const sinCache = transpose ? e.op('Neg', [sinHalf], [rows, H / 2]) : sinHalf;
  const positions = e.int64('positions', [B, S], Array.from({ length: B * S }, (_, k) => (p.tableRows === 1 ? k % S : k)));
  return e.op('RotaryEmbedding', [input, positions, cosCache, sinCache], [...p.shape], { interleaved: attr.i(0) }, MS_DOMAIN);
}

/**
 * Replaces, in place, each exported rotary embedding of the model's graph (findRotaryPatterns)
 * by one RotaryEmbedding node with the same output name, adding the com.microsoft opset import
 * where needed. Subgraphs are left alone. Returns how many were replaced.
 */
export function fuseRotaryEmbeddings(model: Model): number {
  const graph = model.graph;
  const patterns = findRotaryPatterns(graph);
  if (patterns.length === 0) return 0;
  const b = new GraphBuilder(graph);
  const removed = new Set<Node>();
  const inserted = new Map<Node, Node[]>();
  for (const p of patterns) {
    if (p.members.some((m) => removed.has(m))) continue;
    const add = p.members[6];
    const scope = add.name.replace(/\/Add[^/]*$/, '') + '/rotary';
    const start = graph.nodes.length;
    const e: Emit = {
      op: (opType, inputs, shape, attrs = {}, domain = '') => {
        const out = opType === 'RotaryEmbedding' ? [p.out] : 1;
        const name = b.op(opType, inputs, attrs, { scope, domain, outputs: out })[0];
        graph.valueInfo.set(name, { name, dtype: 'float32', shape });
        return name;
      },
      int64: (name, dims, values) => b.constant({ name: `${scope}/${name}`, dtype: 'int64', dims, data: BigInt64Array.from(values.map(BigInt)) }),
    };
    emitRotary(e, p, p.x, false);
    // The new nodes stand where the Add was: after x, cos and sin, before every reader of y.
    inserted.set(add, graph.nodes.splice(start));
    for (const m of p.members) removed.add(m);
  }
  graph.nodes = graph.nodes.flatMap((n) => inserted.get(n) ?? (removed.has(n) ? [] : [n]));
  for (const n of removed) for (const o of n.outputs) if (!patterns.some((p) => p.out === o)) graph.valueInfo.delete(o);
  importMsDomain(model);
  return inserted.size;
}

/** Adds the com.microsoft opset import RotaryEmbedding nodes need, once. */
export function importMsDomain(model: Model): void {
  if (!model.opsetImports.some((o) => o.domain === MS_DOMAIN)) model.opsetImports.push({ domain: MS_DOMAIN, version: 1 });
}

/**
 * A constant scalar factor next to a RotaryEmbedding moves into its caches: rotating and then
 * scaling by k is rotating with k cos and k sin. Block attention scales q by 1/sqrt(d_head) right
 * after its rotation, and the backward scales q's gradient right before the rotation back (one
 * pass each over [B, heads, S, H]); the caches are [rows, H/2]. For each RotaryEmbedding whose
 * output's only reader is Mul(y, k), or whose input is Mul(v, k) read by nothing else (k a
 * one-element float32 initializer), two small Muls scale the caches and the big Mul goes. Exact
 * for a power of two (1/sqrt(64)); otherwise within one rounding. Returns how many moved.
 */
export function foldScalesIntoRotary(graph: Graph): number {
  const made = producers(graph);
  const scalarOf = (n: Node | undefined, v: string): string | undefined => {
    if (!isOnnxOp(n, 'Mul') || n.inputs.length !== 2) return undefined;
    const k = n.inputs.find((i) => i !== v);
    const t = k ? graph.initializers.get(k) : undefined;
    return t && t.dtype === 'float32' && t.dims.reduce((a, b) => a * b, 1) === 1 && n.inputs.includes(v) ? k : undefined;
  };
  const sole = soleReader(graph, consumers(graph));
  const b = new GraphBuilder(graph);
  const removed = new Set<Node>();
  const before = new Map<Node, Node[]>();
  for (const rot of graph.nodes) {
    if (rot.opType !== 'RotaryEmbedding' || rot.domain !== MS_DOMAIN || rot.inputs.length !== 4) continue;
    const after = sole(rot.outputs[0]);
    const inputMul = made.get(rot.inputs[0]);
    let k = after && !removed.has(after) ? scalarOf(after, rot.outputs[0]) : undefined;
    let scale: Node | undefined;
    if (k) scale = after;
    else if (inputMul && !removed.has(inputMul) && sole(rot.inputs[0]) === rot) {
      k = scalarOf(inputMul, inputMul.inputs.find((i) => !graph.initializers.has(i)) ?? '');
      scale = inputMul;
    }
    if (!k || !scale) continue;
    const start = graph.nodes.length;
    const scaled = [2, 3].map((c) => {
      const o = b.op('Mul', [rot.inputs[c], k!], {}, { scope: `${rot.name}/scaled` })[0];
      const s = graph.valueInfo.get(rot.inputs[c]);
      if (s) graph.valueInfo.set(o, { ...s, name: o });
      return o;
    });
    before.set(rot, graph.nodes.splice(start));
    if (scale === after) {
      graph.valueInfo.delete(rot.outputs[0]);
      rot.outputs = [after.outputs[0]];
    }
    else rot.inputs[0] = scale.inputs.find((i) => i !== k)!;
    rot.inputs[2] = scaled[0];
    rot.inputs[3] = scaled[1];
    removed.add(scale);
  }
  graph.nodes = graph.nodes.flatMap((n) => (removed.has(n) ? [] : [...(before.get(n) ?? []), n]));
  return removed.size;
}
