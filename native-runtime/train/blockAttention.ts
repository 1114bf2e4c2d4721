// Causal attention computed block by block, so that the causally masked half of the score matrix
// is never computed, in the forward pass or in its gradient.
//
// A decoder's attention, as transformers exports it (eager or SDPA through torch.onnx), is
//   S = MatMul(Q, Kᵀ) → [Mul|Div by a constant] → Add(mask) | Where(..) → Softmax → [Cast] → MatMul(P, V)
// with a mask that puts a large negative number wherever key j > query i. Those scores leave
// softmax as exact zeros (exp underflows), so the rows of query block [r0, r1) only ever read
// keys [0, r1). The rewrite computes, per query block, S_b = Q[r0:r1] · Kᵀ[:, 0:r1], the same
// elementwise chain on the matching slice of the mask, Softmax and P_b · V[0:r1], and
// concatenates the blocks' outputs: with n blocks it computes (n+1)/2n of the scores (62% at 4
// blocks), and every elementwise pass over them (mask add, softmax and its gradient) shrinks
// with it. The autodiff differentiates the blocks like any other ops.
//
// The rewrite only applies where it computes the same function: the chain's side operands (the
// mask) are evaluated once in onnxruntime with an all-ones attention mask (a single document
// without padding) and every skipped entry must be <= -1e4 after the chain. Padding and packing
// only mask more, so a decoder's causal mask passes for every batch; a bidirectional model fails
// and is left as it is. (A mask that unmasked future keys only for other inputs, say a prefix LM
// reading token types, would pass this one probe: the rewrite is limited to task causal-lm.) Rows that
// are masked entirely (left padding's first rows, whose outputs no loss reads) would spread
// their uniform weights over fewer keys; the engine pads on the right, where no row is.
import * as ort from 'onnxruntime-node';
import type { Graph, Model, Node } from '../onnx/ir';
import { attr, consumers, GraphBuilder, producers, tensorSize, tensorToNumbers } from '../onnx/ir';
import { probeValuesInOrt } from '../onnx/foldProbe';
import { removeDeadCode } from '../onnx/foldDeadCode';
import { sortNodesTopologically } from '../onnx/topoSort';
import { Emitter, staticShape } from '../adapters/emit';

/** Query rows per block: 4 blocks at 512 tokens. */
export const DEFAULT_ATTENTION_BLOCK = 128;
/** A skipped score must be at most this after the mask: exp(-1e4 + any real score) is 0. */
const MASKED_BELOW = -1e4;

/** One elementwise step between the score MatMul and Softmax. */
interface ChainStep {
  node: Node;
  /** Which input of `node` carries the scores. */
  scoreInput: number;
}

interface AttentionCore {
  scores: Node;
  chain: ChainStep[];
  softmax: Node;
  casts: Node[];
  /** SDPA's export: P = Where(IsNaN(P), 0, P) (a row masked entirely gives 0, not NaN). */
  guard?: { isNan: Node; where: Node };
  output: Node;
  /** Query length = key length. */
  length: number;
}

export interface BlockAttentionReport {
  /** Attention cores rewritten. */
  rewritten: number;
  /** Cores that matched the pattern but failed the causality check (left as they were). */
  notCausal: number;
  block: number;
  /** Share of the score matrix still computed, e.g. 0.625 at 4 blocks. */
  computed: number;
}

/**
 * Rewrites, in place, every causal attention core of a specialised forward model whose length
 * is at least twice `block`. Returns what it did (rewritten 0 when nothing applied).
 */
export async function blockCausalAttention(model: Model, block = DEFAULT_ATTENTION_BLOCK): Promise<BlockAttentionReport> {
  const cores = findAttentionCores(model, block);
  const report: BlockAttentionReport = { rewritten: 0, notCausal: 0, block, computed: 1 };
  if (cores.length === 0) return report;
  const causal = await causalCores(model, cores, block);
  report.notCausal = cores.length - causal.length;
  if (causal.length === 0) return report;
  const e = new Emitter(new GraphBuilder(model.graph), model);
  const sliced = new Map<string, string>();
  const removed = new Set<Node>();
  for (const core of causal) {
    rewriteCore(model, e, core, block, sliced);
    for (const n of [core.scores, ...core.chain.map((s) => s.node), core.softmax, ...core.casts, ...(core.guard ? [core.guard.isNan, core.guard.where] : []), core.output]) removed.add(n);
  }
  const g = model.graph;
  g.nodes = sortNodesTopologically(g.nodes.filter((n) => !removed.has(n)));
  for (const n of removed) for (const o of n.outputs) if (!causal.some((c) => c.output === n)) g.valueInfo.delete(o);
  removeDeadCode(g, g.outputs.map((o) => o.name));
  const length = causal[0].length;
  const bounds = blockBounds(length, block);
  report.rewritten = causal.length;
  report.computed = bounds.reduce((s, [r0, r1]) => s + (r1 - r0) * r1, 0) / (length * length);
  return report;
}

/** [r0, r1) of each query block. */
export function blockBounds(length: number, block: number): [number, number][] {
  const out: [number, number][] = [];
  for (let r0 = 0; r0 < length; r0 += block) out.push([r0, Math.min(length, r0 + block)]);
  return out;
}

const DEFAULT_DOMAIN = (n: Node) => n.domain === '' || n.domain === 'ai.onnx';

function findAttentionCores(model: Model, block: number): AttentionCore[] {
  const g = model.graph;
  const made = producers(g);
  const readers = consumers(g);
  const outputs = new Set(g.outputs.map((o) => o.name));
  const only = (value: string): Node | undefined => {
    const r = readers.get(value) ?? [];
    return r.length === 1 && !outputs.has(value) ? r[0] : undefined;
  };
  const cores: AttentionCore[] = [];
  for (const softmax of g.nodes) {
    if (softmax.opType !== 'Softmax' || !DEFAULT_DOMAIN(softmax)) continue;
    const shape = staticShape(model, softmax.outputs[0]);
    if (!shape || shape.length < 2 || g.valueInfo.get(softmax.outputs[0])?.dtype !== 'float32') continue;
    const rank = shape.length;
    const axis = softmax.attrs.axis?.kind === 'int' ? softmax.attrs.axis.value : -1;
    const length = shape[rank - 1];
    if ((axis !== -1 && axis !== rank - 1) || shape[rank - 2] !== length || length < 2 * block) continue;
    // Backwards from Softmax through the elementwise chain to the score MatMul.
    const trace = (value: string, depth: number): { scores: Node; chain: ChainStep[] } | undefined => {
      const n = made.get(value);
      if (!n || !DEFAULT_DOMAIN(n) || only(value) === undefined || depth > 8) return undefined;
      if (n.opType === 'MatMul') return { scores: n, chain: [] };
      for (const scoreInput of chainInputs(g, n)) {
        const found = trace(n.inputs[scoreInput], depth + 1);
        if (found) return { scores: found.scores, chain: [...found.chain, { node: n, scoreInput }] };
      }
      return undefined;
    };
    const traced = trace(softmax.inputs[0], 0);
    if (!traced) continue;
    const { scores, chain } = traced;
    if (!scores || !sameShape(staticShape(model, scores.outputs[0]), shape)) continue;
    const [q, kt] = scores.inputs.map((v) => staticShape(model, v));
    if (!q || !kt || q.length !== rank || kt.length !== rank || q[rank - 2] !== length || kt[rank - 1] !== length) continue;
    // Forwards from Softmax through identity Casts, or SDPA's NaN guard, to MatMul(P, V).
    const casts: Node[] = [];
    let p = softmax.outputs[0];
    const guard = nanGuard(g, readers, p);
    if (guard) p = guard.where.outputs[0];
    let next = only(p);
    while (next && next.opType === 'Cast' && DEFAULT_DOMAIN(next) && next.attrs.to?.kind === 'int' && next.attrs.to.value === 1) {
      casts.push(next);
      p = next.outputs[0];
      next = only(p);
    }
    if (!next || next.opType !== 'MatMul' || !DEFAULT_DOMAIN(next) || next.inputs[0] !== p) continue;
    const v = staticShape(model, next.inputs[1]);
    if (!v || v.length !== rank || v[rank - 2] !== length) continue;
    cores.push({ scores, chain, softmax, casts, guard, output: next, length });
  }
  return cores;
}

/** The inputs of `n` that may carry the scores when `n` is a step the rewrite can slice. */
function chainInputs(g: Graph, n: Node): number[] {
  switch (n.opType) {
    case 'Add':
    case 'Sub':
      return [0, 1];
    case 'Mul':
    case 'Div': {
      // A positive constant keeps the order of scores, so "masked" stays "masked".
      const positive = (name: string) => {
        const c = g.initializers.get(name);
        return !!c && tensorSize(c.dims) === 1 && c.dtype === 'float32' && tensorToNumbers(c)[0] > 0;
      };
      if (n.opType === 'Div') return positive(n.inputs[1]) ? [0] : [];
      return [0, 1].filter((k) => positive(n.inputs[1 - k]));
    }
    case 'Where':
      return [1, 2];
    default:
      return [];
  }
}

/** `IsNaN(p)` and `Where(IsNaN(p), 0, p)` when they are p's only readers. */
function nanGuard(g: Graph, readers: Map<string, Node[]>, p: string): { isNan: Node; where: Node } | undefined {
  const r = readers.get(p) ?? [];
  if (r.length !== 2) return undefined;
  const isNan = r.find((n) => n.opType === 'IsNaN' && DEFAULT_DOMAIN(n));
  const where = r.find((n) => n.opType === 'Where' && DEFAULT_DOMAIN(n));
  if (!isNan || !where || (readers.get(isNan.outputs[0]) ?? []).length !== 1) return undefined;
  const zero = g.initializers.get(where.inputs[1]);
  if (where.inputs[0] !== isNan.outputs[0] || where.inputs[2] !== p || !zero || tensorSize(zero.dims) !== 1 || tensorToNumbers(zero)[0] !== 0) return undefined;
  return { isNan, where };
}

function sameShape(a: number[] | undefined, b: number[]): boolean {
  return !!a && a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * The cores whose skipped entries are masked. The chain's side operands are computed by
 * onnxruntime on a single unpadded document (every input named like an attention mask set to
 * ones, the rest zeros), then the chain is applied to zero scores in JS.
 */
async function causalCores(model: Model, cores: AttentionCore[], block: number): Promise<AttentionCore[]> {
  const g = model.graph;
  const sides = [...new Set(cores.flatMap((c) => c.chain.flatMap((s) => s.node.inputs.filter((_, k) => k !== s.scoreInput))))]
    .filter((name) => name && !g.initializers.has(name));
  const known = new Map<string, Known>();
  for (const [name, t] of g.initializers) known.set(name, { dims: t.dims, data: t.data as ArrayLike<number> });
  if (sides.length > 0) {
    const probe: Model = { ...model, graph: { ...g, nodes: [...g.nodes], outputs: [], valueInfo: new Map(g.valueInfo), initializers: new Map(g.initializers) } };
    removeDeadCode(probe.graph, sides);
    const values = await probeValuesInOrt(probe, sides, () => true, 256 * 1024 * 1024, maskOnes);
    for (const [name, v] of values) known.set(name, { dims: v.dims, data: v.data as ArrayLike<number> });
  }
  return cores.filter((core) => skippedEntriesMasked(core, known, block));
}

/** Probe feeds: ones for attention masks (one document, no padding), zeros elsewhere. */
function maskOnes(name: string, dtype: string, dims: number[]): ort.Tensor | undefined {
  if (!/mask|document/i.test(name)) return undefined;
  const n = tensorSize(dims);
  if (dtype === 'int64') return new ort.Tensor('int64', new BigInt64Array(n).fill(1n), dims);
  if (dtype === 'int32') return new ort.Tensor('int32', new Int32Array(n).fill(1), dims);
  if (dtype === 'float32') return new ort.Tensor('float32', new Float32Array(n).fill(1), dims);
  if (dtype === 'bool') return new ort.Tensor('bool', new Uint8Array(n).fill(1), dims);
  return undefined;
}

type Known = { dims: number[]; data: ArrayLike<number | bigint | boolean> };

/** Applies the chain to zero scores and checks every entry the blocks skip, for every batch row and head. */
function skippedEntriesMasked(core: AttentionCore, known: Map<string, Known>, block: number): boolean {
  const T = core.length;
  const sides = core.chain.map((s) => s.node.inputs.map((name, k) => (k === s.scoreInput ? undefined : known.get(name))));
  if (core.chain.some((s, k) => sides[k].some((o, m) => o === undefined && m !== s.scoreInput))) return false;
  // The leading (batch, head) extent: the largest any side operand has, right-aligned.
  const leadRank = Math.max(0, ...sides.flat().map((o) => (o ? o.dims.length - 2 : 0)));
  const leadShape = new Array<number>(leadRank).fill(1);
  for (const o of sides.flat()) o?.dims.slice(0, -2).forEach((d, k) => { const at = leadRank - (o.dims.length - 2) + k; leadShape[at] = Math.max(leadShape[at], d); });
  const leadCount = leadShape.reduce((x, y) => x * y, 1);
  const scores = new Float64Array(T * T);
  for (let l = 0; l < leadCount; l++) {
    scores.fill(0);
    core.chain.forEach((step, k) => {
      const view = (m: number) => planeView(sides[k][m]!, leadShape, l, T);
      const op = step.node.opType;
      if (op === 'Where') {
        const cond = view(0);
        const other = view(step.scoreInput === 1 ? 2 : 1);
        const keepWhen = step.scoreInput === 1;
        forSkipped(T, block, (i, j) => { if ((cond(i, j) !== 0) !== keepWhen) scores[i * T + j] = other(i, j); });
        return;
      }
      const side = view(1 - step.scoreInput);
      if (op === 'Add') forSkipped(T, block, (i, j) => { scores[i * T + j] += side(i, j); });
      else if (op === 'Sub' && step.scoreInput === 0) forSkipped(T, block, (i, j) => { scores[i * T + j] -= side(i, j); });
      else if (op === 'Sub') forSkipped(T, block, (i, j) => { scores[i * T + j] = side(i, j) - scores[i * T + j]; });
      else if (op === 'Mul') forSkipped(T, block, (i, j) => { scores[i * T + j] *= side(i, j); });
      else forSkipped(T, block, (i, j) => { scores[i * T + j] /= side(i, j); });
    });
    let masked = true;
    forSkipped(T, block, (i, j) => { if (!(scores[i * T + j] <= MASKED_BELOW)) masked = false; });
    if (!masked) return false;
  }
  return true;
}

/** Visits (query i, key j) of every entry the blocks skip: keys at or after the end of i's block. */
function forSkipped(T: number, block: number, visit: (i: number, j: number) => void): void {
  for (const [r0, r1] of blockBounds(T, block)) for (let i = r0; i < r1; i++) for (let j = r1; j < T; j++) visit(i, j);
}

/** Reads `o` (broadcast against [...leadShape, T, T]) at (i, j) of the plane with leading index `l`. */
function planeView(o: Known, leadShape: number[], l: number, T: number): (i: number, j: number) => number {
  const dims = o.dims;
  const r = dims.length;
  const full = [...leadShape, T, T];
  const coords = [...unravel(l, leadShape), 0, 0];
  let base = 0;
  let stride = 1;
  let si = 0;
  let sj = 0;
  for (let k = 1; k <= r; k++) {
    const d = dims[r - k];
    const axis = full.length - k;
    if (d !== 1) {
      if (axis === full.length - 1) sj = stride;
      else if (axis === full.length - 2) si = stride;
      else base += coords[axis] * stride;
    }
    stride *= d;
  }
  const data = o.data;
  return typeof data[0] === 'bigint' ? (i, j) => Number(data[base + i * si + j * sj]) : (i, j) => data[base + i * si + j * sj] as number;
}

function unravel(index: number, dims: number[]): number[] {
  const out = new Array<number>(dims.length);
  for (let k = dims.length - 1; k >= 0; k--) {
    out[k] = index % dims[k];
    index = Math.floor(index / dims[k]);
  }
  return out;
}

type Keys =
  | { kind: 'kt' }
  | { kind: 'k'; k: string; kShape: number[] }
  | { kind: 'grouped'; k: string; kShape: number[]; v: string; vShape: number[]; kv: number; rep: number };

/**
 * Where the blocks read keys (and, for grouped-query attention, values) from: K when Kᵀ is a
 * Transpose of the last two axes of K, and the kv heads before repetition when both K and V are
 * transformers' repeat_kv (Reshape of an Expand of [.., kv, 1, T, d] to [.., kv * rep, T, d]).
 */
function keySource(model: Model, Kt: string, V: string): Keys {
  const made = producers(model.graph);
  const t = made.get(Kt);
  const ktShape = staticShape(model, Kt);
  if (!t || t.opType !== 'Transpose' || !DEFAULT_DOMAIN(t) || !ktShape) return { kind: 'kt' };
  const rank = ktShape.length;
  const perm = t.attrs.perm?.kind === 'ints' ? t.attrs.perm.value : undefined;
  if (!perm || perm.length !== rank || perm.some((p, a) => p !== (a === rank - 2 ? rank - 1 : a === rank - 1 ? rank - 2 : a))) return { kind: 'kt' };
  const k = t.inputs[0];
  const kShape = staticShape(model, k);
  if (!kShape) return { kind: 'kt' };
  const gk = repeatedKv(model, made, k);
  const gv = repeatedKv(model, made, V);
  if (gk && gv && gk.kv === gv.kv && gk.rep === gv.rep && gk.rep > 1) {
    return { kind: 'grouped', k: gk.source, kShape: gk.shape, v: gv.source, vShape: gv.shape, kv: gk.kv, rep: gk.rep };
  }
  return { kind: 'k', k, kShape };
}

/** transformers' repeat_kv: x [.., kv * rep, T, d] = Reshape(Expand(s [.., kv, 1, T, d])); s as [.., kv, T, d]. */
function repeatedKv(model: Model, made: Map<string, Node>, x: string): { source: string; shape: number[]; kv: number; rep: number } | undefined {
  const reshape = made.get(x);
  if (!reshape || reshape.opType !== 'Reshape' || !DEFAULT_DOMAIN(reshape)) return undefined;
  const expand = made.get(reshape.inputs[0]);
  if (!expand || expand.opType !== 'Expand' || !DEFAULT_DOMAIN(expand)) return undefined;
  const outer = staticShape(model, x);
  const wide = staticShape(model, expand.outputs[0]);
  const narrow = staticShape(model, expand.inputs[0]);
  if (!outer || !wide || !narrow || wide.length !== outer.length + 1 || narrow.length !== wide.length) return undefined;
  const r = outer.length;
  const [kv, rep] = [wide[r - 3], wide[r - 2]];
  const same = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
  if (narrow[r - 2] !== 1 || narrow[r - 3] !== kv || kv * rep !== outer[r - 3]) return undefined;
  if (!same(wide.slice(0, r - 3), outer.slice(0, r - 3)) || !same(wide.slice(-2), outer.slice(-2)) || !same(narrow.slice(0, r - 3), outer.slice(0, r - 3)) || !same(narrow.slice(-2), outer.slice(-2))) return undefined;
  // The source as [.., kv, T, d]: its unit axis dropped by a Reshape (no copy in onnxruntime).
  const shape = [...outer.slice(0, r - 3), kv, ...outer.slice(-2)];
  return { source: expand.inputs[0], shape, kv, rep };
}

/** Emits the blocks of one core; the last Concat writes the core's output value. */
function rewriteCore(model: Model, e: Emitter, core: AttentionCore, block: number, sliced: Map<string, string>): void {
  const T = core.length;
  const scope = core.softmax.name;
  const [Q, Kt] = core.scores.inputs;
  const V = core.output.inputs[1];
  const qShape = staticShape(model, Q)!;
  const ktShape = staticShape(model, Kt)!;
  const vShape = staticShape(model, V)!;
  const rank = qShape.length;
  const bounds = blockBounds(T, block);
  const withAxis = (shape: number[], axis: number, n: number) => shape.map((d, k) => (k === rank + axis ? n : d));
  const slice = (value: string, shape: number[], ranges: [number, number, number][]): string => {
    // ranges: [axis (negative), start, end]; skips axes whose extent is 1 (broadcast) or already whole.
    const keep = ranges.filter(([axis, a, b]) => shape[shape.length + axis] !== 1 && !(a === 0 && b === shape[shape.length + axis]));
    if (keep.length === 0) return value;
    const key = `${value}|${keep.map((r) => r.join(':')).join(',')}`;
    const cached = sliced.get(key);
    if (cached) return cached;
    const out = e.b.op1('Slice', [
      value,
      e.b.constInt64(keep.map((r) => r[1]), false, `${scope}/starts`),
      e.b.constInt64(keep.map((r) => r[2]), false, `${scope}/ends`),
      e.b.constInt64(keep.map((r) => r[0]), false, `${scope}/axes`),
    ], {}, `${scope}/blocks`);
    const dims = shape.map((d, k) => {
      const r = keep.find(([axis]) => shape.length + axis === k);
      return r ? r[2] - r[1] : d;
    });
    e.setShape(out, dims, model.graph.valueInfo.get(value)?.dtype ?? model.graph.initializers.get(value)?.dtype ?? 'float32');
    sliced.set(key, out);
    return out;
  };
  // Keys: slice K's rows and let the product read them transposed (onnxruntime fuses the
  // Transpose into the MatMul) where Kᵀ is a plain Transpose of K; with grouped-query attention
  // read the kv heads before they are repeated, so nothing of the repetition is computed
  // (forward copy or backward sum) and the slices are `rep` times smaller.
  const reshape = (x: string, dims: number[]) => e.setShape(e.reshape(x, dims, `${scope}/blocks`), dims);
  const keys = keySource(model, Kt, V);
  if (keys.kind === 'grouped') {
    keys.k = reshape(keys.k, keys.kShape);
    keys.v = reshape(keys.v, keys.vShape);
  }
  // A scale right after the product (Mul/Div by a constant): with grouped keys a Reshape sits
  // between the product and it, so onnxruntime no longer folds it into the MatMul; applied to Q
  // instead it is one pass over [.., T, d_head] rather than over every block's scores.
  const first = core.chain[0];
  const foldScale = keys.kind === 'grouped' && first && (first.node.opType === 'Mul' || first.node.opType === 'Div') ? first : undefined;
  const chain = foldScale ? core.chain.slice(1) : core.chain;
  const q = foldScale ? e.op(foldScale.node.opType, [Q, foldScale.node.inputs[1 - foldScale.scoreInput]], {}, qShape, `${scope}/blocks`) : Q;
  // Disjoint query blocks: one Split, whose gradient is one Concat.
  const qBlocks = e.b.op('Split', [q, e.b.constInt64(bounds.map(([a, b]) => b - a), false, `${scope}/split`)], { axis: attr.i(rank - 2) }, { outputs: bounds.length, scope: `${scope}/blocks` });
  bounds.forEach(([r0, r1], k) => e.setShape(qBlocks[k], withAxis(qShape, -2, r1 - r0)));
  const outs: string[] = [];
  bounds.forEach(([r0, r1], k) => {
    const rows = r1 - r0;
    const sShape = [...qShape.slice(0, -2).map((d, a) => Math.max(d, ktShape[a])), rows, r1];
    const lead = qShape.slice(0, -3);
    let s: string;
    let grouped: { kv: number; rep: number } | undefined;
    if (keys.kind === 'kt') {
      s = e.op('MatMul', [qBlocks[k], slice(Kt, ktShape, [[-1, 0, r1]])], {}, sShape, `${scope}/blocks`);
    } else {
      const kRows = slice(keys.k, keys.kShape, [[-2, 0, r1]]);
      const kRowsShape = withAxis(keys.kShape, -2, r1);
      const kt = e.op('Transpose', [kRows], { perm: attr.ints([...kRowsShape.keys()].map((a) => (a === rank - 2 ? rank - 1 : a === rank - 1 ? rank - 2 : a))) }, [...kRowsShape.slice(0, -2), kRowsShape[rank - 1], r1], `${scope}/blocks`);
      if (keys.kind === 'grouped') {
        grouped = { kv: keys.kv, rep: keys.rep };
        const q = reshape(qBlocks[k], [...lead, keys.kv, keys.rep * rows, qShape[rank - 1]]);
        const sg = e.op('MatMul', [q, kt], {}, [...lead, keys.kv, keys.rep * rows, r1], `${scope}/blocks`);
        s = reshape(sg, sShape);
      } else {
        s = e.op('MatMul', [qBlocks[k], kt], {}, sShape, `${scope}/blocks`);
      }
    }
    for (const step of chain) {
      const inputs = step.node.inputs.map((name, m) => {
        if (m === step.scoreInput) return s;
        const shape = staticShape(model, name);
        if (!shape || shape.length < 2) return name;
        return slice(name, shape, [[-2, r0, r1], [-1, 0, r1]]);
      });
      s = e.op(step.node.opType, inputs, step.node.attrs, sShape, `${scope}/blocks`);
    }
    let p = e.op('Softmax', [s], { axis: attr.i(-1) }, sShape, `${scope}/blocks`);
    if (core.guard) {
      const nan = e.op('IsNaN', [p], {}, sShape, `${scope}/blocks`, 'bool');
      p = e.op('Where', [nan, core.guard.where.inputs[1], p], {}, sShape, `${scope}/blocks`);
    }
    const outShape = [...sShape.slice(0, -1), vShape[rank - 1]];
    if (grouped && keys.kind === 'grouped') {
      const pg = reshape(p, [...lead, grouped.kv, grouped.rep * rows, r1]);
      const v = slice(keys.v, keys.vShape, [[-2, 0, r1]]);
      const og = e.op('MatMul', [pg, v], {}, [...lead, grouped.kv, grouped.rep * rows, vShape[rank - 1]], `${scope}/blocks`);
      outs.push(reshape(og, outShape));
    } else {
      outs.push(e.op('MatMul', [p, slice(V, vShape, [[-2, 0, r1]])], {}, outShape, `${scope}/blocks`));
    }
  });
  e.b.op('Concat', outs, { axis: attr.i(rank - 2) }, { outputs: [core.output.outputs[0]], scope: `${scope}/blocks` });
}
