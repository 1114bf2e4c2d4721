// specialize() on hand-built graphs: dynamic dims fixed, shape chains folded, Constant nodes
// turned into initializers, dead nodes removed, every value typed and shaped, same numbers.
import { strict as assert } from 'assert';
import { attr, emptyGraph, GraphBuilder, type Model } from '../../native-runtime/onnx/ir';
import { specialize, specializeCached } from '../../native-runtime/onnx/specialize';
import { randomArray, rng, runModel, tensor, toNumbers } from '../autodiff/helpers/ort';

/** x[batch, seq, 4] -> reshape to [batch*seq, 4] via Shape/Gather/Mul/Concat, MatMul W, reshape back. */
function dynamicModel(): Model {
  const g = emptyGraph('dyn');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['batch', 'seq', 4] });
  const b = new GraphBuilder(g);
  const w = b.constFloat(randomArray(12, rng(1)), 'W', [4, 3]);
  const shape = b.op1('Shape', ['x']);
  const batch = b.op1('Gather', [shape, b.constInt64([0], true)], { axis: attr.i(0) });
  const seq = b.op1('Gather', [shape, b.constInt64([1], true)], { axis: attr.i(0) });
  const rows = b.op1('Mul', [batch, seq]);
  const rows1 = b.op1('Unsqueeze', [rows, b.constInt64([0])]);
  const four = b.op('Constant', [], { value: attr.t({ name: 'four', dtype: 'int64', dims: [1], data: BigInt64Array.of(4n) }) })[0];
  const flatShape = b.op1('Concat', [rows1, four], { axis: attr.i(0) });
  const flat = b.op1('Reshape', ['x', flatShape]);
  const y = b.op1('MatMul', [flat, w]);
  const batch1 = b.op1('Unsqueeze', [batch, b.constInt64([0])]);
  const seq1 = b.op1('Unsqueeze', [seq, b.constInt64([0])]);
  const outShape = b.op1('Concat', [batch1, seq1, b.constInt64([3])], { axis: attr.i(0) });
  const yr = b.op1('Reshape', [y, outShape]);
  // A causal-style mask built only from shapes: Range(seq) < Range(seq)+1, cast to float.
  const seqF = b.op1('Cast', [seq], { to: attr.i(7) });
  const range = b.op1('Range', [b.constInt64([0], true), seqF, b.constInt64([1], true)]);
  const maskB = b.op1('Less', [range, b.op1('Add', [range, b.constInt64([1], true)])]);
  const mask = b.op1('Cast', [maskB], { to: attr.i(1) });
  const mask2 = b.op1('Unsqueeze', [mask, b.constInt64([1])]);
  b.op1('Relu', ['x']); // dead: nobody reads it
  const out = b.op1('Mul', [yr, mask2]);
  g.outputs.push({ name: out, dtype: 'float32', shape: ['batch', 'seq', 3] });
  return { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 'test', metadata: {} };
}

describe('specialize', () => {
  it('fixes dims, folds the shape chain, keeps the numbers', async () => {
    const model = dynamicModel();
    const spec = await specialize(model, { x: [2, 5, 4] });
    const ops = spec.graph.nodes.map((n) => n.opType);
    assert.deepEqual(ops, ['Reshape', 'MatMul', 'Reshape', 'Mul'], `remaining ops: ${ops.join(',')}`);
    assert.deepEqual(spec.graph.inputs[0].shape, [2, 5, 4]);
    assert.deepEqual(spec.graph.outputs[0].shape, [2, 5, 3]);
    // The original model keeps its dynamic dims (specialize works on a copy).
    assert.deepEqual(model.graph.inputs[0].shape, ['batch', 'seq', 4]);
    for (const n of spec.graph.nodes) {
      for (const o of n.outputs) {
        const vi = spec.graph.valueInfo.get(o);
        assert.ok(vi, `no valueInfo for ${o}`);
        assert.ok(vi.shape!.every((d) => typeof d === 'number'), `non-concrete shape for ${o}`);
      }
    }
    const reshape0 = spec.graph.nodes[0];
    const folded = spec.graph.initializers.get(reshape0.inputs[1])!;
    assert.deepEqual(Array.from(folded.data as BigInt64Array, Number), [10, 4]);
    assert.equal(spec.graph.valueInfo.get(spec.graph.nodes[1].outputs[0])!.dtype, 'float32');
    assert.deepEqual(spec.graph.valueInfo.get(spec.graph.nodes[1].outputs[0])!.shape, [10, 3]);

    const x = randomArray(40, rng(7));
    const feeds = { x: tensor('float32', x, [2, 5, 4]) };
    const a = toNumbers((await runModel(model, feeds))[model.graph.outputs[0].name]);
    const b = toNumbers((await runModel(spec, feeds))[spec.graph.outputs[0].name]);
    assert.deepEqual(b, a);
  });

  it('keeps requested intermediates as outputs and does not fold weight-derived values', async () => {
    const g = emptyGraph('w');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: ['n', 3] });
    const b = new GraphBuilder(g);
    const w = b.constFloat(randomArray(6, rng(2)), 'W', [2, 3]);
    const wt = b.op1('Transpose', [w], { perm: attr.ints([1, 0]) });
    const h = b.op1('MatMul', ['x', wt]);
    const y = b.op1('Tanh', [h]);
    g.outputs.push({ name: y, dtype: 'float32' });
    const model: Model = { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 't', metadata: {} };
    const spec = await specialize(model, { x: [4, 3] }, { keepOutputs: [h] });
    assert.ok(spec.graph.nodes.some((n) => n.opType === 'Transpose'), 'Transpose of a weight must stay a node');
    assert.deepEqual(spec.graph.outputs.map((o) => [o.name, o.shape]), [[y, [4, 2]], [h, [4, 2]]]);
  });

  it('rejects missing, unknown and contradicting shapes with a clear message', async () => {
    const model = dynamicModel();
    await assert.rejects(specialize(model, {}), /input x has dynamic shape .* inputShapes\["x"\]/);
    await assert.rejects(specialize(model, { x: [2, 5, 4], y: [1] }), /"y", which is not a graph input/);
    await assert.rejects(specialize(model, { x: [2, 5, 3] }), /dim 2 is fixed to 4/);
    await assert.rejects(specialize(model, { x: [2, 5] }), /rank 3/);
  });

  it('probes in chunks under a small memory budget with the same result', async () => {
    const model = dynamicModel();
    const a = await specialize(model, { x: [2, 5, 4] });
    const b = await specialize(model, { x: [2, 5, 4] }, { probeBudgetBytes: 64 });
    assert.deepEqual([...b.graph.valueInfo.values()], [...a.graph.valueInfo.values()]);
    assert.deepEqual(b.graph.nodes.map((n) => n.opType), a.graph.nodes.map((n) => n.opType));
  });

  it('refuses data-dependent shapes (NonZero on an input)', async () => {
    const g = emptyGraph('nz');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: ['n'] });
    const b = new GraphBuilder(g);
    const y = b.op1('NonZero', ['x'], {}, 'pick');
    g.outputs.push({ name: y, dtype: 'int64' });
    const model: Model = { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 't', metadata: {} };
    await assert.rejects(specialize(model, { x: [4] }), /node pick\/NonZero \(NonZero\) has an output shape that depends on the input data/);
  });

  it('caches by shape', async () => {
    const model = dynamicModel();
    const a = await specializeCached(model, { x: [1, 2, 4] });
    const b = await specializeCached(model, { x: [1, 2, 4] });
    const c = await specializeCached(model, { x: [1, 3, 4] });
    assert.equal(a, b);
    assert.notEqual(a, c);
    assert.deepEqual(c.graph.inputs[0].shape, [1, 3, 4]);
  });
});
