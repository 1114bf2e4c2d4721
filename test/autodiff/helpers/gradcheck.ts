// Finite-difference gradient check (in the spirit of ORT's GradientChecker): builds
// forward graph + loss = sum_k sum(out_k * W_k) (W random, so every output element matters),
// appends gradients with buildGradients, and compares them with central differences of the
// loss, all run in onnxruntime-node. float64 where ORT has double kernels, else float32.
import * as ort from 'onnxruntime-node';
import type { DataType, Model } from '../../../native-runtime/onnx/ir';
import { attr, emptyGraph, GraphBuilder } from '../../../native-runtime/onnx/ir';
import { specialize } from '../../../native-runtime/onnx/specialize';
import { buildGradients } from '../../../native-runtime/autodiff';
import { modelToBytes } from '../../../native-runtime/onnx/proto';
import { rng } from './ort';

export type Kind = 'any' | 'positive' | 'away0';

export interface InputSpec {
  shape: number[];
  /** any: U(-1,1); positive: U(0.5,2); away0: |x| in (0.3,1). Default any. */
  kind?: Kind;
  /** Explicit values (override kind). */
  values?: number[];
}

export interface GradCase {
  title: string;
  /** Differentiable inputs (graph inputs named x0, x1, ...). */
  inputs: InputSpec[];
  /** Builds the forward op(s); returns the outputs that enter the loss. */
  build: (b: GraphBuilder, x: string[], dtype: DataType) => string[];
  opset?: number;
  /** Force float32 (ops without double kernels in ORT); default tries float64 first. */
  float32?: boolean;
}

export interface CheckResult {
  dtype: DataType;
  maxAbsErr: number;
  worst: string;
  forwardOps: string[];
}

function sample(spec: InputSpec, r: () => number): number[] {
  const n = spec.shape.reduce((a, d) => a * d, 1);
  if (spec.values) return spec.values.slice();
  return Array.from({ length: n }, () => {
    const u = r();
    switch (spec.kind ?? 'any') {
      case 'positive': return 0.5 + 1.5 * u;
      case 'away0': return (r() < 0.5 ? -1 : 1) * (0.3 + 0.7 * u);
      default: return 2 * u - 1;
    }
  });
}

function makeTensor(dtype: DataType, data: ArrayLike<number>, dims: number[]): ort.Tensor {
  return dtype === 'float64' ? new ort.Tensor('float64', Float64Array.from(data), dims) : new ort.Tensor('float32', Float32Array.from(data), dims);
}

/** Forward graph of a case (used to list which ops the cases cover). */
export function buildForward(c: GradCase, dtype: DataType): { model: Model; outs: string[] } {
  const g = emptyGraph(c.title.replace(/\W+/g, '_'));
  const names = c.inputs.map((_, k) => `x${k}`);
  c.inputs.forEach((s, k) => g.inputs.push({ name: names[k], dtype, shape: s.shape }));
  const b = new GraphBuilder(g);
  const outs = c.build(b, names, dtype);
  for (const o of outs) g.outputs.push({ name: o, dtype });
  const opset = c.opset ?? 17;
  return { model: { graph: g, opsetImports: [{ domain: '', version: opset }], irVersion: opset >= 19 ? 9 : 8, producerName: 'gradcheck', metadata: {} }, outs };
}

async function buildCheckModel(c: GradCase, dtype: DataType, seed: number): Promise<{ bytes: Uint8Array; gradNames: string[]; forwardOps: string[] }> {
  const shapes = Object.fromEntries(c.inputs.map((s, k) => [`x${k}`, s.shape]));
  // Pass 1: output shapes, for the loss weights.
  const first = buildForward(c, dtype);
  const forwardOps = first.model.graph.nodes.map((n) => n.opType);
  const spec1 = await specialize(first.model, shapes);
  const outShapes = first.outs.map((o) => spec1.graph.outputs.find((v) => v.name === o)!.shape as number[]);
  // Pass 2: forward + float64 loss, specialised so every value has a shape.
  const { model, outs } = buildForward(c, dtype);
  const g = model.graph;
  const b = new GraphBuilder(g);
  const r = rng(seed + 1000);
  const terms = outs.map((o, k) => {
    const n = outShapes[k].reduce((a, d) => a * d, 1);
    const w = b.constant({ name: `w${k}`, dtype: 'float64', dims: outShapes[k], data: Float64Array.from({ length: n }, () => 2 * r() - 1) });
    const o64 = dtype === 'float64' ? o : b.op1('Cast', [o], { to: attr.i(11) });
    const axes = outShapes[k].map((_, a) => a);
    const prod = b.op1('Mul', [o64, w]);
    return (c.opset ?? 17) >= 13
      ? b.op1('ReduceSum', [prod, b.constInt64(axes)], { keepdims: attr.i(0) })
      : b.op1('ReduceSum', [prod], { axes: attr.ints(axes), keepdims: attr.i(0) });
  });
  const loss = terms.length === 1 ? terms[0] : b.op1('Sum', terms);
  g.outputs = [{ name: loss, dtype: 'float64' }];
  const spec = await specialize(model, shapes);
  const names = c.inputs.map((_, k) => `x${k}`);
  const grads = buildGradients(spec.graph, loss, names, { opset: c.opset ?? 17 });
  const gb = new GraphBuilder(spec.graph);
  const gradNames = names.map((x) => {
    const out = gb.op1('Identity', [grads.get(x)!], {}, `grad_${x}`);
    spec.graph.outputs.push({ name: out, dtype });
    return out;
  });
  return { bytes: modelToBytes(spec), gradNames, forwardOps };
}

export async function gradCheck(c: GradCase, seed = 1): Promise<CheckResult> {
  const dtypes: DataType[] = c.float32 ? ['float32'] : ['float64', 'float32'];
  let lastErr: unknown;
  for (const dtype of dtypes) {
    let session: ort.InferenceSession;
    let built: Awaited<ReturnType<typeof buildCheckModel>>;
    try {
      built = await buildCheckModel(c, dtype, seed);
      session = await ort.InferenceSession.create(built.bytes, { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1, logSeverityLevel: 3 });
    } catch (e) {
      // No double kernel for some op (forward or gradient): retry in float32.
      lastErr = e;
      if (dtype === 'float64' && /Could not find an implementation/i.test(String(e))) continue;
      throw e;
    }
    const { gradNames, forwardOps } = built;
    try {
      return { ...(await compare(session, c, dtype, gradNames, seed)), forwardOps };
    } finally {
      await session.release();
    }
  }
  throw lastErr;
}

async function compare(session: ort.InferenceSession, c: GradCase, dtype: DataType, gradNames: string[], seed: number): Promise<Omit<CheckResult, 'forwardOps'>> {
  const r = rng(seed);
  const values = c.inputs.map((s) => {
    const v = sample(s, r);
    return dtype === 'float32' ? Array.from(Float32Array.from(v)) : v;
  });
  const lossName = session.outputNames[0];
  const feeds = (vals: number[][]) => Object.fromEntries(vals.map((v, k) => [`x${k}`, makeTensor(dtype, v, c.inputs[k].shape)]));
  const base = await session.run(feeds(values));
  const analytic = gradNames.map((n) => Array.from(base[n].data as Float64Array));
  const eps = dtype === 'float64' ? 1e-6 : 1e-2;
  const [atol, rtol] = dtype === 'float64' ? [1e-8, 1e-6] : [2e-3, 1e-2];
  let maxAbsErr = 0;
  let worst = '';
  for (let k = 0; k < values.length; k++) {
    for (let i = 0; i < values[k].length; i++) {
      const plus = values.map((v) => v.slice());
      const minus = values.map((v) => v.slice());
      plus[k][i] += eps;
      minus[k][i] -= eps;
      // In float32 the perturbation actually applied is what the rounding leaves.
      const hi = dtype === 'float32' ? Math.fround(plus[k][i]) : plus[k][i];
      const lo = dtype === 'float32' ? Math.fround(minus[k][i]) : minus[k][i];
      const lp = Number((await session.run(feeds(plus), [lossName]))[lossName].data[0]);
      const lm = Number((await session.run(feeds(minus), [lossName]))[lossName].data[0]);
      const numeric = (lp - lm) / (hi - lo);
      const a = analytic[k][i];
      const err = Math.abs(a - numeric);
      if (err > maxAbsErr) { maxAbsErr = err; worst = `x${k}[${i}]: analytic ${a}, numeric ${numeric}`; }
      if (!(err <= atol + rtol * Math.abs(numeric))) {
        throw new Error(`${c.title} (${dtype}): gradient of x${k}[${i}] is ${a}, finite differences give ${numeric} (|diff| ${err.toExponential(2)})`);
      }
    }
  }
  return { dtype, maxAbsErr, worst };
}
