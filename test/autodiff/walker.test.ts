// The walker's own duties: fan-out accumulation, pruning to paths from wrt to the loss,
// explicit zero gradients, the "no gradient rule" error, and its input checks.
import { strict as assert } from 'assert';
import { buildGradients, emitSumOfSquares } from '../../native-runtime/autodiff';
import type { Graph, Model } from '../../native-runtime/onnx/ir';
import { attr, emptyGraph, GraphBuilder } from '../../native-runtime/onnx/ir';
import { specialize } from '../../native-runtime/onnx/specialize';
import { randomArray, rng, runModel, tensor, toNumbers } from './helpers/ort';

function model(g: Graph): Model {
  return { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 'test', metadata: {} };
}

/** Appends Identity outputs for the gradients so they can be fetched by name. */
function exposeGradients(g: Graph, grads: Map<string, string>): string[] {
  const b = new GraphBuilder(g);
  return [...grads.entries()].map(([w, gname]) => {
    const out = b.op1('Identity', [gname], {}, `out_grad_${w}`);
    g.outputs.push({ name: out, dtype: 'float32' });
    return out;
  });
}

function sumAll(b: GraphBuilder, x: string): string {
  return b.op1('ReduceSum', [x], { keepdims: attr.i(0) });
}

describe('autodiff: walker', () => {
  it('accumulates fan-out with one Sum and gets d/dx (x*x + sin x + x) right', async () => {
    const g = emptyGraph('fanout');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [5] });
    const b = new GraphBuilder(g);
    const y = b.op1('Add', [b.op1('Add', [b.op1('Mul', ['x', 'x']), b.op1('Sin', ['x'])]), 'x']);
    const loss = sumAll(b, y);
    g.outputs.push({ name: loss, dtype: 'float32' });
    const spec = await specialize(model(g), { x: [5] });
    const before = spec.graph.nodes.length;
    const grads = buildGradients(spec.graph, loss, ['x']);
    const sums = spec.graph.nodes.slice(before).filter((n) => n.opType === 'Sum');
    assert.equal(sums.length, 1, 'one Sum accumulates the four uses of x');
    assert.equal(sums[0].inputs.length, 4);
    assert.deepEqual(spec.graph.valueInfo.get(grads.get('x')!)?.shape, [5]);
    const [out] = exposeGradients(spec.graph, grads);
    const xs = randomArray(5, rng(3));
    const got = toNumbers((await runModel(spec, { x: tensor('float32', xs, [5]) }, [out]))[out]);
    xs.forEach((v, i) => assert.ok(Math.abs(got[i] - (2 * v + Math.cos(v) + 1)) < 1e-5, `element ${i}: ${got[i]}`));
  });

  for (const [title, cuts, tiles] of [
    ['halves (rotate_half)', [[0, 3], [3, 6]], true],
    ['three pieces given out of order', [[4, 6], [0, 1], [1, 4]], true],
    ['a gap', [[0, 2], [3, 6]], false],
    ['an overlap', [[0, 4], [3, 6]], false],
  ] as const) {
    it(`Slices of one value along an axis: ${tiles ? 'their gradients become one Concat' : 'Pads and a Sum'} (${title}); d/dx right`, async () => {
      const g = emptyGraph('slices');
      g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 6] }, { name: 'w', dtype: 'float32', shape: [2, 6] });
      const b = new GraphBuilder(g);
      // y = x * w + sum over pieces of (piece * (k + 2)), each piece reduced: every slice is read.
      const parts = cuts.map(([s0, s1], k) => {
        const piece = b.op1('Slice', ['x', b.constInt64([s0]), b.constInt64([s1]), b.constInt64([1])]);
        const scaled = b.op1('Mul', [piece, b.constFloat(k + 2, `k${k}`)]);
        return sumAll(b, k % 2 ? b.op1('Neg', [scaled]) : scaled);
      });
      const loss = b.op1('Sum', [sumAll(b, b.op1('Mul', ['x', 'w'])), ...parts]);
      g.outputs.push({ name: loss, dtype: 'float32' });
      const spec = await specialize(model(g), { x: [2, 6], w: [2, 6] });
      const before = spec.graph.nodes.length;
      const grads = buildGradients(spec.graph, loss, ['x']);
      const added = spec.graph.nodes.slice(before).map((n) => n.opType);
      assert.equal(added.filter((op) => op === 'Pad').length, tiles ? 0 : cuts.length, `gradient ops: ${added}`);
      assert.equal(added.filter((op) => op === 'Concat').length, tiles ? 1 : 0, `gradient ops: ${added}`);
      const [out] = exposeGradients(spec.graph, grads);
      const xs = randomArray(12, rng(21));
      const ws = randomArray(12, rng(22));
      const got = toNumbers((await runModel(spec, { x: tensor('float32', xs, [2, 6]), w: tensor('float32', ws, [2, 6]) }, [out]))[out]);
      for (let r = 0; r < 2; r++) {
        for (let c = 0; c < 6; c++) {
          let want = ws[6 * r + c];
          cuts.forEach(([s0, s1], k) => { if (c >= s0 && c < s1) want += (k % 2 ? -1 : 1) * (k + 2); });
          assert.ok(Math.abs(got[6 * r + c] - want) < 1e-6, `[${r}, ${c}]: ${got[6 * r + c]} vs ${want}`);
        }
      }
    });
  }

  it('prunes: frozen weights and branches off the loss get no gradient work', async () => {
    const g = emptyGraph('prune');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 3] });
    const b = new GraphBuilder(g);
    const frozen = b.constFloat(randomArray(12, rng(1)), 'W_frozen', [3, 4]);
    const trained = b.constFloat(randomArray(8, rng(2)), 'W_train', [4, 2]);
    const h = b.op1('Tanh', [b.op1('MatMul', ['x', frozen])]);
    const y = b.op1('MatMul', [h, trained]);
    const side = b.op1('Exp', [trained]); // uses the trained weight, but not on the loss path
    const loss = sumAll(b, y);
    g.outputs.push({ name: loss, dtype: 'float32' }, { name: side, dtype: 'float32' });
    const spec = await specialize(model(g), { x: [2, 3] });
    const before = spec.graph.nodes.length;
    buildGradients(spec.graph, loss, [trained]);
    const added = spec.graph.nodes.slice(before);
    const ops = added.map((n) => n.opType);
    assert.equal(ops.filter((o) => o === 'MatMul' || o === 'Gemm').length, 1, `only h^T g: ${ops.join(',')}`);
    assert.ok(!ops.includes('Exp'), 'the side branch is not differentiated');
    assert.ok(!ops.includes('Tanh') && !added.some((n) => n.inputs.includes(frozen)), 'nothing flows into the frozen part');
  });

  it('gives an explicit zero gradient to a wrt with no path (or only a non-differentiable one)', async () => {
    const g = emptyGraph('zero');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 3] }, { name: 'v', dtype: 'float32', shape: [3] });
    const b = new GraphBuilder(g);
    const viaArgMax = 'v';
    const idx = b.op1('ArgMax', [viaArgMax], { keepdims: attr.i(0) });
    const picked = b.op1('Gather', ['x', idx], { axis: attr.i(1) });
    const loss = sumAll(b, picked);
    g.outputs.push({ name: loss, dtype: 'float32' });
    const spec = await specialize(model(g), { x: [2, 3], v: [3] });
    // A parameter nothing reads (specialize would have dropped it as dead, so add it after).
    const unused = new GraphBuilder(spec.graph).constFloat(randomArray(4, rng(5)), 'unused', [4]);
    const grads = buildGradients(spec.graph, loss, [unused, viaArgMax, 'x']);
    const outs = exposeGradients(spec.graph, grads);
    const feeds = { x: tensor('float32', randomArray(6, rng(7)), [2, 3]), v: tensor('float32', [0.1, 0.9, 0.3], [3]) };
    const r = await runModel(spec, feeds, outs);
    assert.deepEqual(toNumbers(r[outs[0]]), [0, 0, 0, 0]);
    assert.deepEqual([...r[outs[0]].dims], [4]);
    assert.deepEqual(toNumbers(r[outs[1]]), [0, 0, 0]);
    assert.deepEqual(toNumbers(r[outs[2]]), [0, 1, 0, 0, 1, 0], 'x gets 1 at the picked column (argmax of v = 1) of each row');
  });

  it('names the op and node that has no gradient rule', async () => {
    const g = emptyGraph('norule');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [1, 1, 4, 4] });
    const b = new GraphBuilder(g);
    const w = b.constFloat(randomArray(4, rng(1)), 'W', [1, 1, 2, 2]);
    const e = b.op('Conv', ['x', w], {}, { scope: 'patch_embed' })[0];
    const loss = sumAll(b, e);
    g.outputs.push({ name: loss, dtype: 'float32' });
    const spec = await specialize(model(g), { x: [1, 1, 4, 4] });
    assert.throws(() => buildGradients(spec.graph, loss, [w]), /no gradient rule for op Conv at node patch_embed\/Conv/);
  });

  it('does not need rules for ops upstream of every trained tensor (a frozen Conv stem)', async () => {
    const g = emptyGraph('stem');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [1, 1, 4, 4] });
    const b = new GraphBuilder(g);
    const w = b.constFloat(randomArray(4, rng(1)), 'W_stem', [1, 1, 2, 2]);
    const feat = b.op1('Reshape', [b.op1('Conv', ['x', w]), b.constInt64([1, 9])]);
    const head = b.constFloat(randomArray(9, rng(2)), 'head', [9, 1]);
    const loss = sumAll(b, b.op1('MatMul', [feat, head]));
    g.outputs.push({ name: loss, dtype: 'float32' });
    const spec = await specialize(model(g), { x: [1, 1, 4, 4] }, { keepOutputs: [feat] });
    const grads = buildGradients(spec.graph, loss, [head]);
    const [out] = exposeGradients(spec.graph, grads);
    const r = await runModel(spec, { x: tensor('float32', randomArray(16, rng(3)), [1, 1, 4, 4]) }, [out, feat]);
    assert.deepEqual(toNumbers(r[out]).map((v) => v.toFixed(5)), toNumbers(r[feat]).map((v) => v.toFixed(5)), 'd(sum(feat @ head))/dhead = feat^T');
  });

  it('checks the loss and the wrt tensors', async () => {
    const g = emptyGraph('checks');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [2] }, { name: 'ids', dtype: 'int64', shape: [2] });
    const b = new GraphBuilder(g);
    const y = b.op1('Exp', ['x']);
    g.outputs.push({ name: y, dtype: 'float32' });
    const spec = await specialize(model(g), { x: [2], ids: [2] });
    assert.throws(() => buildGradients(spec.graph, y, ['x']), /expected a scalar/);
    const loss = new GraphBuilder(spec.graph).op1('ReduceSum', [y], { keepdims: attr.i(0) });
    spec.graph.valueInfo.set(loss, { name: loss, dtype: 'float32', shape: [] });
    assert.throws(() => buildGradients(spec.graph, loss, ['ids']), /dtype int64 is not a float type/);
    assert.throws(() => buildGradients(spec.graph, loss, ['nope']), /no type known for value nope/);
  });

  it('Dropout in training mode scales the kept positions by 1/(1-ratio)', async () => {
    const g = emptyGraph('dropout');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [4, 8] });
    const b = new GraphBuilder(g);
    const ratio = b.constFloat(0.25, 'ratio');
    const training = b.constant({ name: 'training', dtype: 'bool', dims: [], data: Uint8Array.of(1) });
    const [y, mask] = b.op('Dropout', ['x', ratio, training], { seed: attr.i(3) }, { outputs: 2 });
    const w = b.constFloat(randomArray(32, rng(9)), 'w', [4, 8]);
    const loss = sumAll(b, b.op1('Mul', [y, w]));
    g.outputs.push({ name: loss, dtype: 'float32' }, { name: mask, dtype: 'bool' });
    const spec = await specialize(model(g), { x: [4, 8] });
    const [out] = exposeGradients(spec.graph, buildGradients(spec.graph, loss, ['x']));
    const r = await runModel(spec, { x: tensor('float32', randomArray(32, rng(4)), [4, 8]) }, [out, mask]);
    const m = toNumbers(r[mask]);
    const gx = toNumbers(r[out]);
    const ws = randomArray(32, rng(9));
    assert.ok(m.some((v) => v === 0) && m.some((v) => v === 1), 'the mask drops some and keeps some');
    gx.forEach((v, i) => assert.ok(Math.abs(v - (m[i] ? Math.fround(ws[i]) / 0.75 : 0)) < 1e-5, `element ${i}`));
  });

  it('emitSumOfSquares sums x^2 over several tensors', async () => {
    const g = emptyGraph('ss');
    g.inputs.push({ name: 'a', dtype: 'float32', shape: [2, 2] }, { name: 'c', dtype: 'float32', shape: [3] });
    const b = new GraphBuilder(g);
    const s = emitSumOfSquares(b, ['a', 'c']);
    g.outputs.push({ name: s, dtype: 'float32' });
    const r = await runModel(model(g), { a: tensor('float32', [1, 2, 3, 4], [2, 2]), c: tensor('float32', [0.5, -1, 2], [3]) });
    assert.deepEqual([...r[s].dims], []);
    assert.equal(toNumbers(r[s])[0], 1 + 4 + 9 + 16 + 0.25 + 1 + 4);
  });
});
