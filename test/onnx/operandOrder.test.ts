// Add/Mul with the broadcast operand first are swapped (onnx/operandOrder.ts): the same values,
// bit for bit, from real onnxruntime sessions before and after; only those nodes change.
import * as assert from 'assert';
import { emptyGraph, GraphBuilder, type Model } from '../../native-runtime/onnx/ir';
import { fullOperandFirst } from '../../native-runtime/onnx/operandOrder';
import { createSession, ortTensor } from '../../native-runtime/onnx/session';
import { modelToBytes } from '../../native-runtime/onnx/proto';

function model(): Model {
  const graph = emptyGraph('operands');
  const b = new GraphBuilder(graph);
  graph.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 3, 4] }, { name: 'y', dtype: 'float32', shape: [2, 3, 4] }, { name: 'r', dtype: 'float32', shape: [2, 3, 1] });
  const w = b.constant({ name: 'w', dtype: 'float32', dims: [4], data: Float32Array.from([0.3, -1.7, 2.9, 1e-3]) });
  const info = (name: string, shape: number[]) => graph.valueInfo.set(name, { name, dtype: 'float32', shape });
  const outs = [
    b.op1('Mul', [w, 'x']), // weight first: swapped
    b.op1('Add', ['r', 'y']), // [2,3,1] first: swapped
    b.op1('Mul', ['x', w]), // already full first
    b.op1('Add', ['x', 'y']), // same shapes
    b.op1('Sub', ['r', 'x']), // not commutative
    b.op1('Mul', ['r', w]), // neither operand has the output's shape [2,3,4]
  ];
  for (const o of outs) {
    info(o, [2, 3, 4]);
    graph.outputs.push({ name: o, dtype: 'float32', shape: [2, 3, 4] });
  }
  return { graph, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 'test', metadata: {} };
}

async function run(m: Model, feeds: Record<string, Float32Array>, dims: Record<string, number[]>): Promise<number[][]> {
  const { session } = await createSession(modelToBytes(m), { device: 'cpu', threads: 1 });
  const out = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, ortTensor('float32', v, dims[k])])));
  await session.release();
  return m.graph.outputs.map((o) => Array.from(out[o.name].data as Float32Array));
}

describe('onnx/operandOrder', () => {
  it('puts the full-size operand of Add/Mul first where the other is broadcast; values unchanged bit for bit', async () => {
    const m = model();
    const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, k) => Math.sin(seed + 1.37 * k) * 10 ** ((k % 5) - 2));
    const feeds = { x: values(24, 1), y: values(24, 2), r: values(6, 3) };
    const dims = { x: [2, 3, 4], y: [2, 3, 4], r: [2, 3, 1] };
    const before = await run(m, feeds, dims);
    const inputs = m.graph.nodes.map((n) => [...n.inputs]);
    assert.strictEqual(fullOperandFirst(m.graph), 2);
    assert.deepStrictEqual(m.graph.nodes.map((n) => n.inputs), [['x', inputs[0][0]], ['y', 'r'], ...inputs.slice(2)]);
    const after = await run(m, feeds, dims);
    before.forEach((b, o) => assert.deepStrictEqual(after[o].map((v) => Object.is(v, -0) ? '-0' : v), b.map((v) => Object.is(v, -0) ? '-0' : v), `output ${o}`));
  });
});
