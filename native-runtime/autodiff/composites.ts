// Subgraphs the walker differentiates as one op. An exported exact GELU is five nodes,
//   u = x / sqrt(2);  e = Erf(u);  a = e + 1;  y = (x * a) * 0.5      (or (x * 0.5) * a)
// and differentiated node by node its backward reads u, a and x, so three [tokens, d_ff]
// tensors per layer stay alive from the forward pass to the backward pass. As one Gelu
// (rules/activation.ts: dy/dx from x alone) only x stays alive, and, the intermediates having
// no other readers, onnxruntime fuses the forward five into one Gelu kernel.
import type { Graph, Node, Tensor } from '../onnx/ir';
import { consumers as consumersOf, tensorToNumbers } from '../onnx/ir';
import { constantExponent } from '../onnx/powers';
import { emitRotary, findRotaryPatterns, type Emit } from '../onnx/rotary';
import type { RuleSpec } from './context';

/** A stand-in node (never added to the graph) with the composite's input and output. */
export interface Composite {
  node: Node;
  /** The differentiated nodes it replaces (all must be on the path). */
  members: Node[];
  /** Non-differentiable nodes inside it (IsNaN): no gradient node reads their outputs any more. */
  helpers?: Node[];
  /** The stand-in's gradient rule when it is no ONNX op (otherwise the rule of node.opType). */
  rule?: RuleSpec;
}

function scalarValue(graph: Graph, name: string): number | undefined {
  const t: Tensor | undefined = graph.initializers.get(name);
  if (!t || t.dims.reduce((a, b) => a * b, 1) !== 1) return undefined;
  if (t.dtype !== 'float32' && t.dtype !== 'float64') return undefined;
  return Number((t.data as Float32Array)[0]);
}

const near = (v: number | undefined, want: number) => v !== undefined && Math.abs(v - want) <= 1e-6 * Math.abs(want);

/** For a binary node, the non-constant operand when the other is the scalar `want`. */
function otherThanScalar(graph: Graph, n: Node, want: number): string | undefined {
  if (n.inputs.length !== 2) return undefined;
  if (near(scalarValue(graph, n.inputs[1]), want)) return n.inputs[0];
  if (near(scalarValue(graph, n.inputs[0]), want)) return n.inputs[1];
  return undefined;
}

export function findGeluComposites(graph: Graph): Composite[] {
  const users = consumersOf(graph);
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const only = (value: string, user: Node) => !outputs.has(value) && (users.get(value) ?? []).length === 1 && users.get(value)![0] === user;
  const found: Composite[] = [];
  for (const erf of graph.nodes) {
    if (erf.opType !== 'Erf' || erf.domain !== '') continue;
    // u = x / sqrt(2) or x * (1 / sqrt(2))
    const divNode = graph.nodes.find((n) => n.outputs[0] === erf.inputs[0]);
    if (!divNode || divNode.domain !== '' || !only(erf.inputs[0], erf)) continue;
    const x = divNode.opType === 'Div' && near(scalarValue(graph, divNode.inputs[1]), Math.SQRT2) ? divNode.inputs[0]
      : divNode.opType === 'Mul' ? otherThanScalar(graph, divNode, Math.SQRT1_2) : undefined;
    if (!x) continue;
    // a = e + 1
    const addNode = (users.get(erf.outputs[0]) ?? [])[0];
    if (!addNode || addNode.opType !== 'Add' || !only(erf.outputs[0], addNode) || otherThanScalar(graph, addNode, 1) !== erf.outputs[0]) continue;
    const a = addNode.outputs[0];
    const first = (users.get(a) ?? [])[0];
    if (!first || first.opType !== 'Mul' || !only(a, first)) continue;
    let last: Node | undefined;
    let half: Node | undefined;
    if (first.inputs.includes(x) && first.inputs.includes(a)) {
      // (x * a) * 0.5
      last = (users.get(first.outputs[0]) ?? [])[0];
      if (!last || last.opType !== 'Mul' || !only(first.outputs[0], last) || otherThanScalar(graph, last, 0.5) !== first.outputs[0]) continue;
    } else {
      // (x * 0.5) * a
      const h = first.inputs.find((i) => i !== a);
      half = graph.nodes.find((n) => n.outputs[0] === h);
      if (!h || !half || half.opType !== 'Mul' || !only(h, first) || otherThanScalar(graph, half, 0.5) !== x) continue;
      last = first;
    }
    const members = [divNode, erf, addNode, first, ...(half ? [half] : []), ...(last !== first ? [last] : [])];
    if (members.some((m) => m.domain !== '')) continue;
    found.push({
      node: { name: `${last.name}/gelu`, opType: 'Gelu', domain: '', inputs: [x], outputs: [last.outputs[0]], attrs: {} },
      members,
    });
  }
  return found;
}

/**
 * Attention probabilities as exported by transformers' SDPA path:
 *   y = Softmax(x);  z = Where(IsNaN(y), 0, y)
 * Differentiated node by node, the backward pass reads y (Softmax's rule), the boolean mask
 * (Where's) and z (the next MatMul's): two [batch, heads, seq, seq] float copies and a mask per
 * layer. As one Softmax whose output is z, the rule dx = z (dz - sum(dz z)) reads z alone: equal
 * where y is a number, and 0 in a NaN row (where Where passes no gradient; node by node the NaN
 * would reach x).
 */
export function findSafeSoftmaxComposites(graph: Graph): Composite[] {
  const users = consumersOf(graph);
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const found: Composite[] = [];
  for (const sm of graph.nodes) {
    if (sm.opType !== 'Softmax' || sm.domain !== '') continue;
    const y = sm.outputs[0];
    const readers = users.get(y) ?? [];
    if (outputs.has(y) || readers.length !== 2) continue;
    const isNan = readers.find((n) => n.opType === 'IsNaN' && n.domain === '');
    const where = readers.find((n) => n.opType === 'Where' && n.domain === '');
    if (!isNan || !where) continue;
    const mask = isNan.outputs[0];
    if (outputs.has(mask) || (users.get(mask) ?? []).length !== 1) continue;
    if (where.inputs[0] !== mask || where.inputs[2] !== y || scalarValue(graph, where.inputs[1]) !== 0) continue;
    found.push({
      node: { name: `${where.name}/safe_softmax`, opType: 'Softmax', domain: '', inputs: [sm.inputs[0]], outputs: [where.outputs[0]], attrs: sm.attrs },
      members: [sm, where],
      helpers: [isNan],
    });
  }
  return found;
}

/**
 * SiLU as exported by transformers (Llama/Qwen/Mistral MLPs): s = Sigmoid(x); y = x * s.
 * Node by node the backward pass is Mul's two products (dy s, dy x), Sigmoid's s (1 - s) and its
 * product, and a Sum of the two paths into x: six passes over the [tokens, d_ff] tensor. As one
 * op, dx = dy (s + y (1 - s)) (since y = x s, this is dy (s + x s (1 - s))) is four passes
 * (Sub, Mul, Add, Mul) reading s and y, which the forward keeps anyway (the next Mul reads y).
 */
export function findSiluComposites(graph: Graph): Composite[] {
  const users = consumersOf(graph);
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const found: Composite[] = [];
  for (const sig of graph.nodes) {
    if (sig.opType !== 'Sigmoid' || sig.domain !== '') continue;
    const x = sig.inputs[0];
    const s = sig.outputs[0];
    const readers = users.get(s) ?? [];
    // Another reader of s would need s's own gradient, which the composite never forms.
    if (outputs.has(s) || readers.length !== 1) continue;
    const mul = readers[0];
    if (mul.opType !== 'Mul' || mul.domain !== '' || mul.inputs.length !== 2) continue;
    const [a, b] = mul.inputs;
    if (!((a === x && b === s) || (a === s && b === x))) continue;
    found.push({
      // Inputs [x, s]: the rule reads s (and the output y); no gradient is returned for s.
      node: { name: `${mul.name}/silu`, opType: 'Silu', domain: COMPOSITE_DOMAIN, inputs: [x, s], outputs: [mul.outputs[0]], attrs: {} },
      members: [sig, mul],
      rule: SILU_RULE,
    });
  }
  return found;
}

/** Domain of stand-ins that are no ONNX op (never written to a graph). */
export const COMPOSITE_DOMAIN = 'lily.autodiff.composite';

const SILU_RULE: RuleSpec = {
  rule: (c) => {
    const s = c.I(1);
    const y = c.O(0);
    const slope = c.add(s, c.mul(y, c.sub(c.scalar(1, s), s)));
    return [c.mul(c.GO(0), slope), undefined];
  },
};

/**
 * Attention probabilities P = Softmax(S) over the last axis whose only reader is O = MatMul(P, V)
 * (directly, through same-type Casts, or through SDPA's Where(IsNaN(P), 0, P)). Softmax's rule
 * needs r_i = sum_j dP_ij P_ij per row: a product and a reduction over [batch, heads, T, T]. With
 * dP = dO V^T, sum_j dP_ij P_ij = sum_k dO_ik sum_j P_ij V_jk = sum_k dO_ik O_ik: the same number
 * from [batch, heads, T, d_head] tensors (flash attention's backward uses this identity); also
 * through a Reshape that keeps P's last axis (block attention's grouped query heads). Then
 * dS = P (dP - r): two passes over the scores instead of three and a reduction. In a NaN row of
 * the safe form P and O are 0 there, so dS is 0 as before. P must not be broadcast by the
 * MatMul (its batch dimensions equal O's): otherwise dP would sum over the broadcast.
 */
export function findSoftmaxProductComposites(graph: Graph, opset: number): Composite[] {
  const users = consumersOf(graph);
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const shapeOf = (v: string) => graph.valueInfo.get(v)?.shape ?? graph.inputs.find((i) => i.name === v)?.shape;
  const dtypeOf = (v: string) => graph.valueInfo.get(v)?.dtype ?? graph.inputs.find((i) => i.name === v)?.dtype;
  const soleReader = (v: string): Node | undefined => {
    const r = users.get(v) ?? [];
    return !outputs.has(v) && r.length === 1 ? r[0] : undefined;
  };
  const safeForms = new Map(findSafeSoftmaxComposites(graph).map((c) => [c.members[0], c]));
  const found: Composite[] = [];
  for (const sm of graph.nodes) {
    if (sm.opType !== 'Softmax' || sm.domain !== '') continue;
    const xShape = shapeOf(sm.inputs[0]);
    if (!xShape || xShape.length < 2 || xShape.some((d) => typeof d !== 'number')) continue;
    const rank = xShape.length;
    // Before opset 13 Softmax flattened from `axis` on (default 1): the same as the last axis only there.
    const axisAttr = sm.attrs.axis;
    const axis = axisAttr?.kind === 'int' ? Number(axisAttr.value) : opset >= 13 ? -1 : 1;
    if ((axis < 0 ? axis + rank : axis) !== rank - 1) continue;
    const p = sm.outputs[0];
    const members: Node[] = [sm];
    const helpers: Node[] = [];
    let q = p;
    const readers = users.get(p) ?? [];
    if (readers.length === 2 && !outputs.has(p)) {
      const safe = safeForms.get(sm);
      if (!safe) continue;
      members.push(safe.members[1]);
      helpers.push(...(safe.helpers ?? []));
      q = safe.node.outputs[0];
    }
    const dtype = dtypeOf(q);
    let a = q;
    let reader = soleReader(a);
    // transformers' eager attention casts the probabilities to the query's dtype: the identity
    // here. A Reshape that keeps the last axis (block attention groups the query heads sharing a
    // key head into rows) keeps every row of P whole, in the same order: the row sums of the
    // reshaped rows are P's row sums, reshaped.
    const keepsRows = (n: Node) => n.opType === 'Reshape' && shapeOf(n.outputs[0])?.at(-1) === xShape[rank - 1];
    while (reader && reader.domain === '' && ((reader.opType === 'Cast' && dtypeOf(reader.outputs[0]) === dtype) || keepsRows(reader))) {
      a = reader.outputs[0];
      reader = soleReader(a);
    }
    if (!reader || reader.opType !== 'MatMul' || reader.domain !== '' || reader.inputs[0] !== a || reader.inputs[1] === a) continue;
    const o = reader.outputs[0];
    const aShape = shapeOf(a);
    const oShape = shapeOf(o);
    if (!aShape || !oShape || aShape.length < 2 || oShape.length !== aShape.length) continue;
    if (aShape.slice(0, -2).some((d, k) => d !== oShape[k])) continue;
    found.push({
      // Inputs [S, O]: the rule reads O and its gradient (complete by then: O comes later); no gradient for O.
      node: { name: `${sm.name}/softmax_product`, opType: 'SoftmaxBeforeMatMul', domain: COMPOSITE_DOMAIN, inputs: [sm.inputs[0], o], outputs: [q], attrs: {} },
      members,
      helpers,
      rule: SOFTMAX_PRODUCT_RULE,
    });
  }
  return found;
}

const SOFTMAX_PRODUCT_RULE: RuleSpec = {
  rule: (c) => {
    const o = c.I(1);
    const dO = c.gradOfValue(o);
    // No gradient reaches O, so none reaches P either.
    if (dO === undefined) return [undefined, undefined];
    let rowDot = c.reduceSum(c.mul(dO, o), [c.rank(o) - 1], true);
    const pShape = c.shape(c.O(0));
    const rows = [...pShape.slice(0, -1), 1];
    const oRows = [...c.shape(o).slice(0, -1), 1];
    if (rows.length !== oRows.length || rows.some((d, k) => d !== oRows[k])) rowDot = c.reshape(rowDot, rows);
    return [c.mul(c.O(0), c.sub(c.GO(0), rowDot)), undefined];
  },
};

/**
 * RMSNorm's core as transformers exports it (Llama, Qwen2, Mistral, Phi3, Gemma):
 *   m = ReduceMean(x^2, last axis, keepdims);  q = 1 / Sqrt(m + eps);  n = x * q
 * (x^2 as Pow(x, 2) or Mul(x, x); 1 / r as Div(1, r) or Reciprocal(r)). Node by node the
 * backward pass is Mul's two products (dn q, dn x), a reduction, the small chain back to m,
 * ReduceMean's Expand to [.., D], Pow's two products, and a Sum of the two paths into x: five
 * passes over [tokens, D] and a three-way Sum with the residual's gradient. As one op,
 *   dx = q dn - x (q^3 / D) sum(dn x)
 * is four passes (Mul, ReduceSum, Mul, Mul, Sub) and one gradient into x.
 */
export function findRmsNormComposites(graph: Graph, opset: number): Composite[] {
  const users = consumersOf(graph);
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const producer = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const sole = (v: string, op: string): Node | undefined => {
    const r = users.get(v) ?? [];
    return !outputs.has(v) && r.length === 1 && r[0].opType === op && r[0].domain === '' ? r[0] : undefined;
  };
  const rankOf = (v: string) => graph.valueInfo.get(v)?.shape?.length ?? graph.inputs.find((i) => i.name === v)?.shape?.length;
  const found: Composite[] = [];
  for (const mean of graph.nodes) {
    if (mean.opType !== 'ReduceMean' || mean.domain !== '') continue;
    const square = producer.get(mean.inputs[0]);
    if (!square || square.domain !== '' || sole(square.outputs[0], 'ReduceMean') !== mean) continue;
    const x = square.inputs[0];
    const isSquare = (square.opType === 'Pow' && constantExponent(graph.initializers.get(square.inputs[1])) === 2)
      || (square.opType === 'Mul' && square.inputs[1] === x);
    if (!isSquare) continue;
    // The mean over the last axis only, kept as a size-1 axis.
    const rank = rankOf(x);
    if (rank === undefined || rank < 1 || (mean.attrs.keepdims?.kind === 'int' && Number(mean.attrs.keepdims.value) !== 1)) continue;
    const axesName = opset >= 18 ? mean.inputs[1] : undefined;
    const axesT = axesName ? graph.initializers.get(axesName) : undefined;
    const axes = axesName ? (axesT ? tensorToNumbers(axesT).map(Number) : undefined) : mean.attrs.axes?.kind === 'ints' ? mean.attrs.axes.value : undefined;
    if (!axes || axes.length !== 1 || (axes[0] < 0 ? axes[0] + rank : axes[0]) !== rank - 1) continue;
    const add = sole(mean.outputs[0], 'Add');
    if (!add || scalarValue(graph, add.inputs[add.inputs[0] === mean.outputs[0] ? 1 : 0]) === undefined) continue;
    const sqrt = sole(add.outputs[0], 'Sqrt');
    if (!sqrt) continue;
    const readers = users.get(sqrt.outputs[0]) ?? [];
    const inv = readers.length === 1 && !outputs.has(sqrt.outputs[0]) ? readers[0] : undefined;
    const isInverse = !!inv && inv.domain === '' && (inv.opType === 'Reciprocal'
      || (inv.opType === 'Div' && inv.inputs[1] === sqrt.outputs[0] && near(scalarValue(graph, inv.inputs[0]), 1)));
    if (!inv || !isInverse) continue;
    const q = inv.outputs[0];
    const scale = sole(q, 'Mul');
    if (!scale || !scale.inputs.includes(x) || scale.inputs.every((i) => i === x)) continue;
    found.push({
      // Inputs [x, q]: the rule reads q ([.., 1]); no gradient is returned for q.
      node: { name: `${scale.name}/rms_norm`, opType: 'RmsNormCore', domain: COMPOSITE_DOMAIN, inputs: [x, q], outputs: [scale.outputs[0]], attrs: {} },
      members: [square, mean, add, sqrt, inv, scale],
      rule: RMS_NORM_RULE,
    });
  }
  return found;
}

const RMS_NORM_RULE: RuleSpec = {
  rule: (c) => {
    const x = c.I(0);
    const q = c.I(1);
    const dn = c.GO(0);
    const shape = c.shape(x);
    const last = shape.length - 1;
    // (q^3 / D) sum(dn x): [.., 1]
    const k = c.mul(c.mul(c.reduceSum(c.mul(dn, x), [last], true), c.mul(c.mul(q, q), q)), c.scalar(1 / shape[last], x));
    return [c.sub(c.mul(dn, q), c.mul(x, k)), undefined];
  },
};

/**
 * Rotary position embeddings as exported (onnx/rotary.ts findRotaryPatterns):
 *   y = x * cos + Concat(-x2, x1) * sin.
 * Node by node the backward pass is both products, a Split of the rotated half's gradient, a Neg,
 * a Concat and the sum of the two paths: about five and a half passes over q (or k). The map is
 * a rotation of each (x1_i, x2_i) pair, so its transpose is the rotation by the opposite angle:
 * dx = RotaryEmbedding(dy) with -sin, one kernel. cos and sin get no gradient (they come from
 * the positions); a model whose cos or sin would need one is refused by the rule.
 */
export function findRotaryComposites(graph: Graph): Composite[] {
  return findRotaryPatterns(graph).map((p) => ({
    node: { name: `${p.members[6].name}/rotary`, opType: 'Rotary', domain: COMPOSITE_DOMAIN, inputs: [p.x, p.cos, p.sin], outputs: [p.out], attrs: {} },
    members: p.members,
    rule: {
      rule: (c) => {
        if (c.needs(1) || c.needs(2)) c.fail('the rotary embedding\'s cos or sin needs a gradient, which the rotary composite does not give (StepOptions.fusedRotary: false differentiates the nodes one by one)');
        const e: Emit = {
          op: (opType, inputs, shape, attrs = {}, domain = '') => c.setShape(c.b.op(opType, inputs, attrs, { scope: c.scope, domain })[0], shape, 'float32'),
          int64: (name, dims, values) => c.b.constant({ name: `${c.scope}/${name}`, dtype: 'int64', dims, data: BigInt64Array.from(values.map(BigInt)) }),
        };
        return [emitRotary(e, p, c.GO(0), true), undefined, undefined];
      },
    },
  }));
}

/** What the walker differentiates: the nodes on the path, with composites in place. */
export interface PathWithComposites {
  nodes: Node[];
  /** Rules of stand-ins that are no ONNX op. */
  rules: Map<Node, RuleSpec>;
}

/**
 * `onPath` (nodes to differentiate, reverse topological order) with each complete composite's
 * members replaced by its stand-in, placed where its last member was.
 */
export function withComposites(graph: Graph, onPath: Node[], opset: number, opts: { rotary?: boolean } = {}): PathWithComposites {
  // In order of preference: a node claimed by an earlier composite is not in a later one.
  const composites = [
    ...findGeluComposites(graph), ...findSoftmaxProductComposites(graph, opset), ...findSafeSoftmaxComposites(graph),
    ...findSiluComposites(graph), ...findRmsNormComposites(graph, opset),
    ...(opts.rotary === false ? [] : findRotaryComposites(graph)),
  ];
  const rules = new Map<Node, RuleSpec>();
  if (composites.length === 0) return { nodes: onPath, rules };
  const present = new Set(onPath);
  const byLast = new Map<Node, Composite>();
  const drop = new Set<Node>();
  for (const c of composites) {
    // Every member must be on the path: otherwise some gradient would need an intermediate.
    if (!c.members.every((m) => present.has(m))) continue;
    const last = c.members.find((m) => m.outputs[0] === c.node.outputs[0])!;
    // A node claimed by an earlier composite stays in that one.
    if (c.members.some((m) => drop.has(m))) continue;
    byLast.set(last, c);
    for (const m of c.members) drop.add(m);
    if (c.rule) rules.set(c.node, c.rule);
  }
  const out: Node[] = [];
  for (const n of onPath) {
    const c = byLast.get(n);
    if (c) out.push(c.node);
    else if (!drop.has(n)) out.push(n);
  }
  return { nodes: out, rules };
}
