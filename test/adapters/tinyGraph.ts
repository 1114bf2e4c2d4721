// A tiny hand-built "transformer-shaped" graph for adapter unit tests, with static shapes in
// valueInfo (as specialisation leaves them) and a plain-JS reference of the math.
import type { Model } from '../../native-runtime/onnx/ir';
import { GraphBuilder, attr, emptyGraph, floatTensor } from '../../native-runtime/onnx/ir';
import { mulberry32 } from '../../native-runtime/adapters/init';

export const B = 2, T = 3, D = 4, C = 3;

export function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

/**
 * x [B,T,D] -> /layer.0/value/MatMul (+bias) -> /layer.1/value/MatMul (+bias) -> mean over T
 * -> /classifier/Gemm (transB) -> logits [B,C]. Weights as torch exports them: MatMul
 * weights pre-transposed ([d_in, d_out], generic names), Gemm weight [d_out, d_in].
 * With `dynamicBatch` the batch dim is symbolic (specialise it before use).
 */
export function tinyModel(opts: { dynamicBatch?: boolean } = {}): Model {
  const g = emptyGraph('tiny');
  const batch = opts.dynamicBatch ? 'batch' : B;
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [batch, T, D] }, { name: 'attention_mask', dtype: 'int64', shape: [batch, T] });
  const b = new GraphBuilder(g);
  const vi = (name: string, shape: number[]) => g.valueInfo.set(name, { name, dtype: 'float32', shape });
  let h = 'x';
  for (let l = 0; l < 2; l++) {
    g.initializers.set(`onnx::MatMul_${l}`, floatTensor(`onnx::MatMul_${l}`, [D, D], randn(D * D, 10 + l, 0.5)));
    g.initializers.set(`layer.${l}.value.bias`, floatTensor(`layer.${l}.value.bias`, [D], randn(D, 20 + l, 0.1)));
    const mm = `/layer.${l}/value/MatMul_output_0`;
    g.nodes.push({ name: `/layer.${l}/value/MatMul`, opType: 'MatMul', domain: '', inputs: [h, `onnx::MatMul_${l}`], outputs: [mm], attrs: {} });
    vi(mm, [B, T, D]);
    const add = `/layer.${l}/value/Add_output_0`;
    g.nodes.push({ name: `/layer.${l}/value/Add`, opType: 'Add', domain: '', inputs: [`layer.${l}.value.bias`, mm], outputs: [add], attrs: {} });
    vi(add, [B, T, D]);
    h = add;
  }
  const pooled = b.op1('ReduceMean', [h], { axes: attr.ints([1]), keepdims: attr.i(0) }, 'pool');
  vi(pooled, [B, D]);
  g.initializers.set('classifier.weight', floatTensor('classifier.weight', [C, D], randn(C * D, 30, 0.5)));
  g.initializers.set('classifier.bias', floatTensor('classifier.bias', [C], randn(C, 31, 0.1)));
  g.nodes.push({ name: '/classifier/Gemm', opType: 'Gemm', domain: '', inputs: [pooled, 'classifier.weight', 'classifier.bias'], outputs: ['logits'], attrs: { transB: attr.i(1) } });
  g.outputs.push({ name: 'logits', dtype: 'float32', shape: [B, C] });
  return { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 'test', metadata: {} };
}

// ---- plain-JS reference math (row-major) ----

export function matmul(a: ArrayLike<number>, b: ArrayLike<number>, n: number, k: number, m: number): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) {
    let s = 0;
    for (let t = 0; t < k; t++) s += a[i * k + t] * b[t * m + j];
    out[i * m + j] = s;
  }
  return out;
}

export function softmaxRows(a: ArrayLike<number>, n: number, m: number): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    let mx = -Infinity;
    for (let j = 0; j < m; j++) mx = Math.max(mx, a[i * m + j]);
    let s = 0;
    for (let j = 0; j < m; j++) s += (out[i * m + j] = Math.exp(a[i * m + j] - mx));
    for (let j = 0; j < m; j++) out[i * m + j] /= s;
  }
  return out;
}

/** Lily delta for rows x [n, dIn] (LILY.md), with an optional row mask (masked routing) or per-token mixing. */
export function lilyDeltaRef(x: ArrayLike<number>, n: number, dIn: number, A: Float32Array, R: Float32Array, Bp: Float32Array,
  r: number, nB: number, dOut: number, scaling: number, routing: 'batch' | 'masked' | 'token', mask?: number[]): Float64Array {
  const h = matmul(x, A, n, dIn, r);
  const p = softmaxRows(matmul(h, R, n, r, nB), n, nB);
  const out = new Float64Array(n * dOut);
  if (routing === 'token') {
    for (let i = 0; i < n; i++) for (let e = 0; e < nB; e++) {
      const hb = matmul(h.subarray(i * r, (i + 1) * r), Bp.subarray(e * r * dOut, (e + 1) * r * dOut), 1, r, dOut);
      for (let j = 0; j < dOut; j++) out[i * dOut + j] += scaling * p[i * nB + e] * hb[j];
    }
    return out;
  }
  const mean = new Float64Array(nB);
  let cnt = 0;
  for (let i = 0; i < n; i++) {
    const w = routing === 'masked' ? mask![i] : 1;
    cnt += w;
    for (let e = 0; e < nB; e++) mean[e] += w * p[i * nB + e];
  }
  for (let e = 0; e < nB; e++) mean[e] /= Math.max(cnt, 1);
  const mix = new Float64Array(r * dOut);
  for (let e = 0; e < nB; e++) for (let k = 0; k < r * dOut; k++) mix[k] += mean[e] * Bp[e * r * dOut + k];
  const d = matmul(h, mix, n, r, dOut);
  for (let k = 0; k < d.length; k++) out[k] = scaling * d[k];
  return out;
}
