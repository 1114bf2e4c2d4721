// The new-config scaffold: a config the real validator accepts for the real model, with the
// picked targets and data, relative paths, no $schema; finding tokenizer.json and an eval file.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { validateConfigText } from '../../native-runtime/config/validate';
import { proposeHeadModules } from '../../native-runtime/adapters/classifierHead';
import { findLinearLayers, listTargetGroups } from '../../native-runtime/adapters/targets';
import { loadModel } from '../../native-runtime/onnx/proto';
import { findEvalBeside, findTokenizerBeside, newConfigText, suggestedLilyShape, targetPickItems, uniqueConfigPath } from '../../src/newConfigModel';
import { configFixture } from './fixtures';

describe('new adapter config', () => {
  const fx = configFixture();
  after(() => fs.rmSync(fx.dir, { recursive: true, force: true }));
  const model = loadModel(fx.modelPath);
  const groups = listTargetGroups(model);
  const headModules = proposeHeadModules(model, findLinearLayers(model));

  it('proposes data.packing (with eval batches cut to their longest record) for a packed classifier only', () => {
    const configPath = path.join(fx.dir, 'packed.lily.json');
    const input = { configPath, modelPath: fx.modelPath, targets: groups.slice(0, 1), data: { train: path.join(fx.dir, 'train.jsonl') } };
    const packed = JSON.parse(newConfigText({ ...input, task: 'sequence-classification', packing: true }));
    assert.strictEqual(packed.data.packing, true);
    assert.strictEqual(packed.data.padding, 'longest');
    assert.strictEqual(JSON.parse(newConfigText({ ...input, task: 'sequence-classification' })).data.packing, undefined);
    assert.strictEqual(JSON.parse(newConfigText({ ...input, task: 'regression', packing: true })).data.packing, undefined);
  });

  it('pre-picks attention query/value in the target QuickPick', () => {
    const items = targetPickItems(groups);
    assert.deepStrictEqual(items.filter((i) => i.picked).map((i) => i.label).sort(), ['attention.self.query', 'attention.self.value']);
    const v = items.find((i) => i.label === 'attention.self.value')!;
    assert.strictEqual(v.description, '8→8 · 3 layers');
  });

  it('writes the picked data, fields, labels and tokenizer, and the config validates as written', () => {
    const configPath = path.join(fx.dir, 'sub', 'my.lily.json');
    fs.mkdirSync(path.join(fx.dir, 'sub', 'data'), { recursive: true });
    for (const f of ['train.jsonl', 'eval.jsonl']) fs.writeFileSync(path.join(fx.dir, 'sub', 'data', f), '{"text":"a","label":0}\n');
    const picked = groups.filter((g) => g.suffix === 'attention.self.value' || g.suffix === 'attention.self.query');
    const tokenizer = path.join(fx.dir, 'tokenizer.json');
    const text = newConfigText({
      configPath, modelPath: fx.modelPath, task: 'sequence-classification', targets: picked, tokenizer, headModules,
      data: {
        train: path.join(fx.dir, 'sub', 'data', 'train.jsonl'), eval: path.join(fx.dir, 'sub', 'data', 'eval.jsonl'),
        textField: 'sentence', labelField: 'polarity', labels: { num_labels: 3, labels: ['neg', 'neutral', 'pos'] },
      },
    });
    const cfg = JSON.parse(text);
    assert.strictEqual(cfg.model.path, '../model.onnx');
    // The files the user picked, relative to the config; the detected fields and label names.
    assert.deepStrictEqual(cfg.data, { train: './data/train.jsonl', eval: './data/eval.jsonl', text_field: 'sentence', label_field: 'polarity', max_length: 128 });
    const short = JSON.parse(newConfigText({ configPath, modelPath: fx.modelPath, task: 'sequence-classification', targets: picked, data: { train: path.join(fx.dir, 'a.jsonl') }, maxPositions: 32 }));
    assert.strictEqual(short.data.max_length, 32, 'never more tokens than the model has positions');
    assert.strictEqual(cfg.model.tokenizer, '../tokenizer.json');
    assert.strictEqual(cfg.model.num_labels, 3);
    assert.deepStrictEqual(cfg.model.labels, ['neg', 'neutral', 'pos']);
    assert.deepStrictEqual(cfg.adapter.target_modules.sort(), ['attention.self.query', 'attention.self.value']);
    assert.strictEqual(cfg.name, 'my');
    // The classification head is trained in full (its init is random on a model made from a base checkpoint).
    assert.deepStrictEqual(cfg.adapter.modules_to_save, ['classifier']);
    const lm = JSON.parse(newConfigText({ configPath, modelPath: fx.modelPath, task: 'causal-lm', targets: picked, headModules, data: { train: path.join(fx.dir, 'a.jsonl') } }));
    assert.strictEqual(lm.adapter.modules_to_save, undefined, 'no head for causal LM');
    // No $schema: a path or file URI breaks when the folder is copied or the extension updates;
    // package.json's jsonValidation maps every *.lily.json to the installed schema instead.
    assert.strictEqual(cfg.$schema, undefined);
    fs.writeFileSync(tokenizer, '{}');
    const errors = validateConfigText(text, configPath).filter((d) => d.severity === 'error');
    assert.deepStrictEqual(errors, []);
  });

  it('finds tokenizer.json beside the model or one folder up, and an eval file beside the training data', () => {
    const files = new Set(['/m/onnx/../tokenizer.json', '/m/tokenizer.json', '/d/eval.jsonl', '/d/sst2-validation.csv']);
    const exists = (p: string) => files.has(p) || files.has(path.normalize(p));
    assert.strictEqual(findTokenizerBeside('/m/model.onnx', exists), '/m/tokenizer.json');
    assert.strictEqual(findTokenizerBeside('/m/onnx/model.onnx', exists), '/m/tokenizer.json');
    assert.strictEqual(findTokenizerBeside('/x/model.onnx', exists), undefined);
    assert.strictEqual(findEvalBeside('/d/train.jsonl', exists), '/d/eval.jsonl');
    assert.strictEqual(findEvalBeside('/d/sst2-train.csv', exists), '/d/sst2-validation.csv');
    assert.strictEqual(findEvalBeside('/d/train.csv', exists), undefined, 'same extension only');
  });

  it('suggests stride_A 2 and num_B ~ layers/stride_A for deeper targets, r capped by the width', () => {
    assert.deepStrictEqual(suggestedLilyShape([{ suffix: 'v', d_in: 768, d_out: 768, modules: Array(12).fill('m') }]), { r: 32, stride_A: 2, num_B: 6 });
    assert.deepStrictEqual(suggestedLilyShape([{ suffix: 'v', d_in: 8, d_out: 8, modules: ['a', 'b'] }]), { r: 8, stride_A: 1, num_B: 2 });
  });

  it('never overwrites: picks the next free file name', () => {
    const taken = new Set([path.join('/w', 'bert.lily.json'), path.join('/w', 'bert-2.lily.json')]);
    assert.strictEqual(uniqueConfigPath('/w', 'bert', (p) => taken.has(p)), path.join('/w', 'bert-3.lily.json'));
    assert.strictEqual(uniqueConfigPath('/w', 'my model!.lily.json', () => false), path.join('/w', 'my-model.lily.json'));
  });
});
