// `lily train --backend torch` on one process: the same losses as the ONNX engine on the same
// model, config, data and initial adapter; a run directory that validates against the JSON Schema
// derived from runFiles.ts; the engine's data order; clear refusals (exit 2, no run left behind).
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import Ajv from 'ajv';
import { generateRunFilesSchema } from '../../native-runtime/config/schema';
import { readCompactAdapter } from '../../native-runtime/io/compactAdapter';
import { verifyCheckpoint } from '../../native-runtime/io/checkpointManifest';
import { readPeftAdapter } from '../../native-runtime/io/peft';
import { epochPermutation } from '../../native-runtime/train/rng';
import { lily, parityRuns, PYTHON, readJsonl, torchFixture, trainLosses, writeConfig } from './fixture';

describe('torch backend (one process)', function () {
  this.timeout(300_000);
  let onnxRun: string;
  let torchRun: string;

  before(() => {
    ({ onnxRun, torchRun } = parityRuns());
  });

  it('gives the ONNX engine\'s losses over 10 steps (to 1e-4)', () => {
    const ours = trainLosses(onnxRun);
    const torch = trainLosses(torchRun);
    assert.strictEqual(ours.length, 10);
    assert.deepStrictEqual(torch.map((l) => l.step), ours.map((l) => l.step));
    for (let i = 0; i < ours.length; i++) {
      assert.ok(Math.abs(ours[i].loss - torch[i].loss) < 1e-4, `step ${ours[i].step}: onnx ${ours[i].loss} vs torch ${torch[i].loss}`);
    }
    // The adapter and classifier really trained: the loss moved.
    assert.ok(Math.abs(ours[9].loss - ours[0].loss) > 1e-3, `losses ${ours.map((l) => l.loss)}`);
    // The router means agree too (the same batch routing).
    const ro = readJsonl<{ targets: Record<string, number[][]> }>(path.join(onnxRun, 'router.jsonl'));
    const rt = readJsonl<{ targets: Record<string, number[][]> }>(path.join(torchRun, 'router.jsonl'));
    assert.deepStrictEqual(Object.keys(rt[9].targets).sort(), ['query', 'value']);
    for (const t of ['query', 'value']) {
      rt[9].targets[t].flat().forEach((v, i) => assert.ok(Math.abs(v - ro[9].targets[t].flat()[i]) < 1e-4, `${t}[${i}]`));
    }
  });

  it('writes a run directory that validates against the schema derived from runFiles.ts', () => {
    const schema = generateRunFilesSchema();
    const ajv = new Ajv({ allErrors: true, strict: false });
    ajv.addSchema(schema, 'run-files');
    const check = (def: string, value: unknown, what: string) => {
      const validate = ajv.getSchema(`run-files#/definitions/${def}`)!;
      assert.ok(validate(value), `${what}: ${ajv.errorsText(validate.errors)}`);
    };
    const status = JSON.parse(fs.readFileSync(path.join(torchRun, 'status.json'), 'utf8'));
    check('RunStatus', status, 'status.json');
    assert.strictEqual(status.state, 'completed');
    assert.strictEqual(status.step, 10);
    const metrics = readJsonl(path.join(torchRun, 'metrics.jsonl'));
    metrics.forEach((l, i) => check('MetricLine', l, `metrics.jsonl line ${i + 1}`));
    assert.deepStrictEqual(metrics.filter((l) => l.type === 'eval').map((l) => l.step), [0, 5, 10]);
    readJsonl(path.join(torchRun, 'router.jsonl')).forEach((l, i) => check('RouterLine', l, `router.jsonl line ${i + 1}`));
    // The schema is not vacuous: a misspelled field fails.
    const validate = ajv.getSchema('run-files#/definitions/RunStatus')!;
    assert.ok(!validate({ ...status, stepp: 1 }));
  });

  it('writes PEFT files and the compact adapter that the engine reads back', () => {
    const peft = readPeftAdapter(path.join(torchRun, 'adapter')).weights;
    const compact = readCompactAdapter(path.join(torchRun, 'adapter', 'adapter.lily.safetensors'));
    assert.strictEqual(compact.settings.method, 'lily');
    assert.deepStrictEqual(compact.targets.map((t) => [t.target, t.layers.map((l) => l.a_group)]), [['query', [0, 0]], ['value', [0, 0]]]);
    assert.deepStrictEqual(compact.tensors.get('bert.encoder.layer.0.attention.self.query.lily_A')!.dims, [32, 4]);
    // PEFT's own files (save_pretrained, a copy per layer) hold exactly the compact file's tensors.
    let adapterTensors = 0;
    for (const [name, t] of compact.tensors) {
      if (!/\.lily_(A|B|router)$/.test(name)) continue;
      adapterTensors++;
      const p = peft.tensors.get(name);
      assert.ok(p, `PEFT file lacks ${name} (has ${[...peft.tensors.keys()].join(', ')})`);
      assert.deepStrictEqual(p.dims, t.dims, name);
      assert.deepStrictEqual(Array.from(p.data), Array.from(t.data), name);
    }
    assert.strictEqual(adapterTensors, 2 * (1 + 1 + 2)); // per target: one A (stride 2), one B pool, two routers
    assert.ok(compact.tensors.has('classifier.weight'));
    // Checkpoints as the engine lays them out, with a manifest the engine's verifier accepts.
    for (const f of ['params.safetensors', 'optimizer.safetensors', 'trainer.json', 'manifest.json']) assert.ok(fs.existsSync(path.join(torchRun, 'checkpoints', 'step-10', f)), f);
    assert.strictEqual(verifyCheckpoint(path.join(torchRun, 'checkpoints', 'step-10')), 10);
  });

  it('shuffles the data in the engine\'s order (seeded permutation, bit for bit)', () => {
    const cases = [[10, 42, 0], [97, 3, 5], [1000, 123456789, 2], [5, -7, 1]];
    const code = `import json,sys\nsys.path.insert(0, ${JSON.stringify(path.resolve(__dirname, '../../native-runtime/torch'))})\nfrom lily_torch.rng import epoch_permutation\nprint(json.dumps([epoch_permutation(*c) for c in ${JSON.stringify(cases)}]))`;
    const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8' });
    assert.strictEqual(r.status, 0, r.stderr);
    const py = JSON.parse(r.stdout) as number[][];
    cases.forEach(([n, seed, epoch], i) => assert.deepStrictEqual(py[i], Array.from(epochPermutation(n, seed, epoch)), `case ${cases[i]}`));
  });

  it('trains an ONNX model imported by lily import from its recorded Hugging Face source', () => {
    const d = torchFixture();
    const imported = path.join(d, 'imported');
    fs.mkdirSync(imported, { recursive: true });
    fs.copyFileSync(path.join(d, 'model.onnx'), path.join(imported, 'model.onnx'));
    fs.copyFileSync(path.join(d, 'tokenizer.json'), path.join(imported, 'tokenizer.json'));
    fs.writeFileSync(path.join(imported, 'lily-import.json'), JSON.stringify({ source: path.join(d, 'hf'), task: 'sequence-classification' }));
    const config = writeConfig('imported', 'torch', { training: { max_steps: 3 } });
    const raw = JSON.parse(fs.readFileSync(config, 'utf8'));
    fs.writeFileSync(config, JSON.stringify({ ...raw, model: { ...raw.model, path: 'imported/model.onnx' } }));
    const runDir = path.join(d, 'runs', 'imported');
    const r = lily(['train', config, '--run-dir', runDir]);
    assert.strictEqual(r.status, 0, r.stderr);
    // The same model as the parity run: the same first three losses.
    trainLosses(runDir).forEach((l, i) => assert.ok(Math.abs(l.loss - trainLosses(torchRun)[i].loss) < 1e-6, `step ${l.step}`));
    // Without the record, the torch backend cannot know the source: exit 2 naming model.path.
    fs.rmSync(path.join(imported, 'lily-import.json'));
    const bad = lily(['train', config, '--run-dir', path.join(d, 'runs', 'imported-bad')]);
    assert.strictEqual(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /model\.path: .*no Hugging Face source recorded/);
  });

  it('stops a diverging run as the engine does: failed, naming the step and the limit, no adapter', () => {
    const runDir = path.join(torchFixture(), 'runs', 'diverging');
    const r = lily(['train', writeConfig('diverging', 'torch', { training: { lr: 1e5, warmup_steps: 0, max_grad_norm: 0 } }), '--run-dir', runDir]);
    assert.strictEqual(r.status, 1, r.stderr);
    const status = JSON.parse(fs.readFileSync(path.join(runDir, 'status.json'), 'utf8'));
    assert.strictEqual(status.state, 'failed');
    assert.match(status.error, /^training diverged at step \d+ \(lr 1e\+05\): .*training\.divergence\.param_limit/);
    assert.ok(!fs.existsSync(path.join(runDir, 'adapter', 'adapter_model.safetensors')), 'a diverged adapter was written');
  });

  it('refuses routing without a PEFT equivalent (exit 2, the field named, no run directory)', () => {
    const runDir = path.join(torchFixture(), 'runs', 'masked');
    const r = lily(['train', writeConfig('masked', 'torch', { adapter: { routing: 'masked' } }), '--run-dir', runDir]);
    assert.strictEqual(r.status, 2, r.stderr);
    assert.match(r.stderr, /adapter\.routing/);
    assert.ok(!fs.existsSync(runDir) || fs.readdirSync(runDir).length === 0);
  });

  it('reports targets the model does not have (exit 2 from the trainer, no run directory left)', () => {
    const runDir = path.join(torchFixture(), 'runs', 'no-targets');
    const r = lily(['train', writeConfig('no-targets', 'torch', { adapter: { target_modules: ['nonexistent_proj'] } }), '--run-dir', runDir]);
    assert.strictEqual(r.status, 2, r.stderr);
    assert.match(r.stderr, /adapter\.target_modules/);
    assert.ok(!fs.existsSync(runDir));
  });
});
