// `lily train` end to end on a real (tiny, torch-exported) model: the run directory's files and
// their shapes, the --json event stream, export + eval round trip, resume after SIGINT, NaN stop.
import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { readJsonl } from '../../native-runtime/io/atomic';
import { listCheckpoints, loadCheckpoint } from '../../native-runtime/io/checkpoint';
import type { TrainEvent } from '../../native-runtime/protocol';
import type { MetricLine, RouterLine, RunStatus } from '../../native-runtime/runFiles';
import { checkMetricLine, checkRouterLine, checkStatus } from './runShape';
import { lily, makeWorkspace, tinyEncoder } from './workspace';

const readJson = <T>(f: string): T => JSON.parse(fs.readFileSync(f, 'utf8')) as T;
const onlyRun = (runsDir: string) => {
  const runs = fs.readdirSync(runsDir);
  assert.strictEqual(runs.length, 1, `expected one run in ${runsDir}, found ${runs}`);
  return path.join(runsDir, runs[0]);
};
/** metrics.jsonl as [line kind+step, numbers to compare] (wall-clock fields left out). */
const loggedValues = (runDir: string): Array<[string, number[]]> => readJsonl<MetricLine>(path.join(runDir, 'metrics.jsonl')).map((l) =>
  l.type === 'train' ? [`train${l.step}`, [l.epoch, l.loss, l.lr, l.grad_norm]] : [`eval${l.step}`, [l.epoch, ...Object.keys(l.metrics).sort().map((k) => l.metrics[k])]]);

function closeMetrics(a: Record<string, number>, b: Record<string, number>, tol: number): void {
  assert.deepStrictEqual(Object.keys(a).sort(), Object.keys(b).sort());
  for (const k of Object.keys(a)) assert.ok(Math.abs(a[k] - b[k]) <= tol * Math.max(1, Math.abs(b[k])), `${k}: ${a[k]} vs ${b[k]}`);
}

describe('cli: lily train', function () {
  this.timeout(120000);
  before(() => { tinyEncoder(); });

  it('writes a complete run directory and prints TrainEvent lines with --json; export + eval reproduce its metrics', async () => {
    const ws = makeWorkspace();
    const r = await lily(['train', ws.config, '--json'], ws.dir);
    assert.strictEqual(r.code, 0, r.stderr);
    const runDir = onlyRun(ws.runsDir);

    // stdout: one TrainEvent per line, started first, finished last.
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as TrainEvent);
    assert.strictEqual(events[0].event, 'started');
    const last = events[events.length - 1];
    assert.deepStrictEqual(last, { event: 'finished', state: 'completed', runDir });
    for (const e of events) assert.ok(['started', 'progress', 'metrics', 'router', 'checkpoint', 'finished'].includes(e.event));
    assert.ok(events.some((e) => e.event === 'checkpoint'));

    const status = readJson<RunStatus>(path.join(runDir, 'status.json'));
    checkStatus(status);
    assert.strictEqual(status.state, 'completed');
    assert.strictEqual(status.step, 4);
    assert.strictEqual(status.total_steps, 4);
    assert.strictEqual(status.method, 'lily');
    assert.strictEqual(status.last_checkpoint, path.join('checkpoints', 'step-4'));
    assert.ok(status.eval && status.eval_before && status.ended_at);
    if (events[0].event === 'started') assert.strictEqual(events[0].trainableParams, status.trainable_params);

    const config = readJson<any>(path.join(runDir, 'config.json'));
    assert.strictEqual(config.model.path, path.join(ws.dir, 'model.onnx'));
    assert.deepStrictEqual(config.model.labels, ['negative', 'positive']);
    assert.strictEqual(config.training.seed, 42, 'defaults are filled in');

    const metrics = readJsonl<MetricLine>(path.join(runDir, 'metrics.jsonl'));
    for (const l of metrics) checkMetricLine(l, 'sequence-classification');
    assert.deepStrictEqual(metrics.map((l) => `${l.type}${l.step}`), ['eval0', 'train1', 'train2', 'eval2', 'train3', 'train4', 'eval4']);
    const router = readJsonl<RouterLine>(path.join(runDir, 'router.jsonl'));
    assert.deepStrictEqual(router.map((l) => l.step), [1, 2, 3, 4]);
    for (const l of router) checkRouterLine(l, { query: 2, value: 2 }, 2);
    assert.deepStrictEqual(events.filter((e) => e.event === 'router').map((e) => (e as { line: RouterLine }).line), router);

    assert.deepStrictEqual(listCheckpoints(runDir).map((c) => c.step), [2, 4]);
    const ck = loadCheckpoint(path.join(runDir, 'checkpoints', 'step-4'));
    assert.strictEqual(ck.trainer.step, 4);
    assert.strictEqual(ck.trainer.epoch, 1);
    for (const f of ['adapter_config.json', 'adapter_model.safetensors', 'adapter.lily.safetensors']) assert.ok(fs.existsSync(path.join(runDir, 'adapter', f)), f);
    // Written by the inspection hook at each evaluation.
    assert.strictEqual(readJson<{ step: number }>(path.join(runDir, 'router_stats.json')).step, 4);
    assert.strictEqual(readJson<{ step: number }>(path.join(runDir, 'spectrum.json')).step, 4);

    // Round trip: the exported PEFT adapter, loaded back as adapter.init, gives the run's final eval.
    const out = path.join(ws.dir, 'exported');
    const ex = await lily(['export', runDir, '--format', 'peft', '--out', out, '--json'], ws.dir);
    assert.strictEqual(ex.code, 0, ex.stderr);
    assert.deepStrictEqual(JSON.parse(ex.stdout).files.map((f: string) => path.basename(f)).sort(), ['adapter_config.json', 'adapter_model.safetensors']);
    const cfg = readJson<any>(ws.config);
    cfg.adapter.init = 'exported';
    const cfg2 = path.join(ws.dir, 'reload.lily.json');
    fs.writeFileSync(cfg2, JSON.stringify(cfg));
    const ev = await lily(['eval', cfg2, '--json'], ws.dir);
    assert.strictEqual(ev.code, 0, ev.stderr);
    closeMetrics(JSON.parse(ev.stdout).metrics, status.eval!, 1e-6);
    const evRun = await lily(['eval', runDir, '--json'], ws.dir);
    assert.strictEqual(evRun.code, 0, evRun.stderr);
    closeMetrics(JSON.parse(evRun.stdout).metrics, status.eval!, 1e-6);
    // Resuming a finished run trains nothing and adds no log lines.
    const again = await lily(['train', ws.config, '--resume', runDir], ws.dir);
    assert.strictEqual(again.code, 0, again.stderr);
    assert.strictEqual(readJsonl<MetricLine>(path.join(runDir, 'metrics.jsonl')).length, metrics.length);
    assert.match(again.stdout, /eval accuracy: .* before -> .* after/);
    // And the untrained adapter is the base model: different metrics (the run learned something).
    const base = await lily(['eval', ws.config, '--json'], ws.dir);
    closeMetrics(JSON.parse(base.stdout).metrics, status.eval_before!, 1e-6);
  });

  it('trains the bundled demo (examples/sentiment) for a few steps', async () => {
    const demo = path.resolve(__dirname, '../../examples/sentiment/sentiment.lily.json');
    const ws = makeWorkspace();
    const runDir = path.join(ws.dir, 'demo-run');
    const r = await lily(['train', demo, '--max-steps', '3', '--run-dir', runDir, '--device', 'cpu', '--threads', '1'], ws.dir);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stdout, /eval accuracy: 0\.\d{4} before -> 0\.\d{4} after/);
    assert.strictEqual((r.stdout + r.stderr).match(/before -> \S+ after/g)?.length, 1, 'the before/after summary is printed once');
    const status = readJson<RunStatus>(path.join(runDir, 'status.json'));
    checkStatus(status);
    assert.deepStrictEqual([status.state, status.step, status.total_steps, status.device], ['completed', 3, 3, 'cpu']);
    for (const l of readJsonl<MetricLine>(path.join(runDir, 'metrics.jsonl'))) checkMetricLine(l, 'sequence-classification');
    for (const l of readJsonl<RouterLine>(path.join(runDir, 'router.jsonl'))) checkRouterLine(l, { query: 3, value: 3 }, 3);
    assert.ok(fs.existsSync(path.join(runDir, 'adapter', 'adapter_model.safetensors')));
    assert.ok(!fs.existsSync(path.join(ws.dir, '.lily')), '--run-dir replaces the default location');
  });

  it('resumes after SIGINT with exactly the metrics.jsonl of an uninterrupted run (log_every 3)', async () => {
    // Logged every 3 steps, saved every 2: the stop usually falls inside a logging window, whose
    // steps the checkpoint carries over (test/trainer/resume.test.ts stops mid-window for sure).
    const settings = { training: { max_steps: 12, eval_every: 4, save_every: 2, log_every: 3, lr: 1e-2 } };
    const ref = makeWorkspace(settings);
    assert.strictEqual((await lily(['train', ref.config], ref.dir)).code, 0);
    const reference = loggedValues(onlyRun(ref.runsDir));
    assert.deepStrictEqual(reference.map((l) => l[0]), ['eval0', 'train3', 'eval4', 'train6', 'eval8', 'train9', 'train12', 'eval12']);

    const ws = makeWorkspace(settings);
    const child = spawn(process.execPath, ['-r', require.resolve('tsx/cjs'), path.join(__dirname, 'runCli.ts'), 'train', ws.config, '--json'], { cwd: ws.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdout.on('data', (d) => {
      buffered += d;
      // At the first checkpoint (step 2): the run stops at step 2 or soon after.
      if (!sent && /"event":"checkpoint"/.test(buffered)) { sent = true; child.kill('SIGINT'); }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    assert.strictEqual(code, 130, stderr);
    const runDir = onlyRun(ws.runsDir);
    const stopped = readJson<RunStatus>(path.join(runDir, 'status.json'));
    checkStatus(stopped);
    assert.strictEqual(stopped.state, 'stopped');
    assert.ok(stopped.step >= 2 && stopped.step < 12, `stopped at ${stopped.step}`);
    assert.strictEqual(stopped.last_checkpoint, path.join('checkpoints', `step-${stopped.step}`));
    assert.match(buffered.trim().split('\n').pop()!, /"event":"finished","state":"stopped"/);

    const resumed = await lily(['train', ws.config, '--resume', runDir], ws.dir);
    assert.strictEqual(resumed.code, 0, resumed.stderr);
    const got = loggedValues(runDir);
    assert.deepStrictEqual(got.map((x) => x[0]), reference.map((x) => x[0]));
    got.forEach(([what, values], i) => values.forEach((v, k) => {
      const want = reference[i][1][k];
      assert.ok(Math.abs(v - want) <= 1e-6 * Math.max(1, Math.abs(want)), `${what} value ${k}: ${v} vs ${want}`);
    }));
    const done = readJson<RunStatus>(path.join(runDir, 'status.json'));
    assert.strictEqual(done.state, 'completed');
    closeMetrics(done.eval!, readJson<RunStatus>(path.join(onlyRun(ref.runsDir), 'status.json')).eval!, 1e-6);
    closeMetrics(done.eval_before!, stopped.eval_before!, 0);
  });

  it('a second Ctrl-C exits at once and leaves the run stopped, not running', async () => {
    // A long evaluation after step 1 (4000 samples) holds the graceful stop back: the second
    // signal arrives during it, as a user's impatient second Ctrl-C does during a long step.
    const ws = makeWorkspace({ training: { max_steps: 500, eval_every: 1, save_every: 1000 } }, { eval: 4000 });
    const child = spawn(process.execPath, ['-r', require.resolve('tsx/cjs'), path.join(__dirname, 'runCli.ts'), 'train', ws.config, '--json'], { cwd: ws.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdout.on('data', (d) => {
      buffered += d;
      // (Signals sent back to back would merge into one: the second follows after 50 ms.)
      if (!sent && /"event":"progress"/.test(buffered)) { sent = true; child.kill('SIGINT'); setTimeout(() => child.kill('SIGINT'), 50); }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    assert.strictEqual(code, 130, stderr);
    assert.doesNotMatch(buffered, /"event":"finished"/, 'the second signal ended the process before the graceful stop');
    const status = readJson<RunStatus>(path.join(onlyRun(ws.runsDir), 'status.json'));
    checkStatus(status);
    assert.strictEqual(status.state, 'stopped');
    assert.match(status.error!, /interrupted before a checkpoint was written/);
    assert.ok(status.ended_at);
  });

  it('stops a diverging run as failed and keeps the last good checkpoint', async () => {
    // Warmup: step 1 runs at lr 0 (a good checkpoint), step 2 at lr 5e37 diverges.
    const ws = makeWorkspace({ training: { optimizer: 'sgd', lr: 1e38, warmup_steps: 2, max_grad_norm: 0, max_steps: 6, save_every: 1, eval_every: 100 } });
    const r = await lily(['train', ws.config], ws.dir);
    assert.strictEqual(r.code, 1, r.stderr);
    const runDir = onlyRun(ws.runsDir);
    const status = readJson<RunStatus>(path.join(runDir, 'status.json'));
    checkStatus(status);
    assert.strictEqual(status.state, 'failed');
    assert.match(status.error!, /^training diverged at step \d+ .*(became (NaN|Infinity|-Infinity)|reached magnitude)/);
    const cks = listCheckpoints(runDir);
    assert.ok(cks.length >= 1);
    assert.strictEqual(status.last_checkpoint, path.join('checkpoints', `step-${cks[cks.length - 1].step}`));
    assert.match(status.error!, new RegExp(`checkpoints.step-${cks[cks.length - 1].step}`));
    assert.ok(cks[cks.length - 1].step === status.step, 'the failing step is not saved');
    for (const c of cks) for (const t of loadCheckpoint(c.dir).params.values()) assert.ok(t.data.every(Number.isFinite), `${c.dir} holds non-finite values`);
    assert.ok(!fs.existsSync(path.join(runDir, 'adapter')), 'no final adapter from a failed run');
  });
});
