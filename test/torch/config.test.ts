// The torch backend's config fields: runtime.backend/processes/launch validated with the field
// named (schema + semantic checks), the tokenizer found inside a Hugging Face model folder, and the
// launch line the CLI builds for one process, torchrun and a template.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { loadConfig, validateConfigText } from '../../native-runtime/config/validate';
import { launchPlan, trainerScript } from '../../native-runtime/torch/launch';
import { checkTorchConfig } from '../../native-runtime/torch/run';
import { tempDir } from '../helpers/tempDir';

describe('torch backend config', () => {
  let dir: string;
  before(() => {
    dir = tempDir('lily-torch-config-');
    fs.mkdirSync(path.join(dir, 'hf'));
    fs.mkdirSync(path.join(dir, 'empty'));
    for (const f of ['hf/config.json', 'hf/tokenizer.json', 'train.jsonl']) fs.writeFileSync(path.join(dir, f), '{}');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const config = (runtime: object, extra: { adapter?: object; model?: object } = {}) => ({
    model: { path: 'hf', task: 'sequence-classification', ...extra.model },
    data: { train: 'train.jsonl' },
    adapter: { method: 'lily', target_modules: ['query'], ...extra.adapter },
    training: { batch_size: 16 },
    runtime,
  });
  const messages = (c: object) => validateConfigText(JSON.stringify(c), path.join(dir, 'x.lily.json')).map((d) => `${d.severity} ${d.message}`);

  it('accepts a Hugging Face folder as model.path and finds its tokenizer.json', () => {
    assert.deepStrictEqual(messages(config({ backend: 'torch', processes: 2 })), []);
    const resolved = loadConfig(path.join(dir, 'x.lily.json'), JSON.stringify(config({ backend: 'torch' })));
    assert.strictEqual(resolved.model.tokenizer, path.join(dir, 'hf', 'tokenizer.json'));
    assert.deepStrictEqual(resolved.runtime, { device: 'auto', backend: 'torch', processes: 1, pack_weights: 'auto' });
  });

  it('names the field for each mistake', () => {
    assert.match(messages(config({ backend: 'torch' }, { model: { path: 'empty' } })).join('\n'), /error model\.path: folder .* holds no config\.json/);
    assert.match(messages(config({ backend: 'torch', processes: 3 })).join('\n'), /error training\.batch_size: the global batch 16 does not divide among 3 processes/);
    assert.match(messages(config({ backend: 'torch', launch: 'srun python train.py' })).join('\n'), /error runtime\.launch: the launch template must contain \{script\}/);
    assert.match(messages(config({ backend: 'torch' }, { adapter: { routing: 'token' } })).join('\n'), /error adapter\.routing: routing "token" has no PEFT equivalent/);
    assert.match(messages(config({ backend: 'torch', processes: 0 })).join('\n'), /runtime\.processes/);
    assert.match(messages(config({ backend: 'jax' })).join('\n'), /runtime\.backend/);
    // A folder is not an ONNX model for the onnx backend, and torch-only fields are flagged there.
    assert.match(messages(config({ processes: 2 })).join('\n'), /error model\.path: expected a file, found a folder/);
    assert.match(messages(config({ processes: 2 })).join('\n'), /warning runtime\.processes: only used by the torch backend/);
    assert.match(messages(config({ backend: 'torch', pack_weights: true })).join('\n'), /warning runtime\.pack_weights: only used by the onnx backend/);
  });

  it('refuses what the torch backend does not do yet, naming the field (before any run exists)', () => {
    const load = (c: object) => loadConfig(path.join(dir, 'x.lily.json'), JSON.stringify(c));
    const base = config({ backend: 'torch' });
    assert.doesNotThrow(() => checkTorchConfig(load(base)));
    assert.throws(() => checkTorchConfig(load({ ...base, data: { ...base.data, padding: 'longest' } })), /data\.padding: "longest" is not available on the torch backend/);
    assert.throws(() => checkTorchConfig(load({ ...base, runtime: { backend: 'torch', device: 'webgpu' } })), /runtime\.device: the torch backend runs on cpu or cuda/);
  });

  it('builds the launch line: one process, torchrun on loopback, or the template', () => {
    const args = ['--run-dir', '/runs/a b'];
    const one = launchPlan({ python: '/v/python', processes: 1, trainerArgs: args });
    assert.deepStrictEqual([one.command, ...one.args], ['/v/python', trainerScript(), ...args]);
    const two = launchPlan({ python: '/v/python', processes: 2, trainerArgs: args, port: 1234 });
    assert.deepStrictEqual(two.args.slice(0, 10), ['-m', 'torch.distributed.run', '--nnodes', '1', '--nproc-per-node', '2', '--master-addr', '127.0.0.1', '--master-port', '1234']);
    const t = launchPlan({ python: '/v/python', processes: 1, launch: 'srun -N 2 {python} -m torch.distributed.run --nproc-per-node 4 {script} {args}', trainerArgs: args });
    assert.strictEqual(t.shell, true);
    assert.strictEqual(t.command, `srun -N 2 /v/python -m torch.distributed.run --nproc-per-node 4 ${trainerScript()} --run-dir '/runs/a b'`);
    assert.ok(fs.existsSync(trainerScript()));
  });
});
