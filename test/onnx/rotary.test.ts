// Rotary embeddings as one RotaryEmbedding kernel (onnx/rotary.ts): an HF-style graph (angles
// from position ids, cos/sin of cat(freqs, freqs), rotate_half) is fused and gives the export's
// values in onnxruntime (1e-6), with per-row and shared angle tables; cos/sin whose halves are not
// one value twice, and slices that are not the two halves, are left alone.
import * as assert from 'assert';
import { attr, emptyGraph, GraphBuilder, type Model } from '../../native-runtime/onnx/ir';
import { foldScalesIntoRotary, fuseRotaryEmbeddings } from '../../native-runtime/onnx/rotary';
import { createSession, ortTensor } from '../../native-runtime/onnx/session';
import { modelToBytes } from '../../native-runtime/onnx/proto';

const [B, N, S, H] = [2, 3, 5, 8];

/** y = x * cos + Concat(-x[.., H/2:], x[.., :H/2]) * sin, the angles positions x inv_freq. */
function model(opts: { tableRows: 1 | 2; spoil?: 'halves differ' | 'slices not halves'; scaled?: 'after' | 'before' }): Model {
  const graph = emptyGraph('rope');
  const b = new GraphBuilder(graph);
  const info = (name: string, shape: number[]) => { graph.valueInfo.set(name, { name, dtype: 'float32', shape }); return name; };
  graph.inputs.push({ name: 'in', dtype: 'float32', shape: [B, N, S, H] }, { name: 'pos', dtype: 'float32', shape: [opts.tableRows, S, 1] });
  // x: the input, or (scaled before) the input times 0.3.
  if (opts.scaled === 'before') info(b.op('Mul', ['in', b.constFloat(0.3, 'k_in')], {}, { outputs: ['x'] })[0], [B, N, S, H]);
  else b.op('Identity', ['in'], {}, { outputs: ['x'] });
  info('x', [B, N, S, H]);
  const invFreq = b.constant({ name: 'inv_freq', dtype: 'float32', dims: [1, H / 2], data: Float32Array.from({ length: H / 2 }, (_, k) => 10000 ** (-2 * k / H)) });
  const freqs = info(b.op1('MatMul', ['pos', invFreq]), [opts.tableRows, S, H / 2]);
  const other = opts.spoil === 'halves differ' ? info(b.op1('Mul', [freqs, b.constFloat(2, 'two')]), [opts.tableRows, S, H / 2]) : freqs;
  const emb = info(b.op1('Concat', [freqs, other], { axis: attr.i(-1) }), [opts.tableRows, S, H]);
  const table = (op: string) => info(b.op1('Unsqueeze', [info(b.op1(op, [emb]), [opts.tableRows, S, H]), b.constInt64([1], false, 'axis1')]), [opts.tableRows, 1, S, H]);
  const [cos, sin] = [table('Cos'), table('Sin')];
  const cut = opts.spoil === 'slices not halves' ? H / 2 - 1 : H / 2;
  const slice = (from: number, to: number) => info(b.op1('Slice', ['x', b.constInt64([from]), b.constInt64([to]), b.constInt64([-1])]), [B, N, S, to - from]);
  const x1 = slice(0, cut);
  const x2 = slice(cut, H);
  const rot = info(b.op1('Concat', [info(b.op1('Neg', [x2]), [B, N, S, H - cut]), x1], { axis: attr.i(-1) }), [B, N, S, H]);
  let y = info(b.op1('Add', [info(b.op1('Mul', ['x', cos]), [B, N, S, H]), info(b.op1('Mul', [rot, sin]), [B, N, S, H])]), [B, N, S, H]);
  if (opts.scaled === 'after') y = info(b.op1('Mul', [y, b.constFloat(0.125, 'k_out')]), [B, N, S, H]);
  graph.outputs.push({ name: y, dtype: 'float32', shape: [B, N, S, H] });
  return { graph, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 'test', metadata: {} };
}

async function run(m: Model, tableRows: number): Promise<Float32Array> {
  const x = Float32Array.from({ length: B * N * S * H }, (_, k) => Math.sin(0.7 * k) * 2);
  // Positions per table row (a second row starts at 3, as a packed document would).
  const pos = Float32Array.from({ length: tableRows * S }, (_, k) => (k % S) + 3 * Math.floor(k / S));
  const { session } = await createSession(modelToBytes(m), { device: 'cpu', threads: 1 });
  const out = await session.run({ in: ortTensor('float32', x, [B, N, S, H]), pos: ortTensor('float32', pos, [tableRows, S, 1]) });
  await session.release();
  return out[m.graph.outputs[0].name].data as Float32Array;
}

describe('onnx/rotary', () => {
  for (const tableRows of [1, 2] as const) {
    it(`fuses the export's seven nodes into one RotaryEmbedding (${tableRows === 1 ? 'one angle table' : 'a table per row'}); same values (1e-6)`, async () => {
      const m = model({ tableRows });
      const before = await run(m, tableRows);
      assert.strictEqual(fuseRotaryEmbeddings(m), 1);
      const ops = m.graph.nodes.map((n) => n.opType);
      assert.strictEqual(ops.filter((op) => op === 'RotaryEmbedding').length, 1);
      for (const gone of ['Neg', 'Add']) assert.ok(!ops.includes(gone), `${gone} left: ${ops}`);
      assert.ok(m.opsetImports.some((o) => o.domain === 'com.microsoft'));
      const after = await run(m, tableRows);
      before.forEach((v, k) => assert.ok(Math.abs(after[k] - v) <= 1e-6 * Math.max(1, Math.abs(v)), `y[${k}]: ${after[k]} vs ${v}`));
    });
  }
  for (const scaled of ['after', 'before'] as const) {
    it(`moves a scalar factor ${scaled} the rotation into its caches (foldScalesIntoRotary); same values (1e-6)`, async () => {
      const m = model({ tableRows: 2, scaled });
      const before = await run(m, 2);
      assert.strictEqual(fuseRotaryEmbeddings(m), 1);
      assert.strictEqual(foldScalesIntoRotary(m.graph), 1);
      const big = m.graph.nodes.filter((n) => n.opType === 'Mul' && n.inputs.some((i) => i === 'x' || i === 'in' || m.graph.valueInfo.get(i)?.shape?.length === 4));
      assert.deepStrictEqual(big.map((n) => n.name), [], 'a Mul over [B, heads, S, H] is left');
      const after = await run(m, 2);
      before.forEach((v, k) => assert.ok(Math.abs(after[k] - v) <= 1e-6 * Math.max(1, Math.abs(v)), `y[${k}]: ${after[k]} vs ${v}`));
    });
  }
  for (const spoil of ['halves differ', 'slices not halves'] as const) {
    it(`leaves the nodes alone: ${spoil}`, () => {
      const m = model({ tableRows: 1, spoil });
      const ops = m.graph.nodes.map((n) => n.opType);
      assert.strictEqual(fuseRotaryEmbeddings(m), 0);
      assert.deepStrictEqual(m.graph.nodes.map((n) => n.opType), ops);
    });
  }
});
