// Pow with a constant exponent rewritten to cheaper ops (onnx/powers.ts): same values from
// real onnxruntime sessions before and after, the ops changed, unread exponents dropped.
import * as assert from 'assert';
import { emptyGraph, GraphBuilder, int64Tensor, type Model } from '../../native-runtime/onnx/ir';
import { constantExponent, reduceConstantPowers } from '../../native-runtime/onnx/powers';
import { createSession, ortTensor } from '../../native-runtime/onnx/session';
import { modelToBytes } from '../../native-runtime/onnx/proto';

function powModel(): Model {
  const graph = emptyGraph('powers');
  const b = new GraphBuilder(graph);
  graph.inputs.push({ name: 'x', dtype: 'float32', shape: [6] });
  const k = (name: string, v: number) => b.constant({ name, dtype: 'float32', dims: [], data: Float32Array.of(v) });
  const two = k('two', 2), one = k('one', 1), half = k('half', 0.5), three = k('three', 3);
  const int2 = b.constant(int64Tensor('int_two', [], [2]));
  const outs = [b.op1('Pow', ['x', two]), b.op1('Pow', ['x', one]), b.op1('Pow', ['x', half]), b.op1('Pow', ['x', three]), b.op1('Pow', ['x', int2])];
  // A second reader keeps `three`'s initializer; `two` is read by the exponent-2 Pow only.
  outs.push(b.op1('Add', ['x', three]));
  for (const o of outs) graph.outputs.push({ name: o, dtype: 'float32', shape: [6] });
  return { graph, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 'test', metadata: {} };
}

async function run(model: Model, x: Float32Array): Promise<Float32Array[]> {
  const { session } = await createSession(modelToBytes(model), { device: 'cpu', threads: 1 });
  const out = await session.run({ x: ortTensor('float32', x, [x.length]) });
  await session.release();
  return model.graph.outputs.map((o) => out[o.name].data as Float32Array);
}

describe('onnx/powers', () => {
  it('rewrites x^2, x^1 and x^0.5 (float or int exponent) and leaves x^3, with the same values', async () => {
    const x = Float32Array.from([0.25, 1.5, 3.75, 1e-3, 7.1, 0.9]);
    const model = powModel();
    const before = await run(model, x);
    assert.strictEqual(reduceConstantPowers(model.graph), 4);
    assert.deepStrictEqual(model.graph.nodes.map((n) => n.opType), ['Mul', 'Identity', 'Sqrt', 'Pow', 'Mul', 'Add']);
    assert.deepStrictEqual(model.graph.nodes[0].inputs, ['x', 'x']);
    const after = await run(model, x);
    // x*x and Pow(x, 2) round once each; Sqrt and Pow(x, 0.5) are both correctly rounded.
    for (let o = 0; o < before.length; o++) assert.deepStrictEqual(Array.from(after[o]), Array.from(before[o]), `output ${o}`);
    assert.ok(!model.graph.initializers.has('two') && !model.graph.initializers.has('half') && !model.graph.initializers.has('int_two'));
    assert.ok(model.graph.initializers.has('three'));
  });

  it('reads a constant exponent only from one-element tensors', () => {
    assert.strictEqual(constantExponent({ name: 'e', dtype: 'float32', dims: [1], data: Float32Array.of(2) }), 2);
    assert.strictEqual(constantExponent({ name: 'e', dtype: 'float32', dims: [2], data: Float32Array.of(2, 2) }), undefined);
    assert.strictEqual(constantExponent(undefined), undefined);
  });
});
