// The new-config scaffold: a config the real validator accepts for the real model, with the
// picked targets, relative paths, and the schema reference.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { validateConfigText } from '../../native-runtime/config/validate';
import { listTargetGroups } from '../../native-runtime/adapters/targets';
import { loadModel } from '../../native-runtime/onnx/proto';
import { newConfigText, suggestedLilyShape, targetPickItems, uniqueConfigPath } from '../../src/newConfigModel';
import { configFixture } from './fixtures';

describe('new adapter config', () => {
  const fx = configFixture();
  after(() => fs.rmSync(fx.dir, { recursive: true, force: true }));
  const groups = listTargetGroups(loadModel(fx.modelPath));

  it('pre-picks attention query/value in the target QuickPick', () => {
    const items = targetPickItems(groups);
    assert.deepStrictEqual(items.filter((i) => i.picked).map((i) => i.label).sort(), ['attention.self.query', 'attention.self.value']);
    const v = items.find((i) => i.label === 'attention.self.value')!;
    assert.strictEqual(v.description, '8→8 · 3 layers');
  });

  it('writes a config that validates against the model once its data exists', () => {
    const configPath = path.join(fx.dir, 'sub', 'my.lily.json');
    fs.mkdirSync(path.join(fx.dir, 'sub', 'data'), { recursive: true });
    for (const f of ['train.jsonl', 'eval.jsonl']) fs.writeFileSync(path.join(fx.dir, 'sub', 'data', f), '{"text":"a","label":0}\n');
    const picked = groups.filter((g) => g.suffix === 'attention.self.value' || g.suffix === 'attention.self.query');
    const text = newConfigText({
      configPath, modelPath: fx.modelPath, task: 'sequence-classification', targets: picked,
    });
    const cfg = JSON.parse(text);
    assert.strictEqual(cfg.model.path, '../model.onnx');
    assert.deepStrictEqual(cfg.adapter.target_modules.sort(), ['attention.self.query', 'attention.self.value']);
    assert.strictEqual(cfg.name, 'my');
    // No $schema: a path or file URI breaks when the folder is copied or the extension updates;
    // package.json's jsonValidation maps every *.lily.json to the installed schema instead.
    assert.strictEqual(cfg.$schema, undefined);
    const errors = validateConfigText(text, configPath).filter((d) => d.severity === 'error');
    assert.deepStrictEqual(errors, []);
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
