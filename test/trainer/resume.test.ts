// Stopping and resuming through the trainer API (in-process, stopped by an AbortSignal at an
// exact step): a resumed run must leave the same run directory as an uninterrupted one: the
// same schedule (also when --max-steps set it), the same metrics.jsonl and router.jsonl lines
// (also when the stop falls inside a logging window), no checkpoint of an abandoned timeline,
// and no second writer on a live run.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, loadConfig } from '../../native-runtime/config/validate';
import { readJsonl } from '../../native-runtime/io/atomic';
import { latestCheckpoint, listCheckpoints, loadCheckpoint } from '../../native-runtime/io/checkpoint';
import type { MetricLine, RouterLine, RunStatus } from '../../native-runtime/runFiles';
import { prepareTraining, runTraining, type TrainOutcome, type TrainRequest } from '../../native-runtime/train/trainer';
import { makeWorkspace, tinyEncoder, type Workspace } from '../cli/workspace';

type Settings = Parameters<typeof makeWorkspace>[0];

/**
 * Trains (or resumes) in-process. `stopAt` N requests a stop when step N's checkpoint is written
 * (so the run stops at exactly N); `'now'` before the first step.
 */
async function trainRun(ws: Workspace, request: Omit<TrainRequest, 'config'>, stopAt?: number | 'now'): Promise<TrainOutcome> {
  const config = loadConfig(ws.config, undefined, { cwd: ws.dir });
  const prep = await prepareTraining({ config, ...request });
  const stop = new AbortController();
  if (stopAt === 'now') stop.abort();
  try {
    return await runTraining(prep, {
      signal: stop.signal,
      onEvent: (e) => { if (typeof stopAt === 'number' && e.event === 'checkpoint' && e.step >= stopAt) stop.abort(); },
    });
  } finally {
    prep.data.close();
    await prep.runner.release();
  }
}

const readJson = <T>(f: string): T => JSON.parse(fs.readFileSync(f, 'utf8')) as T;
const status = (runDir: string) => readJson<RunStatus>(path.join(runDir, 'status.json'));

/** metrics.jsonl without the wall-clock fields (throughput, time), which differ between runs. */
function metricsOf(runDir: string): Array<Record<string, unknown>> {
  return readJsonl<MetricLine>(path.join(runDir, 'metrics.jsonl')).map((l) => {
    if (l.type === 'eval') return { type: l.type, step: l.step, epoch: l.epoch, ...l.metrics };
    return { type: l.type, step: l.step, epoch: l.epoch, loss: l.loss, lr: l.lr, grad_norm: l.grad_norm };
  });
}

function assertClose(got: unknown, want: unknown, where: string, tol = 1e-6): void {
  if (typeof want === 'number') {
    assert.strictEqual(typeof got, 'number', `${where}: ${String(got)} vs ${want}`);
    assert.ok(Math.abs((got as number) - want) <= tol * Math.max(1, Math.abs(want)), `${where}: ${String(got)} vs ${want}`);
  } else if (Array.isArray(want)) {
    assert.ok(Array.isArray(got) && got.length === want.length, `${where}: length ${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
    want.forEach((w, i) => assertClose((got as unknown[])[i], w, `${where}[${i}]`, tol));
  } else if (want && typeof want === 'object') {
    assert.deepStrictEqual(Object.keys(got as object).sort(), Object.keys(want).sort(), `${where}: keys`);
    for (const [k, w] of Object.entries(want)) assertClose((got as Record<string, unknown>)[k], w, `${where}.${k}`, tol);
  } else {
    assert.strictEqual(got, want, where);
  }
}

/** The two runs' logs agree line by line (losses, lr, grad norms, eval metrics, router means). */
function assertSameLogs(got: string, want: string): void {
  const a = metricsOf(got);
  const b = metricsOf(want);
  assert.deepStrictEqual(a.map((l) => `${l.type}${l.step}`), b.map((l) => `${l.type}${l.step}`), 'metrics.jsonl lines');
  a.forEach((l, i) => assertClose(l, b[i], `metrics.jsonl line ${i + 1}`));
  const ra = readJsonl<RouterLine>(path.join(got, 'router.jsonl'));
  const rb = readJsonl<RouterLine>(path.join(want, 'router.jsonl'));
  assertClose(ra, rb, 'router.jsonl');
}

describe('trainer: stop and resume', function () {
  this.timeout(120000);
  before(() => { tinyEncoder(); });

  it('a run started with --max-steps resumes with the same schedule and records max_steps in config.json', async () => {
    // epochs 1 = 4 steps; --max-steps 6 replaces that (linear schedule: total_steps sets every lr).
    const settings: Settings = { training: { max_steps: undefined, epochs: 1, eval_every: 2, save_every: 2, log_every: 1, schedule: 'linear' } };
    const ref = makeWorkspace(settings);
    const full = await trainRun(ref, { maxSteps: 6, runDir: path.join(ref.dir, 'run') });
    assert.deepStrictEqual([full.state, full.step, full.totalSteps], ['completed', 6, 6]);

    const ws = makeWorkspace(settings);
    const runDir = path.join(ws.dir, 'run');
    const stopped = await trainRun(ws, { maxSteps: 6, runDir }, 2);
    assert.deepStrictEqual([stopped.state, stopped.step], ['stopped', 2]);
    assert.strictEqual(readJson<{ training: { max_steps?: number } }>(path.join(runDir, 'config.json')).training.max_steps, 6);

    // VS Code's Resume passes no max steps: the run's own 6 steps go on.
    const resumed = await trainRun(ws, { resume: runDir });
    assert.deepStrictEqual([resumed.state, resumed.step, resumed.totalSteps], ['completed', 6, 6]);
    assert.deepStrictEqual([status(runDir).step, status(runDir).total_steps], [6, 6]);
    assert.strictEqual(loadCheckpoint(latestCheckpoint(runDir)!.dir).trainer.step, 6);
    assertSameLogs(runDir, full.runDir);
  });

  it('a stop inside a logging window (log_every 3) resumes to the same metrics.jsonl and router.jsonl', async () => {
    const settings: Settings = { training: { max_steps: 8, eval_every: 4, save_every: 2, log_every: 3 } };
    const ref = makeWorkspace(settings);
    const full = await trainRun(ref, { runDir: path.join(ref.dir, 'run') });
    assert.strictEqual(full.state, 'completed');
    assert.deepStrictEqual(metricsOf(full.runDir).filter((l) => l.type === 'train').map((l) => l.step), [3, 6, 8]);

    const ws = makeWorkspace(settings);
    const runDir = path.join(ws.dir, 'run');
    const stopped = await trainRun(ws, { runDir }, 4);
    // Stopped at step 4: steps 4 (logged with 5 and 6 in the window 4-6) are not yet in the log.
    assert.deepStrictEqual([stopped.state, stopped.step], ['stopped', 4]);
    const resumed = await trainRun(ws, { resume: runDir });
    assert.deepStrictEqual([resumed.state, resumed.step], ['completed', 8]);
    assertSameLogs(runDir, full.runDir);
  });

  it('resuming from an older checkpoint removes the newer ones of the abandoned timeline', async () => {
    const ws = makeWorkspace({ training: { max_steps: 8, eval_every: 2, save_every: 2 } });
    const runDir = path.join(ws.dir, 'run');
    assert.strictEqual((await trainRun(ws, { runDir })).state, 'completed');
    assert.deepStrictEqual(listCheckpoints(runDir).map((c) => c.step), [6, 8]);

    // Resume from step-6 and stop at once (before a step): step-8 belongs to the abandoned run.
    const again = await trainRun(ws, { resume: path.join(runDir, 'checkpoints', 'step-6') }, 'now');
    assert.deepStrictEqual([again.state, again.step], ['stopped', 6]);
    assert.deepStrictEqual(listCheckpoints(runDir).map((c) => c.step), [6], 'only the resumed timeline\'s checkpoints remain');
    assert.strictEqual(latestCheckpoint(runDir)!.step, 6);
    assert.ok(readJsonl<MetricLine>(path.join(runDir, 'metrics.jsonl')).every((l) => l.step <= 6));
  });

  it('refuses to resume a run whose status is running with a live pid (two writers)', async () => {
    const ws = makeWorkspace({ training: { max_steps: 2 } });
    const runDir = path.join(ws.dir, 'run');
    assert.strictEqual((await trainRun(ws, { runDir })).state, 'completed');
    const file = path.join(runDir, 'status.json');
    // This very process is alive: the run looks like it is being trained right now.
    fs.writeFileSync(file, JSON.stringify({ ...status(runDir), state: 'running', pid: process.pid }));
    const config = loadConfig(ws.config, undefined, { cwd: ws.dir });
    await assert.rejects(prepareTraining({ config, resume: runDir }), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, new RegExp(`still running \\(pid ${process.pid}\\)`));
      assert.match(e.message, /stop it first/);
      return true;
    });
    // A pid that is gone: the run crashed, and resuming it is allowed.
    fs.writeFileSync(file, JSON.stringify({ ...status(runDir), state: 'running', pid: 2 ** 22 + 12345 }));
    const prep = await prepareTraining({ config, resume: runDir });
    prep.data.close();
    await prep.runner.release();
  });
});
