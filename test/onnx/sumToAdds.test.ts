// Sums as chains of Adds (onnx/sumToAdds.ts): the same values, bit for bit, from real
// onnxruntime sessions before and after, with 2, 3 and 5 inputs and a broadcast one.
import * as assert from 'assert';
import { emptyGraph, GraphBuilder, type Model } from '../../native-runtime/onnx/ir';
import { sumsToAdds } from '../../native-runtime/onnx/sumToAdds';
import { createSession, ortTensor } from '../../native-runtime/onnx/session';
import { modelToBytes } from '../../native-runtime/onnx/proto';

const DIMS: Record<string, number[]> = { a: [2, 3, 4], b: [2, 3, 4], c: [2, 3, 4], d: [2, 3, 4], r: [2, 3, 1] };

function model(): Model {
  const graph = emptyGraph('sums');
  const b = new GraphBuilder(graph);
  for (const [name, shape] of Object.entries(DIMS)) graph.inputs.push({ name, dtype: 'float32', shape });
  const outs = [b.op1('Sum', ['a', 'b']), b.op1('Sum', ['r', 'a', 'b']), b.op1('Sum', ['a', 'b', 'c', 'r', 'd']), b.op1('Sum', ['c'])];
  // A reader of a Sum inside the graph: the chain must end in the Sum's own output name.
  outs.push(b.op1('Mul', [outs[2], outs[1]]));
  for (const o of outs) {
    graph.valueInfo.set(o, { name: o, dtype: 'float32', shape: [2, 3, 4] });
    graph.outputs.push({ name: o, dtype: 'float32', shape: [2, 3, 4] });
  }
  return { graph, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 'test', metadata: {} };
}

async function run(m: Model, feeds: Record<string, Float32Array>): Promise<number[][]> {
  const { session } = await createSession(modelToBytes(m), { device: 'cpu', threads: 1 });
  const out = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, ortTensor('float32', v, DIMS[k])])));
  await session.release();
  return m.graph.outputs.map((o) => Array.from(out[o.name].data as Float32Array));
}

describe('onnx/sumToAdds', () => {
  it('rewrites Sums of 2+ inputs as left-to-right Adds; every output equal bit for bit', async () => {
    const m = model();
    // Magnitudes 1e-2..1e2, so that another order of the additions rounds differently.
    const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, k) => Math.sin(seed + 1.37 * k) * 10 ** ((k % 5) - 2));
    const feeds = Object.fromEntries(Object.entries(DIMS).map(([k, d], i) => [k, values(d.reduce((p, q) => p * q, 1), i + 1)]));
    const before = await run(m, feeds);
    assert.strictEqual(sumsToAdds(m.graph), 3);
    const ops = m.graph.nodes.map((n) => n.opType);
    assert.deepStrictEqual(ops, ['Add', 'Add', 'Add', 'Add', 'Add', 'Add', 'Add', 'Sum', 'Mul']);
    assert.deepStrictEqual(m.graph.nodes[1].inputs, ['r', 'a'], 'the first Add reads the first two inputs, in order');
    assert.deepStrictEqual(m.graph.valueInfo.get(m.graph.nodes[1].outputs[0])?.shape, [2, 3, 4], 'a broadcast partial sum has its shape');
    const after = await run(m, feeds);
    before.forEach((b, o) => assert.deepStrictEqual(after[o], b, `output ${o}`));
  });
});
