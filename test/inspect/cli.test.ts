// The CLI end to end on a real (tiny) run: `lily train` writes router_stats.json and spectrum.json
// at each evaluation through the inspection hook; `lily inspect` re-computes them from the run
// (and from its PEFT export, imported onto the ONNX model: same statistics); `lily export`
// writes the merged and adapted ONNX models and reports the metric difference.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { main } from '../../native-runtime/cli';
import type { CliIO } from '../../native-runtime/cli/io';
import type { ExportResult, InspectResult } from '../../native-runtime/protocol';
import { RUN_FILES, type RouterStats, type SpectrumReport } from '../../native-runtime/runFiles';
import { encoderDir, tempDir, writeData } from './fixtures';

async function lily(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  const io: CliIO = { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, stderrIsTTY: false, columns: 100 };
  const code = await main(args, io, cwd);
  return { code, stdout, stderr };
}

const readJson = <T>(file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as T;

describe('inspect/CLI: train -> router_stats.json + spectrum.json; inspect; export merged/adapted ONNX', () => {
  const dir = tempDir('cli');
  let runDir = '';
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  before(async () => {
    writeData(dir, 'train.jsonl', 16, 1);
    writeData(dir, 'eval.jsonl', 10, 2);
    fs.writeFileSync(path.join(dir, 'enc.lily.json'), JSON.stringify({
      model: { path: path.join(encoderDir(), 'model.onnx'), task: 'sequence-classification', num_labels: 3 },
      data: { train: 'train.jsonl', eval: 'eval.jsonl', max_length: 8 },
      adapter: { method: 'lily', target_modules: ['value', 'dense'], r: 4, num_B: 3, stride_A: 2, scaling: 1, routing: 'masked' },
      training: { batch_size: 4, max_steps: 3, eval_every: 3, lr: 0.05, log_every: 1 },
      runtime: { device: 'cpu', threads: 1 },
      output: { dir: 'runs' },
    }));
    runDir = path.join(dir, 'run');
    const r = await lily(['train', 'enc.lily.json', '--run-dir', runDir], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /evaluation hook failed/);
  });

  it('training wrote router statistics and spectra of the final evaluation', () => {
    const stats = readJson<RouterStats>(path.join(runDir, RUN_FILES.routerStats));
    const spectrum = readJson<SpectrumReport>(path.join(runDir, RUN_FILES.spectrum));
    assert.equal(stats.step, 3);
    assert.equal(stats.samples, 10);
    assert.match(stats.reference, /eval\.jsonl$/);
    assert.equal(spectrum.step, 3);
    assert.deepEqual(stats.targets.map((t) => t.target), spectrum.targets.map((t) => t.target));
    // Training moved B away from 0: every layer's ΔW has rank > 0, at most r.
    for (const t of spectrum.targets) for (const l of t.layers) assert.ok(l.numerical_rank > 0 && l.numerical_rank <= 4, `${l.module}: rank ${l.numerical_rank}`);
  });

  it('a second training in the same process (another adapter) gets its own statistics from the shared hook', async () => {
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'enc.lily.json'), 'utf8'));
    cfg.adapter = { method: 'lily', target_modules: ['query'], r: 2, num_B: 2 };
    cfg.training.max_steps = 1;
    fs.writeFileSync(path.join(dir, 'query.lily.json'), JSON.stringify(cfg));
    const second = path.join(dir, 'run-query');
    const r = await lily(['train', 'query.lily.json', '--run-dir', second], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /evaluation hook failed/);
    const stats = readJson<RouterStats>(path.join(second, RUN_FILES.routerStats));
    assert.deepEqual(stats.targets.map((t) => [t.target, t.num_B, t.per_layer.length]), [['query', 2, 2]]);
  });

  it('lily inspect on the run reproduces them; on its PEFT export (imported onto the model) gives the same statistics', async () => {
    const fromTrain = readJson<RouterStats>(path.join(runDir, RUN_FILES.routerStats));
    const r = await lily(['inspect', runDir, '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as InspectResult;
    assert.equal(res.routerStats!.step, 3);
    res.routerStats!.targets.forEach((t, i) => t.per_layer.forEach((l, j) => l.mean.forEach((v, e) =>
      assert.ok(Math.abs(v - fromTrain.targets[i].per_layer[j].mean[e]) < 1e-6, `${l.module}[${e}]`))));
    assert.deepEqual(res.files!.map((f) => path.basename(f)), [RUN_FILES.routerStats, RUN_FILES.spectrum]);

    const human = await lily(['inspect', runDir], dir);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /target value \[32x32\]: 2 layers, 1 A group, 3 B experts, r=4/);
    assert.match(human.stdout, /encoder\.layer\.1\.attention\.self\.value\s+0\s+[\d.]+ [\d.]+ [\d.]+/);

    const peft = path.join(dir, 'peft');
    assert.equal((await lily(['export', runDir, '--format', 'peft', '--out', peft], dir)).code, 0);
    // Batch size matters: Lily's routing mixes over the batch, so later layers see other inputs.
    const p = await lily(['inspect', peft, '--model', path.join(encoderDir(), 'model.onnx'), '--reference', path.join(dir, 'eval.jsonl'), '--max-length', '8', '--batch-size', '4', '--json'], dir);
    assert.equal(p.code, 0, p.stderr);
    const pres = JSON.parse(p.stdout) as InspectResult;
    res.routerStats!.targets.forEach((t, i) => t.per_layer.forEach((l, j) => l.mean.forEach((v, e) =>
      assert.ok(Math.abs(v - pres.routerStats!.targets[i].per_layer[j].mean[e]) < 1e-6, `PEFT ${l.module}[${e}]`))));
    assert.ok(fs.existsSync(path.join(peft, RUN_FILES.spectrum)));
  });

  it('lily export --format merged-onnx / adapted-onnx', async () => {
    const m = await lily(['export', runDir, '--format', 'merged-onnx', '--json'], dir);
    assert.equal(m.code, 0, m.stderr);
    const merged = JSON.parse(m.stdout) as ExportResult;
    assert.ok(merged.files.some((f) => f.endsWith(path.join('export', 'merged-onnx', 'model.onnx'))));
    assert.deepEqual(Object.keys(merged.metricDelta!).sort(), ['accuracy', 'f1', 'loss']);
    const a = await lily(['export', runDir, '--format', 'adapted-onnx'], dir);
    assert.equal(a.code, 0, a.stderr);
    assert.ok(fs.existsSync(path.join(runDir, 'export', 'adapted-onnx', 'model.onnx')));
    const bad = await lily(['export', runDir, '--format', 'merged'], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /merged-onnx/);
  });
});
