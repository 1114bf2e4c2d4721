// The LM head and cross-entropy computed in chunks of tokens, so that the training step never
// holds a [tokens, vocab] tensor. A Qwen2-sized vocabulary (151,936) at 4 x 512 tokens makes
// 1.2 GB of logits, and the plain loss keeps several such tensors alive (logits, their
// log-softmax until the backward pass, the gradient of each).
//
// The chunks run in one ONNX Loop (a static trip count), whose body takes `c` rows of the hidden
// state and computes both the loss contribution and the hidden state's gradient:
//   z = h_c W (+ b)            [c, V]   the LM head on this chunk only
//   logp = LogSoftmax(z)
//   loss -= sum_t w_t logp[t, y_t]      w_t = 1/count for a labelled row, 0 otherwise
//   dh_c = w * ((softmax(z) - onehot(y)) W^T)    [c, d]  (the gradient of the mean cross-entropy)
// The row weight w multiplies the [c, d] product rather than the [c, V] gradient (the same
// numbers up to float rounding: w is one factor per row), and the one-hot is subtracted in place
// at the target only, so besides the two head products the body makes two passes over [c, V]
// (LogSoftmax, Exp).
// Cross-entropy's gradient with respect to the logits is known in the forward pass, so no
// [c, V] tensor outlives its iteration: ORT frees a Loop body's intermediates per iteration,
// which an unrolled graph could not guarantee (ORT may order the chunks' nodes breadth-first).
// The step then starts the backward pass at the hidden state with `dh` as its gradient
// (buildGradients' `seeds`), so the walker never sees the head.
//
// The eval graph uses the same Loop without the gradient (`mode: 'eval'`): each iteration
// outputs, per row, the arg-max prediction and the log-probability of the row's target, which is
// all the eval metrics read (train/metrics.ts EvalAccumulator.addTokenScores).
//
// Applies when the logits come from MatMul(h, W) with a frozen W ([d, V], or Transpose of a
// [V, d] table such as a tied embedding), optionally plus a constant bias. A trained head
// (modules_to_save) falls back to the plain loss. A [V, d] table held in a smaller type
// (model.weights_dtype) is read in slices of the vocabulary instead (`slicing: 'vocab'`,
// vocabSlicedLoss.ts), so that it is never dequantized whole inside the Loop.
import type { Graph, Model, Node } from '../onnx/ir';
import { attr, emptyGraph, GraphBuilder, producers, consumers } from '../onnx/ir';
import { Emitter, staticShape } from '../adapters/emit';
import type { TaskType } from '../config/types';
import { IGNORE_INDEX, type LossGraph } from './losses';
import { vocabSlicedLoss } from './vocabSlicedLoss';

/** Default rows per chunk: about this many logits ([rows, vocab] float32: 64 MB) at once. */
export const CHUNK_LOGITS = 16 * 1024 * 1024;

/**
 * Rows per chunk when none is asked for: as few chunks as CHUNK_LOGITS allows, then the rows
 * split evenly among them, so that at most chunks - 1 padding rows run through the head
 * (4 x 512 tokens, V 32000: 4 chunks of 512 rows, where 524-row chunks padded 48 rows).
 */
export function defaultChunkRows(rows: number, vocab: number): number {
  const maxRows = Math.max(1, Math.min(rows, Math.floor(CHUNK_LOGITS / vocab)));
  return Math.ceil(rows / Math.ceil(rows / maxRows));
}

export interface LmHead {
  /** The hidden state [batch, seq, d] the head reads. */
  hidden: string;
  /** The frozen weight initializer. */
  weight: string;
  /** `dv`: weight [d, V] (MatMul(h, W)); `vd`: weight [V, d] read through Transpose. */
  layout: 'dv' | 'vd';
  bias?: string;
  d: number;
  vocab: number;
  /** Nodes that only compute the logits from `hidden` (removed from the train graph). */
  nodes: Node[];
}

/** The LM head producing `logits` when it is a frozen linear map the chunked loss can take over. */
export function findLmHead(model: Model, logits: string): LmHead | undefined {
  const g = model.graph;
  const prod = producers(g);
  const users = consumers(g);
  const onlyUser = (value: string, user: Node) => (users.get(value) ?? []).length === 1 && users.get(value)![0] === user;
  const nodes: Node[] = [];
  let out = logits;
  let node = prod.get(out);
  let bias: string | undefined;
  if (node && node.opType === 'Add' && node.domain === '') {
    const [a, b] = node.inputs;
    const constSide = g.initializers.has(b) ? b : g.initializers.has(a) ? a : undefined;
    if (!constSide) return undefined;
    bias = constSide;
    nodes.push(node);
    out = constSide === b ? a : b;
    node = prod.get(out);
    if (!node || !onlyUser(out, nodes[0])) return undefined;
  }
  if (!node || node.opType !== 'MatMul' || node.domain !== '') return undefined;
  nodes.push(node);
  const [hidden, wIn] = node.inputs;
  let weight = wIn;
  let layout: 'dv' | 'vd' = 'dv';
  const tr = prod.get(wIn);
  if (!g.initializers.has(wIn)) {
    if (!tr || tr.opType !== 'Transpose' || !g.initializers.has(tr.inputs[0])) return undefined;
    const perm = tr.attrs.perm?.kind === 'ints' ? tr.attrs.perm.value : [1, 0];
    if (perm.length !== 2 || perm[0] !== 1 || perm[1] !== 0) return undefined;
    weight = tr.inputs[0];
    layout = 'vd';
    if (onlyUser(wIn, node)) nodes.push(tr);
  }
  const w = g.initializers.get(weight)!;
  if (w.dtype !== 'float32' || w.dims.length !== 2) return undefined;
  const [d, vocab] = layout === 'dv' ? w.dims : [w.dims[1], w.dims[0]];
  const hShape = staticShape(model, hidden);
  if (!hShape || hShape.length !== 3 || hShape[2] !== d) return undefined;
  if (bias) {
    const bt = g.initializers.get(bias)!;
    if (bt.dtype !== 'float32' || bt.dims.reduce((a, x) => a * x, 1) !== vocab) return undefined;
  }
  return { hidden, weight, layout, bias, d, vocab, nodes };
}

export interface ChunkedLoss extends LossGraph {
  /** Train mode: the hidden state and its gradient (the backward pass starts there). */
  seeds: Map<string, string>;
  /** Eval mode: per-position arg-max prediction [batch, seq] int64 and log-probability of the position's target [batch, seq] (0 where unlabelled). */
  tokens?: { predictions: string; labelLogp: string };
  /** Loop iterations: row chunks, or vocabulary slices when vocabSlice is set. */
  chunks: number;
  chunkRows: number;
  /** Vocabulary slicing (vocabSlicedLoss.ts): table rows per slice (every row of h at once). */
  vocabSlice?: number;
}

/**
 * Replaces the head's nodes in `model` by the chunked loss over `labelInput` (added as an
 * input). `task` is causal-lm (targets shifted as Hugging Face does) or token-classification.
 * `slicing` `rows` (default): chunks of `chunkRows` rows of h; `vocab` (a [V, d] table head
 * only): every row at once, slices of `chunkRows` table rows (vocabSlicedLoss.ts).
 */
export function addChunkedLoss(model: Model, e: Emitter, head: LmHead, task: TaskType, labelInput: string, chunkRows?: number, mode: 'train' | 'eval' = 'train', slicing: 'rows' | 'vocab' = 'rows'): ChunkedLoss {
  const g = model.graph;
  if (task !== 'causal-lm' && task !== 'token-classification') throw new Error(`chunked loss: task ${task} has no per-token head`);
  if (g.inputs.some((i) => i.name === labelInput)) throw new Error(`loss: the model already has an input named "${labelInput}"; choose another label input name`);
  const [bsz, seq, d] = staticShape(model, head.hidden)!;
  const V = head.vocab;
  const rows = bsz * seq;
  // Vocabulary slices (vocabSlicedLoss.ts): all rows at once, so no row padding (one "chunk").
  const c = slicing === 'vocab' ? rows : chunkRows !== undefined ? Math.max(1, Math.min(rows, chunkRows)) : defaultChunkRows(rows, V);
  const K = Math.ceil(rows / c);
  const padded = K * c;
  const removed = new Set(head.nodes);
  g.nodes = g.nodes.filter((n) => !removed.has(n));
  for (const n of head.nodes) for (const o of n.outputs) g.valueInfo.delete(o);
  const b = e.b;
  const scope = 'chunked_loss';
  g.inputs.push({ name: labelInput, dtype: 'int64', shape: [bsz, seq] });

  // Targets [padded] (causal-lm: labels[:, 1:] then -100), the labelled rows, 1/count weights.
  let targets = labelInput;
  if (task === 'causal-lm') {
    const rest = e.op('Slice', [labelInput, b.constInt64([1], false, `${scope}/start`), b.constInt64([seq], false, `${scope}/end`), b.constInt64([1], false, `${scope}/axis`)], {}, [bsz, seq - 1], scope, 'int64');
    const ign = b.constant({ name: `${scope}/ignore`, dtype: 'int64', dims: [bsz, 1], data: new BigInt64Array(bsz).fill(BigInt(IGNORE_INDEX)) });
    targets = e.op('Concat', [rest, ign], { axis: attr.i(1) }, [bsz, seq], scope, 'int64');
  }
  let y = e.op('Reshape', [targets, b.constInt64([rows, 1], false, `${scope}/col`)], {}, [rows, 1], scope, 'int64');
  let hFlat = e.op('Reshape', [head.hidden, b.constInt64([rows, d], false, `${scope}/rows`)], {}, [rows, d], scope);
  if (padded > rows) {
    const padY = b.constant({ name: `${scope}/pad_labels`, dtype: 'int64', dims: [padded - rows, 1], data: new BigInt64Array(padded - rows).fill(BigInt(IGNORE_INDEX)) });
    y = e.op('Concat', [y, padY], { axis: attr.i(0) }, [padded, 1], scope, 'int64');
    const padH = b.constant({ name: `${scope}/pad_hidden`, dtype: 'float32', dims: [padded - rows, d], data: new Float32Array((padded - rows) * d) });
    hFlat = e.op('Concat', [hFlat, padH], { axis: attr.i(0) }, [padded, d], scope);
  }
  const lo = e.op('GreaterOrEqual', [y, b.constInt64([0], true, `${scope}/zero`)], {}, [padded, 1], scope, 'bool');
  const hi = e.op('Less', [y, b.constInt64([V], true, `${scope}/vocab`)], {}, [padded, 1], scope, 'bool');
  const valid = e.op('And', [lo, hi], {}, [padded, 1], scope, 'bool');
  const ySafe = e.op('Where', [valid, y, b.constInt64([0], true, `${scope}/zero_id`)], {}, [padded, 1], scope, 'int64');
  const validF = e.op('Cast', [valid], { to: attr.i(1) }, [padded, 1], scope);
  const labelled = e.setShape(e.reduceSum(validF, undefined, false, scope), []);
  const count = e.op('Max', [labelled, e.scalar(1, `${scope}/one`)], {}, [], scope);
  const w = e.op('Div', [validF, count], {}, [padded, 1], scope);
  const labels = { name: labelInput, dtype: 'int64' as const, shape: [bsz, seq] };

  if (slicing === 'vocab') {
    const sliced = vocabSlicedLoss(model, e, head, { hFlat, ySafe, w, rows }, chunkRows ?? Math.max(1, Math.floor(CHUNK_LOGITS / rows)), mode);
    const loss = e.op('Identity', [sliced.lossSum], {}, [], scope);
    const positions = (v: string, dtype: 'int64' | 'float32') => e.op('Reshape', [v, b.constInt64([bsz, seq], false, `${scope}/positions`)], {}, [bsz, seq], scope, dtype);
    const report = { chunks: sliced.slices, chunkRows: rows, vocabSlice: sliced.sliceRows };
    if (mode === 'eval') return { loss, count, labels, seeds: new Map(), tokens: { predictions: positions(sliced.predictions!, 'int64'), labelLogp: positions(sliced.labelLogp!, 'float32') }, ...report };
    const dh = e.op('Reshape', [sliced.dh!, b.constInt64([bsz, seq, d], false, `${scope}/dh_shape`)], {}, [bsz, seq, d], scope);
    return { loss, count, labels, seeds: new Map([[head.hidden, dh]]), ...report };
  }
  const chunkLen = b.constInt64([c], false, `${scope}/chunk`);
  const axis0 = b.constInt64([0], false, `${scope}/axis0`);
  // Gemm's C input (the bias, added inside the head's Gemm) must have rank <= 2.
  const bias = head.bias && e.op('Reshape', [head.bias, b.constInt64([V], false, `${scope}/bias_shape`)], {}, [V], scope);
  const body = chunkBody(model, b.fresh(`${scope}_body`), { ...head, bias }, { hFlat, ySafe, w, chunkLen, axis0, c, d, V }, mode);
  const zeroLoss = e.scalar(0, `${scope}/zero_loss`);
  const trips = b.constInt64([K], true, `${scope}/trips`);
  if (mode === 'eval') {
    const [lossSum, predStack, logpStack] = b.op('Loop', [trips, '', zeroLoss], { body: { kind: 'graph', value: body } }, { outputs: 3, scope });
    e.setShape(lossSum, []);
    e.setShape(predStack, [K, c], 'int64');
    e.setShape(logpStack, [K, c]);
    const perPosition = (stack: string, dtype: 'int64' | 'float32') => {
      let v = e.op('Reshape', [stack, b.constInt64([padded], false, `${scope}/flat`)], {}, [padded], scope, dtype);
      if (padded > rows) v = e.op('Slice', [v, b.constInt64([0], false, `${scope}/s0`), b.constInt64([rows], false, `${scope}/s1`), axis0], {}, [rows], scope, dtype);
      return e.op('Reshape', [v, b.constInt64([bsz, seq], false, `${scope}/positions`)], {}, [bsz, seq], scope, dtype);
    };
    const loss = e.op('Identity', [lossSum], {}, [], scope);
    return { loss, count, labels, seeds: new Map(), tokens: { predictions: perPosition(predStack, 'int64'), labelLogp: perPosition(logpStack, 'float32') }, chunks: K, chunkRows: c };
  }
  const [lossSum, dhStack] = b.op('Loop', [trips, '', zeroLoss], { body: { kind: 'graph', value: body } }, { outputs: 2, scope });
  e.setShape(lossSum, []);
  e.setShape(dhStack, [K, c, d]);
  let dh = e.op('Reshape', [dhStack, b.constInt64([padded, d], false, `${scope}/dh_rows`)], {}, [padded, d], scope);
  if (padded > rows) dh = e.op('Slice', [dh, b.constInt64([0], false, `${scope}/s0`), b.constInt64([rows], false, `${scope}/s1`), axis0], {}, [rows, d], scope);
  dh = e.op('Reshape', [dh, b.constInt64([bsz, seq, d], false, `${scope}/dh_shape`)], {}, [bsz, seq, d], scope);
  const loss = e.op('Identity', [lossSum], {}, [], scope);
  return { loss, count, labels, seeds: new Map([[head.hidden, dh]]), chunks: K, chunkRows: c };
}

interface BodyInputs { hFlat: string; ySafe: string; w: string; chunkLen: string; axis0: string; c: number; d: number; V: number }

/**
 * One iteration: (i, cond, loss) -> (cond, loss - chunk's sum, dh of the chunk [c, d]) in train
 * mode; (cond, loss - chunk's sum, arg-max [c], log-probability of the target [c]) in eval mode.
 */
function chunkBody(model: Model, scope: string, head: LmHead, x: BodyInputs, mode: 'train' | 'eval'): Graph {
  const body = emptyGraph(scope);
  const e = new Emitter(new GraphBuilder(body), model);
  const b = e.b;
  const { c, d, V } = x;
  const iter = `${scope}/i`;
  const cond = `${scope}/cond`;
  const acc = `${scope}/loss_in`;
  body.inputs.push({ name: iter, dtype: 'int64', shape: [] }, { name: cond, dtype: 'bool', shape: [] }, { name: acc, dtype: 'float32', shape: [] });
  // Rows [i*c, i*c + c) of the outer-scope tensors.
  const iterVec = e.op('Reshape', [iter, b.constInt64([1], false, `${scope}/one_dim`)], {}, [1], scope, 'int64');
  const start = e.op('Mul', [iterVec, x.chunkLen], {}, [1], scope, 'int64');
  const end = e.op('Add', [start, x.chunkLen], {}, [1], scope, 'int64');
  const h = e.op('Slice', [x.hFlat, start, end, x.axis0], {}, [c, d], scope);
  const y = e.op('Slice', [x.ySafe, start, end, x.axis0], {}, [c, 1], scope, 'int64');
  const w = e.op('Slice', [x.w, start, end, x.axis0], {}, [c, 1], scope);
  if (mode === 'eval') {
    let z = head.layout === 'dv'
      ? e.op('MatMul', [h, head.weight], {}, [c, V], scope)
      : e.op('Gemm', [h, head.weight], { transB: attr.i(1) }, [c, V], scope);
    if (head.bias) z = e.op('Add', [z, head.bias], {}, [c, V], scope);
    const logp = e.op('LogSoftmax', [z], { axis: attr.i(1) }, [c, V], scope);
    const picked = e.op('GatherElements', [logp, y], { axis: attr.i(1) }, [c, 1], scope);
    const accOut = e.op('Sub', [acc, e.setShape(e.reduceSum(e.op('Mul', [picked, w], {}, [c, 1], scope), undefined, false, scope), [])], {}, [], scope);
    // The arg-max as TopK's index (k = 1): the lower index wins a tie, as ArgMax's first
    // occurrence does, and ORT's TopK kernel is faster (eval loss Loop at 4 x 512, V 32000,
    // 1 thread: 554 -> 516 CPU ms).
    const [, top] = b.op('TopK', [z, b.constInt64([1], false, `${scope}/k1`)], { axis: attr.i(1) }, { outputs: 2, scope });
    e.setShape(top, [c, 1], 'int64');
    const pred = e.op('Reshape', [top, b.constInt64([c], false, `${scope}/pred_rows`)], {}, [c], scope, 'int64');
    const logpY = e.op('Reshape', [picked, b.constInt64([c], false, `${scope}/rows`)], {}, [c], scope);
    const condOut = e.op('Identity', [cond], {}, [], scope, 'bool');
    body.outputs.push({ name: condOut, dtype: 'bool', shape: [] }, { name: accOut, dtype: 'float32', shape: [] }, { name: pred, dtype: 'int64', shape: [c] }, { name: logpY, dtype: 'float32', shape: [c] });
    return body;
  }
  // Train: two passes over [c, V] besides the head's products (LogSoftmax, Exp); the one-hot is
  // subtracted in place (ScatterElements writes p_y - 1 at the target, at any opset >= 11; ORT
  // reuses p's buffer) and w scales the [c, d] product, which is V/d times smaller than [c, V].
  // Measured at 1 thread (4 x 512 tokens, d 512, V 32000): the body's elementwise kernels
  // 151 -> 95 ms per step (the weight's Mul over [c, V] was most of it). Tried and slower: Softmax with
  // log-sum-exp = max(z) - log(max(softmax)) (two ReduceMax passes, and ScatterElements then
  // copies p), or with ArgMax (a slow kernel); subtracting W^T[y] after the product (a strided
  // Gather of the [d, V] layout's columns).
  const z = e.op('Gemm', head.bias ? [h, head.weight, head.bias] : [h, head.weight], head.layout === 'vd' ? { transB: attr.i(1) } : {}, [c, V], scope);
  const logp = e.op('LogSoftmax', [z], { axis: attr.i(1) }, [c, V], scope);
  const logpY = e.op('GatherElements', [logp, y], { axis: attr.i(1) }, [c, 1], scope);
  const part = e.setShape(e.reduceSum(e.op('Mul', [logpY, w], {}, [c, 1], scope), undefined, false, scope), []);
  const accOut = e.op('Sub', [acc, part], {}, [], scope);
  // p - onehot(y), then dh = w (p - onehot(y)) W^T. p_y comes from log p_y, so that the scatter
  // is p's only reader (ORT then writes it in p's buffer; liveMemory counts it so).
  const p = e.op('Exp', [logp], {}, [c, V], scope);
  const pY = e.op('Exp', [logpY], {}, [c, 1], scope);
  const dz = e.op('ScatterElements', [p, y, e.op('Sub', [pY, e.scalar(1, `${scope}/one`)], {}, [c, 1], scope)], { axis: attr.i(1) }, [c, V], scope);
  const g = e.op('Gemm', [dz, head.weight], head.layout === 'dv' ? { transB: attr.i(1) } : {}, [c, d], scope);
  const dh = e.op('Mul', [g, w], {}, [c, d], scope);
  const condOut = e.op('Identity', [cond], {}, [], scope, 'bool');
  body.outputs.push({ name: condOut, dtype: 'bool', shape: [] }, { name: accOut, dtype: 'float32', shape: [] }, { name: dh, dtype: 'float32', shape: [c, d] });
  return body;
}
