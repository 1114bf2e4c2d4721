// JS shape inference (onnx/shapeInference.ts) against onnxruntime, the authority: on torch
// exports of the oracle models (BERT-like encoder, GPT-like decoder, ViT, tiny BERT) and on a
// hand-built graph of awkward forms (negative Slice steps, INT64_MAX bounds, Reshape 0/-1,
// Range, Split, Einsum, Expand, Where), every value's dtype and shape, and the values of the
// small integer tensors, must equal what ORT computes by running the model.
import { strict as assert } from 'assert';
import { attr, emptyGraph, GraphBuilder, type DataType, type Model } from '../../native-runtime/onnx/ir';
import { loadModel } from '../../native-runtime/onnx/proto';
import { probeValues, probeValuesInOrt } from '../../native-runtime/onnx/foldProbe';
import { inferShapes } from '../../native-runtime/onnx/shapeInference';
import { analyzeStatic } from '../../native-runtime/onnx/foldAnalysis';
import { exportTinyBert } from '../autodiff/helpers/python';
import { exportedModel, type OracleKind } from '../parity/exportedModels';

const INT_TYPES = new Set<DataType>(['int64', 'int32', 'bool']);
const small = (_: string, dtype: DataType, dims: number[]) => INT_TYPES.has(dtype) && dims.reduce((a, b) => a * b, 1) <= 4096;

function fixInputs(model: Model, shapes: Record<string, number[]>): Model {
  for (const i of model.graph.inputs) if (shapes[i.name]) i.shape = [...shapes[i.name]];
  return model;
}

async function compareWithOrt(model: Model, label: string): Promise<number> {
  const names = [...new Set(model.graph.nodes.flatMap((n) => n.outputs.filter((o) => o)))];
  const inferred = inferShapes(model);
  // Values computed from input data are not constants: only static ones must come with values.
  const { isStatic } = analyzeStatic(model.graph);
  const truth = await probeValuesInOrt(model, names, small);
  for (const n of names) {
    const want = truth.get(n)!;
    const got = inferred.get(n);
    assert.ok(got, `${label}: no inferred shape for ${n}`);
    assert.equal(got.dtype, want.dtype, `${label}: dtype of ${n}`);
    assert.deepEqual(got.dims, want.dims, `${label}: shape of ${n}`);
    if (isStatic.has(n) && small(n, want.dtype, want.dims)) {
      assert.ok(got.data, `${label}: no inferred values for the small integer tensor ${n}`);
      assert.deepEqual(Array.from(got.data as ArrayLike<number | bigint>, Number), Array.from(want.data as ArrayLike<number | bigint>, Number), `${label}: values of ${n}`);
    }
  }
  return names.length;
}

describe('shape inference in JS vs onnxruntime', function () {
  this.timeout(120_000);

  for (const kind of ['encoder', 'decoder', 'vit'] as OracleKind[]) {
    it(`types and shapes every value of the torch-exported ${kind}`, async () => {
      const m = exportedModel(kind);
      const shapes: Record<string, number[]> = kind === 'vit' ? { pixel_values: [3, 3, 16, 16] } : { input_ids: [3, 7], attention_mask: [3, 7] };
      const count = await compareWithOrt(fixInputs(m.load(), shapes), kind);
      assert.ok(count > 50, `${kind}: only ${count} values compared`);
    });
  }

  it('types and shapes every value of the tiny BERT export (Constant nodes, Range, Equal/Where masks)', async () => {
    const { onnxPath, oracle } = await exportTinyBert();
    await compareWithOrt(fixInputs(loadModel(onnxPath), { input_ids: oracle.shape, attention_mask: oracle.shape }), 'tiny BERT');
  });

  it('handles awkward forms: negative steps, INT64_MAX bounds, Reshape 0/-1, Range, Split, Einsum, Expand, Where', async () => {
    const g = emptyGraph('forms');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 3, 10] });
    const b = new GraphBuilder(g);
    const shape = b.op1('Shape', ['x']);
    const last2 = b.op1('Shape', ['x'], { start: attr.i(-2) });
    const rev = b.op1('Slice', ['x', b.constInt64([9223372036854775807n as unknown as number]), b.constInt64([-9223372036854775807n as unknown as number]), b.constInt64([2]), b.constInt64([-3])]);
    const flat = b.op1('Reshape', [rev, b.op1('Concat', [b.constInt64([0, -1]), b.op1('Slice', [last2, b.constInt64([0]), b.constInt64([0])])], { axis: attr.i(0) })]);
    const seq = b.op1('Gather', [shape, b.constInt64([2], true)], { axis: attr.i(0) });
    const range = b.op1('Range', [b.constInt64([1], true), seq, b.constInt64([3], true)]);
    const down = b.op1('Range', [seq, b.constInt64([0], true), b.constInt64([-4], true)]);
    const both = b.op1('Concat', [range, down], { axis: attr.i(0) });
    const mask = b.op1('Less', [both, b.op1('Div', [b.op1('Neg', [seq]), b.constInt64([-3], true)])]);
    const picked = b.op1('Where', [mask, both, b.op1('Mod', [both, b.constInt64([-3], true)])]);
    const [s1, s2] = b.op('Split', ['x', b.constInt64([4, 6])], { axis: attr.i(2) }, { outputs: 2 });
    const e = b.op1('Einsum', [s1, s2], { equation: attr.s('bik,bjl->bij') });
    const ex = b.op1('Expand', [b.op1('Unsqueeze', [e, b.constInt64([1])]), b.op1('Concat', [b.constInt64([2, 5]), b.op1('Shape', [e], { start: attr.i(-2) })], { axis: attr.i(0) })]);
    const red = b.op1('ReduceSum', [ex, b.constInt64([1, -1])], { keepdims: attr.i(0) });
    const t = b.op1('Transpose', [b.op1('Reshape', [picked, b.constInt64([1, -1])])], { perm: attr.ints([1, 0]) });
    g.outputs.push({ name: flat, dtype: 'float32' }, { name: red, dtype: 'float32' }, { name: t, dtype: 'int64' });
    const model: Model = { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 't', metadata: {} };
    await compareWithOrt(model, 'forms');
  });

  it('probes only what inference cannot tell, on a sub-model without the big layers', async () => {
    // An op without a JS rule (Hardmax) feeds a Reshape whose shape comes from Shape of a
    // known value: only Hardmax's output and the Reshape after it need ORT.
    const g = emptyGraph('fallback');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [4, 6] });
    const b = new GraphBuilder(g);
    const h = b.op1('Hardmax', ['x']);
    const r = b.op1('Reshape', [h, b.op1('Concat', [b.constInt64([-1]), b.op1('Shape', ['x'], { start: attr.i(-1) })], { axis: attr.i(0) })]);
    const big = b.op1('MatMul', ['x', b.constFloat(Array(36).fill(0.5), 'W', [6, 6])]);
    g.outputs.push({ name: r, dtype: 'float32' }, { name: big, dtype: 'float32' });
    const model: Model = { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 't', metadata: {} };
    const inferred = inferShapes(model);
    assert.ok(!inferred.has(h) && inferred.has(big), 'Hardmax has no rule; MatMul has one');
    const names = g.nodes.flatMap((n) => n.outputs);
    const probed = await probeValues(model, names, small);
    assert.deepEqual(probed.get(h)!.dims, [4, 6]);
    assert.deepEqual(probed.get(r)!.dims, [4, 6]);
    assert.deepEqual(probed.get(big)!.dims, [4, 6]);
  });
});
