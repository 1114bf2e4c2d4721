// RMSNorm's forward as one SimplifiedLayerNormalization (onnx/rmsNormFusion.ts): both exported
// spellings are fused, the values of y and of the inverse root q (read by the backward) equal the
// seven nodes' in real onnxruntime sessions (1e-6), and norms the kernel would compute
// differently are left alone.
import * as assert from 'assert';
import { attr, emptyGraph, GraphBuilder, type Model } from '../../native-runtime/onnx/ir';
import { fuseRmsNorms } from '../../native-runtime/onnx/rmsNormFusion';
import { createSession, ortTensor } from '../../native-runtime/onnx/session';
import { modelToBytes } from '../../native-runtime/onnx/proto';

const X = [2, 3, 8];

interface Spelling {
  opset: 17 | 18;
  /** x^2 as Pow(x, 2) or Mul(x, x); 1/r as Div(1, r) or Reciprocal(r). */
  square: 'Pow' | 'Mul';
  inverse: 'Div' | 'Reciprocal';
  /** The export's Cast of n before the weight. */
  cast: boolean;
  /** What should keep the nodes apart (undefined: fused). */
  spoil?: 'n read elsewhere' | 'mean over axis 1' | 'weight not [D]';
}

/** y = w * (x / sqrt(mean(x^2) + eps)) with q = 1/sqrt(..) also read by another node (as the backward does). */
function model(s: Spelling): Model {
  const graph = emptyGraph('rms');
  const b = new GraphBuilder(graph);
  graph.inputs.push({ name: 'x', dtype: 'float32', shape: X });
  const info = (name: string, shape: number[]) => graph.valueInfo.set(name, { name, dtype: 'float32', shape });
  const sq = s.square === 'Pow' ? b.op1('Pow', ['x', b.constFloat(2, 'two')]) : b.op1('Mul', ['x', 'x']);
  const axis = s.spoil === 'mean over axis 1' ? 1 : -1;
  const mean = s.opset === 18
    ? b.op1('ReduceMean', [sq, b.constInt64([axis], false, 'axes')], { keepdims: attr.i(1) })
    : b.op1('ReduceMean', [sq], { axes: attr.ints([axis]), keepdims: attr.i(1) });
  // A large epsilon, so that a kernel without it (or with another) gives other values.
  const a = b.op1('Add', [b.constFloat(0.25, 'eps'), mean]);
  const r = b.op1('Sqrt', [a]);
  const q = s.inverse === 'Div' ? b.op1('Div', [b.constFloat(1, 'one'), r]) : b.op1('Reciprocal', [r]);
  let n = b.op1('Mul', ['x', q]);
  if (s.cast) n = b.op1('Cast', [n], { to: attr.i(1) });
  const wDims = s.spoil === 'weight not [D]' ? X : [X[2]];
  const w = b.constant({ name: 'w', dtype: 'float32', dims: wDims, data: Float32Array.from({ length: wDims.reduce((p, d) => p * d, 1) }, (_, k) => 0.5 + Math.cos(k)) });
  const y = b.op1('Mul', [w, n]);
  const qUse = b.op1('Mul', [q, b.constFloat(3, 'three')]);
  const meanShape = axis === 1 ? [2, 1, 8] : [2, 3, 1];
  for (const v of [sq, n, y]) info(v, X);
  for (const v of [mean, a, r, q, qUse]) info(v, meanShape);
  graph.outputs.push({ name: y, dtype: 'float32', shape: X }, { name: qUse, dtype: 'float32', shape: meanShape });
  if (s.spoil === 'n read elsewhere') graph.outputs.push({ name: n, dtype: 'float32', shape: X });
  return { graph, opsetImports: [{ domain: '', version: s.opset }], irVersion: 8, producerName: 'test', metadata: {} };
}

async function run(m: Model): Promise<Float32Array[]> {
  const x = Float32Array.from({ length: 48 }, (_, k) => Math.sin(1.3 * k) * (k % 3 === 0 ? 4 : 0.5));
  const { session } = await createSession(modelToBytes(m), { device: 'cpu', threads: 1 });
  const out = await session.run({ x: ortTensor('float32', x, X) });
  await session.release();
  return m.graph.outputs.map((o) => out[o.name].data as Float32Array);
}

describe('onnx/rmsNormFusion', () => {
  const fused: Spelling[] = [
    { opset: 17, square: 'Pow', inverse: 'Div', cast: true },
    { opset: 18, square: 'Mul', inverse: 'Reciprocal', cast: false },
  ];
  for (const s of fused) {
    it(`fuses ${s.square}, ${s.inverse}${s.cast ? ', Cast' : ''} (opset ${s.opset}): y and q as before (1e-6), q keeps its readers`, async () => {
      const m = model(s);
      const before = await run(m);
      const q = m.graph.nodes.find((n) => n.opType === s.inverse)!.outputs[0];
      assert.strictEqual(fuseRmsNorms(m.graph, s.opset), 1);
      assert.deepStrictEqual(m.graph.nodes.map((n) => n.opType), ['SimplifiedLayerNormalization', 'Mul']);
      assert.deepStrictEqual(m.graph.nodes[0].outputs, [m.graph.outputs[0].name, q]);
      assert.ok(!m.graph.initializers.has('eps') && !m.graph.initializers.has('one'), 'constants nothing reads are dropped');
      const after = await run(m);
      before.forEach((b, o) => b.forEach((v, k) => assert.ok(Math.abs(after[o][k] - v) <= 1e-6 * Math.max(1, Math.abs(v)), `output ${o}[${k}]: ${after[o][k]} vs ${v}`)));
    });
  }
  for (const spoil of ['n read elsewhere', 'mean over axis 1', 'weight not [D]'] as const) {
    it(`leaves the nodes alone: ${spoil}`, () => {
      const m = model({ opset: 17, square: 'Pow', inverse: 'Div', cast: true, spoil });
      const ops = m.graph.nodes.map((n) => n.opType);
      assert.strictEqual(fuseRmsNorms(m.graph, 17), 0);
      assert.deepStrictEqual(m.graph.nodes.map((n) => n.opType), ops);
    });
  }
});
