// The chunked LM loss in slices of the vocabulary instead of chunks of rows, for a head that is
// a [V, d] table held in a smaller type (model.weights_dtype with a tied embedding table).
//
// Row chunks (chunkedLoss.ts) read the whole head in every iteration: with a quantized table
// that would dequantize all of it, a [V, d] float32 transient (544 MB for Qwen2's 151,936 x 896)
// per chunk, at the step's peak. Here each iteration reads rows [s*Vs, (s+1)*Vs) of the table
// with a Gather, which the weights_dtype rewrite (quant/rewrite.ts) turns into a gather of the
// stored rows and a dequantization of those only ([Vs, d]: a few MB), so the float32 table
// never exists. One Loop over the slices keeps, per row, an online log-sum-exp (running max m,
// running sum l of exp(z - m)), the target's logit and:
//   - train: acc = sum over slices of exp(z_s - m) T_s, rescaled by exp(m - m') whenever the
//     running max rises (the online-softmax identity flash attention uses), so that after the
//     last slice acc / l = softmax(z) T and dh = w (acc / l - T[y]) (T[y]: the targets' rows,
//     a Gather of the table outside the Loop, which the weights_dtype rewrite also reads from the
//     stored form);
//   - eval: the arg-max (first index of the largest logit, as ArgMax).
// z_s = h T_sᵀ (+ b_s) is computed once per slice, as with the row chunks (an earlier form ran a
// second Loop for the gradient once lse was known, one more [rows, d] x [d, V] product and one
// more gather and dequantization of every slice per step). Every rows x Vs tensor is freed per
// iteration (ORT frees a Loop body's intermediates), Vs chosen like the row chunks' size
// (CHUNK_LOGITS logits). Columns past V in the last slice read row V-1 and are masked.
import type { Graph, Model } from '../onnx/ir';
import { attr, emptyGraph, GraphBuilder } from '../onnx/ir';
import { Emitter } from '../adapters/emit';
import type { LmHead } from './chunkedLoss';

export interface VocabSliceInputs {
  /** Hidden state rows [rows, d]. */
  hFlat: string;
  /** Target per row [rows, 1] int64, 0 where unlabelled. */
  ySafe: string;
  /** Weight per row [rows, 1]: 1/count where labelled, else 0. */
  w: string;
  rows: number;
}

export interface VocabSliceResult {
  /** Sum over rows of -w log p(y) (a scalar). */
  lossSum: string;
  /** Train: dh [rows, d]. */
  dh?: string;
  /** Eval: arg-max [rows] int64 and log p(target) [rows]. */
  predictions?: string;
  labelLogp?: string;
  slices: number;
  sliceRows: number;
}

/** Logit given to the columns past the vocabulary in the last slice: exp() of it is 0. */
const MASKED = -1e30;

export function vocabSlicedLoss(model: Model, e: Emitter, head: LmHead, x: VocabSliceInputs, sliceRows: number, mode: 'train' | 'eval'): VocabSliceResult {
  const b = e.b;
  const scope = 'chunked_loss';
  const { rows } = x;
  const { d, vocab: V } = head;
  if (head.layout !== 'vd') throw new Error('vocab-sliced loss: the head must be a [V, d] table');
  const Vs = Math.max(1, Math.min(V, sliceRows));
  const K = Math.ceil(V / Vs);
  const bias = head.bias ? e.op('Reshape', [head.bias, b.constInt64([V], false, `${scope}/bias_flat`)], {}, [V], scope) : undefined;
  const consts = {
    arange: b.constant({ name: `${scope}/slice_arange`, dtype: 'int64', dims: [Vs], data: BigInt64Array.from({ length: Vs }, (_, k) => BigInt(k)) }),
    sliceLen: b.constInt64([Vs], true, `${scope}/slice_len`),
    last: b.constInt64([V - 1], true, `${scope}/last_id`),
    vocab: V % Vs !== 0 ? b.constInt64([V], true, `${scope}/vocab_size`) : '',
  };
  const trips = b.constInt64([K], true, `${scope}/slice_trips`);
  const full = (value: number, dims: number[], name: string) => b.constant({ name: `${scope}/${name}`, dtype: 'float32', dims, data: new Float32Array(dims.reduce((a, k) => a * k, 1)).fill(value) });

  // The Loop: running max, running sum, the target's logit (+ acc in train, the arg-max and its logit in eval).
  const stats = statsBody(model, b.fresh(`${scope}_lse_body`), head, x, { V, Vs, d, rows, bias, ...consts }, mode);
  const init = [full(-Infinity, [rows, 1], 'm0'), full(0, [rows, 1], 'l0'), full(0, [rows, 1], 'zy0')];
  if (mode === 'eval') init.push(full(-Infinity, [rows, 1], 'best0'), b.constant({ name: `${scope}/arg0`, dtype: 'int64', dims: [rows, 1], data: new BigInt64Array(rows) }));
  else init.push(e.op('ConstantOfShape', [b.constInt64([rows, d], false, `${scope}/acc_shape0`)], { value: attr.t({ name: '', dtype: 'float32', dims: [1], data: new Float32Array(1) }) }, [rows, d], scope));
  const outs = b.op('Loop', [trips, '', ...init], { body: { kind: 'graph', value: stats } }, { outputs: init.length, scope });
  const [m, l, zy] = outs.map((o) => e.setShape(o, [rows, 1]));
  const lse = e.op('Add', [m, e.op('Log', [l], {}, [rows, 1], scope)], {}, [rows, 1], scope);
  const logpY = e.op('Sub', [zy, lse], {}, [rows, 1], scope);
  const weighted = e.op('Mul', [logpY, x.w], {}, [rows, 1], scope);
  const lossSum = e.op('Neg', [e.setShape(e.reduceSum(weighted, undefined, false, scope), [])], {}, [], scope);
  if (mode === 'eval') {
    e.setShape(outs[3], [rows, 1]);
    const predictions = e.op('Reshape', [e.setShape(outs[4], [rows, 1], 'int64'), b.constInt64([rows], false, `${scope}/pred_rows`)], {}, [rows], scope, 'int64');
    const labelLogp = e.op('Reshape', [logpY, b.constInt64([rows], false, `${scope}/logp_rows`)], {}, [rows], scope);
    return { lossSum, predictions, labelLogp, slices: K, sliceRows: Vs };
  }
  // dh = w (softmax(z) - onehot(y)) T = w (acc / l - T[y]).
  const acc = e.setShape(outs[3], [rows, d]);
  const targets = e.op('Reshape', [x.ySafe, b.constInt64([rows], false, `${scope}/target_rows`)], {}, [rows], scope, 'int64');
  const targetRows = e.op('Gather', [head.weight, targets], { axis: attr.i(0) }, [rows, d], scope);
  const expected = e.op('Div', [acc, l], {}, [rows, d], scope);
  const dh = e.op('Mul', [e.op('Sub', [expected, targetRows], {}, [rows, d], scope), x.w], {}, [rows, d], scope);
  return { lossSum, dh, slices: K, sliceRows: Vs };
}

interface SliceConsts { V: number; Vs: number; d: number; rows: number; bias?: string; arange: string; sliceLen: string; last: string; vocab: string }

/**
 * In a body: the slice's logits z [rows, Vs] (masked past V), the slice's first id (a [1]
 * int64) and the target's local column with whether it falls in this slice.
 */
function sliceLogits(e: Emitter, scope: string, iter: string, head: LmHead, x: VocabSliceInputs, c: SliceConsts) {
  const { Vs, d, rows } = c;
  const start = e.op('Mul', [iter, c.sliceLen], {}, [], scope, 'int64');
  const ids = e.op('Add', [c.arange, start], {}, [Vs], scope, 'int64');
  const idsSafe = e.op('Min', [ids, c.last], {}, [Vs], scope, 'int64');
  // The rows of the table for this slice (the weights_dtype rewrite gathers stored rows here).
  const table = e.op('Gather', [head.weight, idsSafe], { axis: attr.i(0) }, [Vs, d], scope);
  let z = e.op('Gemm', [x.hFlat, table], { transB: attr.i(1) }, [rows, Vs], scope);
  if (c.bias) z = e.op('Add', [z, e.op('Gather', [c.bias, idsSafe], { axis: attr.i(0) }, [Vs], scope)], {}, [rows, Vs], scope);
  if ((c.V % Vs) !== 0) {
    const past = e.op('GreaterOrEqual', [ids, c.vocab], {}, [Vs], scope, 'bool');
    z = e.op('Where', [past, e.scalar(MASKED, `${scope}/masked`), z], {}, [rows, Vs], scope);
  }
  const local = e.op('Sub', [x.ySafe, start], {}, [rows, 1], scope, 'int64');
  const zero = e.b.constInt64([0], true, `${scope}/zero`);
  const inSlice = e.op('And', [e.op('GreaterOrEqual', [local, zero], {}, [rows, 1], scope, 'bool'), e.op('Less', [local, c.sliceLen], {}, [rows, 1], scope, 'bool')], {}, [rows, 1], scope, 'bool');
  const localSafe = e.op('Where', [inSlice, local, zero], {}, [rows, 1], scope, 'int64');
  return { z, table, start, inSlice, localSafe };
}

interface Carried { name: string; dtype: 'float32' | 'int64'; dims: number[] }

function bodyGraph(model: Model, scope: string, carried: Carried[]): { body: Graph; e: Emitter; iter: string; cond: string; inputs: string[] } {
  const body = emptyGraph(scope);
  const e = new Emitter(new GraphBuilder(body), model);
  const iter = `${scope}/i`;
  const cond = `${scope}/cond`;
  body.inputs.push({ name: iter, dtype: 'int64', shape: [] }, { name: cond, dtype: 'bool', shape: [] });
  const inputs = carried.map((c) => {
    const name = `${scope}/${c.name}_in`;
    body.inputs.push({ name, dtype: c.dtype, shape: c.dims });
    e.setShape(name, c.dims, c.dtype);
    return name;
  });
  return { body, e, iter, cond, inputs };
}

function statsBody(model: Model, scope: string, head: LmHead, x: VocabSliceInputs, c: SliceConsts, mode: 'train' | 'eval'): Graph {
  const { rows, Vs } = c;
  const col = { dtype: 'float32' as const, dims: [rows, 1] };
  const carried: Carried[] = [{ name: 'm', ...col }, { name: 'l', ...col }, { name: 'zy', ...col }];
  if (mode === 'eval') carried.push({ name: 'best', ...col }, { name: 'arg', dtype: 'int64', dims: [rows, 1] });
  else carried.push({ name: 'acc', dtype: 'float32', dims: [rows, c.d] });
  const { body, e, iter, cond, inputs } = bodyGraph(model, scope, carried);
  const [m, l, zy] = inputs;
  const { z, table, start, inSlice, localSafe } = sliceLogits(e, scope, iter, head, x, c);
  // Eval: the slice's largest logit and its first index in one TopK (k = 1; the lower index wins
  // a tie, as ArgMax); train: ReduceMax.
  let top: string;
  let topIdx: string | undefined;
  if (mode === 'eval') {
    [top, topIdx] = e.b.op('TopK', [z, e.b.constInt64([1], false, `${scope}/k1`)], { axis: attr.i(1) }, { outputs: 2, scope });
    e.setShape(top, [rows, 1]);
    e.setShape(topIdx, [rows, 1], 'int64');
  } else top = e.setShape(e.reduceMax(z, [1], true, scope), [rows, 1]);
  const mNew = e.op('Max', [m, top], {}, [rows, 1], scope);
  // exp(m - m'): 0 in the first slice (m = -inf), where l and acc are still 0.
  const rescale = e.op('Exp', [e.op('Sub', [m, mNew], {}, [rows, 1], scope)], {}, [rows, 1], scope);
  const rescaled = e.op('Mul', [l, rescale], {}, [rows, 1], scope);
  const expZ = e.op('Exp', [e.op('Sub', [z, mNew], {}, [rows, Vs], scope)], {}, [rows, Vs], scope);
  const lNew = e.op('Add', [rescaled, e.setShape(e.reduceSum(expZ, [1], true, scope), [rows, 1])], {}, [rows, 1], scope);
  const picked = e.op('GatherElements', [z, localSafe], { axis: attr.i(1) }, [rows, 1], scope);
  const zyNew = e.op('Add', [zy, e.op('Where', [inSlice, picked, e.scalar(0, `${scope}/zero_f`)], {}, [rows, 1], scope)], {}, [rows, 1], scope);
  const condOut = e.op('Identity', [cond], {}, [], scope, 'bool');
  body.outputs.push({ name: condOut, dtype: 'bool', shape: [] }, ...[mNew, lNew, zyNew].map((name) => ({ name, dtype: 'float32' as const, shape: [rows, 1] })));
  if (mode === 'train') {
    // acc' = acc exp(m - m') + exp(z_s - m') T_s: sum over the slices so far of exp(z - m') T.
    const accNew = e.op('Add', [e.op('Mul', [inputs[3], rescale], {}, [rows, c.d], scope), e.op('MatMul', [expZ, table], {}, [rows, c.d], scope)], {}, [rows, c.d], scope);
    body.outputs.push({ name: accNew, dtype: 'float32', shape: [rows, c.d] });
  }
  if (mode === 'eval') {
    const [best, arg] = inputs.slice(3);
    const idx = e.op('Add', [topIdx!, start], {}, [rows, 1], scope, 'int64');
    // Strictly greater: an equal logit in a later slice does not win (ArgMax picks the first).
    const better = e.op('Greater', [top, best], {}, [rows, 1], scope, 'bool');
    const bestNew = e.op('Where', [better, top, best], {}, [rows, 1], scope);
    const argNew = e.op('Where', [better, idx, arg], {}, [rows, 1], scope, 'int64');
    body.outputs.push({ name: bestNew, dtype: 'float32', shape: [rows, 1] }, { name: argNew, dtype: 'int64', shape: [rows, 1] });
  }
  return body;
}
