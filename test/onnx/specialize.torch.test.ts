// specialize() on a real torch export: a tiny BERT-like encoder with Shape/Gather/Unsqueeze/
// Concat/Reshape chains, Range positions, Equal/Where masks, Erf GELU, LayerNormalization.
import { strict as assert } from 'assert';
import { loadModel } from '../../native-runtime/onnx/proto';
import { specialize } from '../../native-runtime/onnx/specialize';
import { exportTinyBert } from '../autodiff/helpers/python';
import { runModel, tensor, toNumbers } from '../autodiff/helpers/ort';

describe('specialize: torch-exported tiny BERT', function () {
  this.timeout(60000);

  it('folds every shape chain, types every value, and computes what torch computes', async () => {
    const { onnxPath, oracle } = await exportTinyBert();
    const model = loadModel(onnxPath);
    const before = new Set(model.graph.nodes.map((n) => n.opType));
    for (const op of ['Shape', 'Range', 'Constant', 'Concat']) assert.ok(before.has(op), `the export should contain ${op}`);

    const spec = await specialize(model, { input_ids: oracle.shape, attention_mask: oracle.shape });
    const after = spec.graph.nodes.map((n) => n.opType);
    for (const op of ['Shape', 'Range', 'Constant', 'Concat', 'ConstantOfShape']) assert.ok(!after.includes(op), `${op} should be folded away`);
    assert.ok(spec.graph.nodes.length < model.graph.nodes.length / 2, `${spec.graph.nodes.length} of ${model.graph.nodes.length} nodes left`);
    for (const n of spec.graph.nodes) {
      for (const o of n.outputs.filter((x) => x)) {
        const vi = spec.graph.valueInfo.get(o);
        assert.ok(vi && vi.shape && vi.shape.every((d) => typeof d === 'number'), `value ${o} of ${n.opType} lacks a concrete shape`);
      }
    }
    assert.deepEqual(spec.graph.outputs[0].shape, [oracle.shape[0], 3]);
    // The position-embedding weight stays a weight (its Gather is not folded into a constant).
    assert.ok(spec.graph.nodes.some((n) => n.opType === 'Gather' && n.inputs[0] === 'pos.weight'));

    const feeds = {
      input_ids: tensor('int64', oracle.input_ids, oracle.shape),
      attention_mask: tensor('int64', oracle.attention_mask, oracle.shape),
    };
    const got = toNumbers((await runModel(spec, feeds))['logits']);
    const orig = toNumbers((await runModel(model, feeds))['logits']);
    got.forEach((v, i) => {
      assert.ok(Math.abs(v - orig[i]) < 1e-6, `logit ${i}: specialised ${v} vs original ${orig[i]}`);
      assert.ok(Math.abs(v - oracle.logits[i]) < 1e-4, `logit ${i}: specialised ${v} vs torch ${oracle.logits[i]}`);
    });
  });

  it('specialises the same export to another shape', async () => {
    const { onnxPath } = await exportTinyBert();
    const spec = await specialize(loadModel(onnxPath), { input_ids: [3, 7], attention_mask: [3, 7] });
    assert.deepEqual(spec.graph.outputs[0].shape, [3, 3]);
    const scores = spec.graph.nodes.find((n) => n.opType === 'Softmax')!;
    assert.deepEqual(spec.graph.valueInfo.get(scores.outputs[0])!.shape, [3, 2, 7, 7]);
  });
});
