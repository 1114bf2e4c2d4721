// loadConfig: defaults filled, paths absolute; ConfigError lists every problem as FILE: field: message.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, loadConfig } from '../../native-runtime/config/validate';
import { tempDir } from '../helpers/tempDir';

describe('loadConfig', () => {
  let dir: string;
  before(() => {
    dir = tempDir('lily-load-');
    fs.mkdirSync(path.join(dir, 'm'));
    for (const f of ['m/model.onnx', 'train.jsonl', 'eval.csv', 'other.safetensors']) fs.writeFileSync(path.join(dir, f), '');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, config: unknown): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, JSON.stringify(config, null, 2));
    return file;
  };

  it('fills every Lily default and makes paths absolute', () => {
    const file = write('sentiment.lily.json', {
      model: { path: 'm/model.onnx', task: 'sequence-classification' },
      data: { train: 'train.jsonl', eval: 'eval.csv' },
      adapter: { method: 'lily', target_modules: ['value'] },
    });
    const c = loadConfig(file, undefined, { cwd: '/work/ws' });
    assert.strictEqual(c.configPath, file);
    assert.strictEqual(c.configDir, dir);
    assert.strictEqual(c.name, 'sentiment');
    assert.strictEqual(c.model.path, path.join(dir, 'm/model.onnx'));
    assert.strictEqual(c.model.tokenizer, path.join(dir, 'm/tokenizer.json'));
    assert.deepStrictEqual(c.data, {
      train: path.join(dir, 'train.jsonl'), eval: path.join(dir, 'eval.csv'), format: 'jsonl', eval_format: 'csv',
      text_field: 'text', label_field: 'label', max_length: 128, max_length_default: true, padding: 'max_length', packing: false,
    });
    assert.deepStrictEqual(c.adapter, {
      method: 'lily', target_modules: ['value'], modules_to_save: [], init: 'default',
      r: 32, stride_A: 1, num_B: 2, scaling: 1, routing: 'batch',
    });
    assert.deepStrictEqual(c.training, {
      epochs: 1, batch_size: 16, lr: 1e-3, weight_decay: 0, optimizer: 'adamw', betas: [0.9, 0.999], eps: 1e-8,
      momentum: 0.9, schedule: 'linear', warmup_steps: 0, max_grad_norm: 1, gradient_checkpointing: false, seed: 42, shuffle: true, log_every: 10,
      divergence: { loss_factor: 100, grad_norm_limit: 1e6, param_limit: 1e4 },
    });
    assert.deepStrictEqual(c.runtime, { device: 'auto', backend: 'onnx', processes: 1, pack_weights: 'auto' });
    assert.deepStrictEqual(c.output, { dir: path.resolve('/work/ws', '.lily/runs') });
  });

  it('fills LoRA defaults (r 8, lora_alpha = r), keeps given values and resolves init', () => {
    const text = JSON.stringify({
      name: 'cmp', model: { path: 'm/model.onnx', task: 'regression', tokenizer: 'm/model.onnx' },
      data: { train: 'train.jsonl' },
      adapter: { method: 'lora', target_modules: 'query', r: 4, init: 'other.safetensors' },
      training: { max_steps: 50, lr: 5e-3, betas: [0.8, 0.99] }, output: { dir: '/abs/runs' },
    });
    const c = loadConfig(path.join(dir, 'cmp.json'), text);
    assert.strictEqual(c.name, 'cmp');
    assert.deepStrictEqual(c.adapter, { method: 'lora', target_modules: 'query', modules_to_save: [], init: path.join(dir, 'other.safetensors'), r: 4, lora_alpha: 4 });
    assert.strictEqual(c.training.max_steps, 50);
    assert.strictEqual(c.training.lr, 5e-3);
    assert.deepStrictEqual(c.training.betas, [0.8, 0.99]);
    assert.strictEqual(c.output.dir, '/abs/runs');
    assert.strictEqual(c.data.eval, undefined);
  });

  it('throws ConfigError listing each problem as FILE: field: message', () => {
    const file = write('bad.lily.json', {
      model: { path: 'm/model.onnx', task: 'sequence-classification' },
      data: { train: 'nope.jsonl' },
      adapter: { method: 'lily', target_modules: ['value'], num_B: 1 },
    });
    assert.throws(() => loadConfig(file), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.strictEqual(e.file, file);
      assert.deepStrictEqual(e.diagnostics.map((d) => d.path), [['adapter', 'num_B'], ['data', 'train']]);
      assert.strictEqual(e.message.split('\n')[0], `${file}: adapter.num_B: expected an integer >= 2, found 1`);
      assert.ok(e.message.split('\n')[1].startsWith(`${file}: data.train: file not found: `));
      return true;
    });
  });

  it('throws ConfigError for an unreadable file, and passes warnings to onWarning', () => {
    assert.throws(() => loadConfig(path.join(dir, 'missing.lily.json')), /missing\.lily\.json: cannot read the config file \(ENOENT\); check the path/);
    const warnings: string[] = [];
    loadConfig(path.join(dir, 'w.lily.json'), JSON.stringify({
      model: { path: 'm/model.onnx', task: 'causal-lm' }, data: { train: 'train.jsonl' },
      adapter: { method: 'lily', target_modules: ['value'], scaling: 0 },
    }), { onWarning: (d) => warnings.push(d.message) });
    assert.deepStrictEqual(warnings, ['adapter.scaling: scaling 0 multiplies the adapter output by zero: the adapter can never change the model']);
  });
});
