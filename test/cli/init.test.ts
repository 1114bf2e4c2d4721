// `lily init`, `lily targets`, help and --compare-lora on the tiny exported encoder.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { loadConfig } from '../../native-runtime/config/validate';
import { budgetOf } from '../../native-runtime/server/budgetOf';
import { loadModel } from '../../native-runtime/onnx/proto';
import type { RunStatus } from '../../native-runtime/runFiles';
import { lily, makeWorkspace, tinyEncoder } from './workspace';

describe('cli: init, targets, help', function () {
  this.timeout(120000);
  before(() => { tinyEncoder(); });

  it('targets lists the linear layers grouped by suffix', async () => {
    const ws = makeWorkspace();
    const r = await lily(['targets', 'model.onnx', '--json'], ws.dir);
    assert.strictEqual(r.code, 0, r.stderr);
    const { targets } = JSON.parse(r.stdout);
    const value = targets.find((g: { suffix: string }) => g.suffix === 'attention.self.value');
    assert.deepStrictEqual(value, { suffix: 'attention.self.value', d_in: 32, d_out: 32, modules: ['encoder.layer.0.attention.self.value', 'encoder.layer.1.attention.self.value'] });
    const human = await lily(['targets', 'model.onnx'], ws.dir);
    assert.match(human.stdout, /attention\.self\.query\s+32\s+32\s+2/);
  });

  it('init writes a valid config (no $schema: jsonValidation maps *.lily.json) and reports the budget beside LoRA', async () => {
    const ws = makeWorkspace();
    const out = path.join(ws.dir, 'proposed.lily.json');
    const r = await lily(['init', 'model.onnx', '--out', out, '--json'], ws.dir);
    assert.strictEqual(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout);
    const written = JSON.parse(fs.readFileSync(out, 'utf8'));
    assert.deepStrictEqual(written, res.config);
    assert.deepStrictEqual(written.adapter.target_modules, ['attention.self.query', 'attention.self.value']);
    assert.strictEqual(written.model.num_labels, 2);
    assert.deepStrictEqual(written.adapter.modules_to_save, ['classifier'], 'the classification head trains in full, as PEFT does');
    assert.strictEqual(written.$schema, undefined, 'a $schema path breaks when the file is copied or the package updates');
    const expected = budgetOf(loadModel(path.join(ws.dir, 'model.onnx')), written.adapter);
    assert.strictEqual(res.trainable_params, expected.trainable_params);
    assert.strictEqual(res.lora_rank_at_budget, expected.lora_rank_at_budget);
    // The data files exist in this workspace, so the proposal validates as is.
    const cfg = loadConfig(out);
    assert.strictEqual(cfg.adapter.method, 'lily');

    const human = await lily(['init', 'model.onnx', '--out', out], ws.dir);
    assert.strictEqual(human.code, 2, 'refuses to overwrite');
    assert.match(human.stderr, /already exists; pass --force/);
    const forced = await lily(['init', 'model.onnx', '--out', out, '--force', '--targets', 'value'], ws.dir);
    assert.strictEqual(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /Trainable parameters: [\d,]+ \(LoRA at the same budget: rank \d+\)/);
    assert.deepStrictEqual(JSON.parse(fs.readFileSync(out, 'utf8')).adapter.target_modules, ['value']);
    const bad = await lily(['init', 'model.onnx', '--out', out, '--force', '--targets', 'valu'], ws.dir);
    assert.strictEqual(bad.code, 2);
    assert.match(bad.stderr, /"valu" matches no linear layer.*Available suffixes/);
  });

  it('prints help for lily and each command', async () => {
    const ws = makeWorkspace();
    const top = await lily(['--help'], ws.dir);
    assert.strictEqual(top.code, 0);
    for (const c of ['init', 'targets', 'train', 'eval', 'export']) {
      assert.match(top.stdout, new RegExp(`\\n  ${c} `));
      const h = await lily([c, '--help'], ws.dir);
      assert.strictEqual(h.code, 0);
      assert.match(h.stdout, new RegExp(`^Usage: lily ${c} `));
    }
    assert.match((await lily(['train', '--help'], ws.dir)).stdout, /--resume RUN_OR_CKPT/);
    assert.strictEqual((await lily([], ws.dir)).code, 2);
  });

  it('--compare-lora trains LoRA at the same budget in a run named -lora', async () => {
    const ws = makeWorkspace({ adapter: { modules_to_save: [] } });
    const r = await lily(['train', ws.config, '--compare-lora', '--max-steps', '1'], ws.dir);
    assert.strictEqual(r.code, 0, r.stderr);
    const [run] = fs.readdirSync(ws.runsDir);
    assert.match(run, /-tiny-lora$/);
    const status = JSON.parse(fs.readFileSync(path.join(ws.runsDir, run, 'status.json'), 'utf8')) as RunStatus;
    assert.strictEqual(status.method, 'lora');
    assert.strictEqual(status.name, 'tiny-lora');
    const lilyBudget = budgetOf(loadModel(path.join(ws.dir, 'model.onnx')), JSON.parse(fs.readFileSync(ws.config, 'utf8')).adapter);
    const loraCfg = JSON.parse(fs.readFileSync(path.join(ws.runsDir, run, 'config.json'), 'utf8'));
    assert.strictEqual(loraCfg.adapter.r, lilyBudget.lora_rank_at_budget);
    assert.strictEqual(status.trainable_params, 4 * loraCfg.adapter.r * (32 + 32));
  });
});
