// A torch-backend run (model.path a Hugging Face folder) works with everything an ONNX-engine run
// works with: at its end it holds router_stats.json and spectrum.json like the engine's run of the
// same config, and `lily inspect`, `lily eval` and every `lily export` format run on it (through
// the folder's ONNX export, made once and cached under output.dir; cli/runModel.ts).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { onnxCacheFolder } from '../../native-runtime/cli/runModel';
import type { RouterStats, SpectrumReport } from '../../native-runtime/runFiles';
import { loadModel } from '../../native-runtime/onnx/proto';
import { lily, parityRuns, readJsonl, torchFixture } from './fixture';

const readJson = <T>(f: string): T => JSON.parse(fs.readFileSync(f, 'utf8')) as T;

function finalEval(runDir: string): Record<string, number> {
  const evals = readJsonl<{ type: string; metrics: Record<string, number> }>(path.join(runDir, 'metrics.jsonl')).filter((l) => l.type === 'eval');
  return evals[evals.length - 1].metrics;
}

function assertRouterStatsClose(a: RouterStats, b: RouterStats, tol: number): void {
  assert.strictEqual(a.step, b.step);
  assert.strictEqual(a.samples, b.samples);
  assert.deepStrictEqual(a.targets.map((t) => t.target), b.targets.map((t) => t.target));
  a.targets.forEach((t, i) => t.per_layer.forEach((l, j) => {
    const o = b.targets[i].per_layer[j];
    assert.strictEqual(l.module, o.module);
    l.mean.forEach((v, k) => assert.ok(Math.abs(v - o.mean[k]) < tol, `${l.module} mean[${k}]: ${v} vs ${o.mean[k]}`));
    assert.ok(Math.abs(l.token_entropy - o.token_entropy) < tol, `${l.module} token_entropy`);
  }));
}

describe('torch backend runs: inspect, eval and every export', function () {
  this.timeout(600_000);
  let onnxRun: string;
  let torchRun: string;

  before(() => {
    ({ onnxRun, torchRun } = parityRuns());
  });

  it('ends with router_stats.json and spectrum.json equal to the ONNX engine\'s for the same config', () => {
    for (const f of ['router_stats.json', 'spectrum.json']) assert.ok(fs.existsSync(path.join(torchRun, f)), `${torchRun} lacks ${f}`);
    const rs = readJson<RouterStats>(path.join(torchRun, 'router_stats.json'));
    assert.strictEqual(rs.step, 10);
    assert.ok(rs.targets.every((t) => t.per_layer.length === 2 && t.example && t.example.tokens.length > 0));
    assertRouterStatsClose(rs, readJson<RouterStats>(path.join(onnxRun, 'router_stats.json')), 1e-4);
    const sp = readJson<SpectrumReport>(path.join(torchRun, 'spectrum.json'));
    const so = readJson<SpectrumReport>(path.join(onnxRun, 'spectrum.json'));
    assert.strictEqual(sp.method, 'lily');
    sp.targets.forEach((t, i) => t.layers.forEach((l, j) => {
      const o = so.targets[i].layers[j];
      assert.strictEqual(l.numerical_rank, o.numerical_rank, l.module);
      l.singular_values.forEach((v, k) => assert.ok(Math.abs(v - o.singular_values[k]) <= 1e-4 * Math.max(1, Math.abs(o.singular_values[k])), `${l.module} σ${k}: ${v} vs ${o.singular_values[k]}`));
    }));
    assert.ok(sp.targets.every((t) => t.expert_similarity && t.expert_similarity.length === 2));
    // The Hugging Face folder's ONNX export is cached beside the runs, not in the run directory.
    const cfg = readJson<{ output: { dir: string } }>(path.join(torchRun, 'config.json'));
    assert.ok(fs.existsSync(path.join(onnxCacheFolder(cfg.output.dir, path.join(torchFixture(), 'hf')), 'model.onnx')));
  });

  it('lily inspect RUN: the same statistics again, from the cached export (no second export)', () => {
    const written = readJson<RouterStats>(path.join(torchRun, 'router_stats.json'));
    const r = lily(['inspect', torchRun, '--json']);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /Exporting .* to ONNX/);
    const out = JSON.parse(r.stdout) as { routerStats: RouterStats; spectrum: SpectrumReport; metrics: Record<string, number> };
    assertRouterStatsClose(out.routerStats, written, 1e-9);
    // The adapter evaluated through the ONNX export gives the torch run's own final eval.
    const ev = finalEval(torchRun);
    assert.ok(Math.abs(out.metrics.loss - ev.loss) < 1e-4, `inspect loss ${out.metrics.loss} vs the run's eval ${ev.loss}`);
  });

  it('lily eval RUN gives the run\'s final eval metrics', () => {
    const r = lily(['eval', torchRun, '--json']);
    assert.strictEqual(r.status, 0, r.stderr);
    const m = (JSON.parse(r.stdout) as { metrics: Record<string, number> }).metrics;
    const ev = finalEval(torchRun);
    assert.ok(Math.abs(m.loss - ev.loss) < 1e-4, `eval loss ${m.loss} vs ${ev.loss}`);
    assert.strictEqual(m.accuracy, ev.accuracy);
  });

  it('lily export RUN in every format: peft, merged-onnx (routing frozen, eval compared), adapted-onnx', () => {
    const help = lily(['export', '--help']);
    const formats = /--format F\s+Output format: ([a-z, -]+) \(default/.exec(help.stdout)![1].split(', ');
    assert.deepStrictEqual(formats, ['peft', 'merged-onnx', 'adapted-onnx'], 'a new export format: test it on a torch run here');
    const out = (f: string) => path.join(torchFixture(), 'exports', f);
    for (const f of formats) {
      const r = lily(['export', torchRun, '--format', f, '--out', out(f), '--json']);
      assert.strictEqual(r.status, 0, `${f}: ${r.stderr}`);
      const files = (JSON.parse(r.stdout.trim().split('\n').pop()!) as { files: string[] }).files;
      assert.ok(files.length > 0 && files.every((x) => fs.existsSync(x)), `${f}: ${files}`);
    }
    assert.ok(fs.existsSync(path.join(out('peft'), 'adapter_model.safetensors')));
    // The dynamic model (the adapted-onnx graph) evaluates to the torch run's final eval.
    const report = readJson<{ metrics: { dynamic: Record<string, number>; merged: Record<string, number> } }>(path.join(out('merged-onnx'), 'merge_report.json'));
    const ev = finalEval(torchRun);
    assert.ok(Math.abs(report.metrics.dynamic.loss - ev.loss) < 1e-4, `dynamic ${report.metrics.dynamic.loss} vs ${ev.loss}`);
    assert.ok(Number.isFinite(report.metrics.merged.loss));
    const adapted = loadModel(path.join(out('adapted-onnx'), 'model.onnx'));
    assert.ok(adapted.graph.nodes.length > 0);
  });

  it('a run killed before adapter/ was written exports from its newest checkpoint (which holds the compact file)', () => {
    const copy = path.join(torchFixture(), 'runs', 'parity-torch-killed');
    fs.cpSync(torchRun, copy, { recursive: true });
    fs.rmSync(path.join(copy, 'adapter'), { recursive: true });
    const out = path.join(torchFixture(), 'exports', 'from-checkpoint');
    const r = lily(['export', copy, '--format', 'peft', '--out', out]);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stderr, /checkpoints\/step-10\/adapter\.lily\.safetensors/);
    // Step 10 is the end: the same tensors as the finished adapter's PEFT export.
    const viaAdapter = path.join(torchFixture(), 'exports', 'from-adapter');
    assert.strictEqual(lily(['export', torchRun, '--format', 'peft', '--out', viaAdapter]).status, 0);
    assert.ok(fs.readFileSync(path.join(out, 'adapter_model.safetensors')).equals(fs.readFileSync(path.join(viaAdapter, 'adapter_model.safetensors'))));
  });

  it('a missing exporter Python is a clear error (exit 2), and nothing is cached', () => {
    // A copy of the run whose output.dir has no cached export yet.
    const copy = path.join(torchFixture(), 'runs', 'parity-torch-copy');
    fs.cpSync(torchRun, copy, { recursive: true });
    const cfgFile = path.join(copy, 'config.json');
    const cfg = readJson<{ output: { dir: string } }>(cfgFile);
    cfg.output.dir = path.join(torchFixture(), 'other-output');
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    const r = lily(['inspect', copy, '--python', '/nonexistent/python3']);
    assert.strictEqual(r.status, 2, r.stderr);
    assert.match(r.stderr, /no Python found: "\/nonexistent\/python3"/);
    const cache = path.join(cfg.output.dir, '.onnx');
    assert.ok(!fs.existsSync(cache) || fs.readdirSync(cache).every((d) => !fs.existsSync(path.join(cache, d, 'model.onnx'))));
  });
});
