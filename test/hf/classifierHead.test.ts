// The classification head proposed for `modules_to_save` (lily init, New Adapter Config) on every
// classification model of the Hugging Face zoo and every export of it: the tensors it selects must
// be exactly the parameters of the head as transformers names them (BERT/ELECTRA/ViT `classifier`,
// RoBERTa's two-layer `classifier.dense` + `classifier.out_proj`, ...), read from the model's own
// model.safetensors, so PEFT's loader finds each one.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { proposeHeadModules } from '../../native-runtime/adapters/classifierHead';
import { resolveSavedTensors } from '../../native-runtime/adapters/modulesToSave';
import { findLinearLayers } from '../../native-runtime/adapters/targets';
import { loadModel } from '../../native-runtime/onnx/proto';
import { ensureZoo, scratch, type Zoo } from './zooCache';
import { trainZoo } from './zooRun';

/** Tensor names of a safetensors file (header: u64 little-endian length, then JSON), each with whether it is all zeros. */
function safetensorsTensors(file: string): Map<string, { zero: boolean }> {
  const bytes = fs.readFileSync(file);
  const len = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + len).toString('utf8')) as Record<string, { data_offsets: [number, number] }>;
  const out = new Map<string, { zero: boolean }>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const data = bytes.subarray(8 + len + info.data_offsets[0], 8 + len + info.data_offsets[1]);
    out.set(name, { zero: data.every((b) => b === 0) });
  }
  return out;
}

describe('HF zoo: the classification head proposed for modules_to_save', function () {
  this.timeout(30 * 60_000);
  let zoo: Zoo;
  let work: string;
  before(() => { zoo = ensureZoo(); work = scratch('lily-head-'); });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it('selects exactly the head parameters transformers defines, on every export of every classifier', () => {
    let checked = 0;
    for (const name of zoo.manifest.entries) {
      const entry = zoo.entry(name);
      if (entry.task !== 'sequence-classification') continue;
      const tensors = safetensorsTensors(path.join(zoo.entryDir(name), 'hf', 'model.safetensors'));
      const hfHead = [...tensors.keys()].filter((k) => /^(classifier|score)\./.test(k)).sort();
      assert.ok(hfHead.length > 0, `${name}: the HF model has no classifier/score parameters`);
      for (const [kind, exp] of Object.entries(entry.exports)) {
        if (!exp.ok) continue;
        const model = loadModel(path.join(zoo.entryDir(name), 'onnx', kind, 'model.onnx'));
        const linear = findLinearLayers(model);
        const proposed = proposeHeadModules(model, linear);
        const selected = resolveSavedTensors(model, linear, proposed).map((t) => t.peftName).sort();
        // torch's dynamo exporter folds away an all-zero bias (a known limit, README): it cannot be trained there.
        const expected = kind === 'dynamo' ? hfHead.filter((k) => !(k.endsWith('.bias') && tensors.get(k)!.zero)) : hfHead;
        assert.deepStrictEqual(selected, expected, `${name} ${kind}: proposed ${JSON.stringify(proposed)}`);
        checked++;
      }
    }
    assert.ok(checked >= 5, `only ${checked} classifier exports checked`);
  });

  it('trains a head bias the exporter had tied by value to another tensor (untied into its own copy)', async () => {
    // RoBERTa's TorchScript export feeds the zero classifier.dense.bias through Identity(<a zero LayerNorm bias>).
    const model = loadModel(path.join(zoo.entryDir('roberta'), 'onnx', 'torchscript-14', 'model.onnx'));
    const tied = model.graph.nodes.find((n) => n.opType === 'Identity' && n.outputs[0] === 'classifier.dense.bias');
    assert.ok(tied, 'the fixture no longer ties classifier.dense.bias; pick another tied export');
    const modules = proposeHeadModules(model, findLinearLayers(model));
    const run = await trainZoo(zoo, 'roberta', 'torchscript-14', 'lora', work, { modules_to_save: modules });
    assert.strictEqual(run.code, 0, run.stderr);
    const saved = safetensorsTensors(path.join(run.runDir!, 'adapter', 'adapter_model.safetensors'));
    const head = [...saved.keys()].filter((k) => k.includes('classifier.'));
    assert.deepStrictEqual(head.map((k) => k.replace(/^base_model\.model\./, '')).sort(), ['classifier.dense.bias', 'classifier.dense.weight', 'classifier.out_proj.bias', 'classifier.out_proj.weight']);
    assert.strictEqual(saved.get(head.find((k) => k.endsWith('classifier.dense.bias'))!)!.zero, false, 'the untied bias did not train');
  });
});

