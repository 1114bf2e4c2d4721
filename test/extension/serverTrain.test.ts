// Training through the real server: it spawns the real `lily train --json` (bin/lily.js, the
// compiled CLI: run `npm run build` first), relays its events as notifications, stops it with
// SIGTERM (checkpoint, state "stopped"), and reports a process that dies as a failed run with
// its last output.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { BackendSupervisor, type RunningBackend } from '../../src/backendProcess';
import {
  Methods, Notifications, type ExportResult, type ProgressParams, type RunStateParams, type StopResult, type TrainResult,
} from '../../native-runtime/protocol';
import { readRunStatus } from '../../native-runtime/io/runDir';
import { makeWorkspace, type Workspace } from '../cli/workspace';
import { REPO, serverLaunch, waitFor } from './fixtures';

interface Received { progress: ProgressParams[]; states: RunStateParams[] }

describe('training through the server', function () {
  this.timeout(180_000);
  let ws: Workspace;
  let sup: BackendSupervisor;
  let backend: RunningBackend;
  const got: Received = { progress: [], states: [] };

  before(async function () {
    if (!fs.existsSync(path.join(REPO, 'out', 'native-runtime', 'cli.js'))) {
      throw new Error('out/native-runtime/cli.js is missing: run `npm run build` before these tests (the server trains through bin/lily.js)');
    }
    ws = makeWorkspace({ training: { max_steps: 4, eval_every: 2, log_every: 1 } });
    sup = new BackendSupervisor(serverLaunch(ws.dir), {
      onConnection: (c) => {
        c.onNotification(Notifications.progress, (p: ProgressParams) => got.progress.push(p));
        c.onNotification(Notifications.runState, (p: RunStateParams) => got.states.push(p));
      },
    });
    backend = await sup.ready();
  });
  after(async () => {
    await sup.dispose();
    fs.rmSync(ws.dir, { recursive: true, force: true });
  });

  it('returns the run once training started, then relays progress and completion', async () => {
    const r = await backend.request<TrainResult>(Methods.train, { configPath: ws.config, device: 'cpu', threads: 1 });
    assert.ok(r.runDir.startsWith(ws.runsDir), r.runDir);
    assert.ok(r.pid > 0);
    assert.ok(fs.existsSync(path.join(r.runDir, 'status.json')), 'the run directory exists when train returns');
    const done = await waitFor('the completed state', () => got.states.find((s) => s.runDir === r.runDir && s.state !== 'running'));
    assert.strictEqual(done.state, 'completed', done.error);
    const steps = got.progress.filter((p) => p.runDir === r.runDir).map((p) => p.step);
    assert.deepStrictEqual(steps, [1, 2, 3, 4]);
    assert.strictEqual(readRunStatus(r.runDir).state, 'completed');

    // Export writes the PEFT files where asked.
    const out = path.join(ws.dir, 'exported');
    const ex = await backend.request<ExportResult>(Methods.export, { runDir: r.runDir, format: 'peft', out });
    assert.ok(ex.files.some((f) => f.endsWith('adapter_model.safetensors')), JSON.stringify(ex.files));
    for (const f of ex.files) assert.ok(fs.existsSync(path.resolve(ws.dir, f)), f);
  });

  it('stops a run with SIGTERM: it checkpoints and ends as stopped', async () => {
    // Stopped at its first step, far from the end; short enough to resume to the end quickly.
    const r = await backend.request<TrainResult>(Methods.train, { configPath: ws.config, maxSteps: 30, device: 'cpu', threads: 1 });
    await waitFor('a first progress event', () => got.progress.find((p) => p.runDir === r.runDir));
    const stop = await backend.request<StopResult>(Methods.stop, { runDir: r.runDir });
    assert.deepStrictEqual(stop, { stopped: true });
    const end = await waitFor('the stopped state', () => got.states.find((s) => s.runDir === r.runDir && s.state !== 'running'));
    assert.strictEqual(end.state, 'stopped', end.error);
    const status = readRunStatus(r.runDir);
    assert.strictEqual(status.state, 'stopped');
    assert.ok(status.step < 30, `stopped at step ${status.step}, not before the end`);
    assert.ok(status.last_checkpoint && fs.existsSync(path.join(r.runDir, status.last_checkpoint)), `checkpoint ${status.last_checkpoint}`);
    // Stopping it again says there was nothing to stop.
    assert.deepStrictEqual(await backend.request<StopResult>(Methods.stop, { runDir: r.runDir }), { stopped: false });

    // Resuming continues the same run directory from its checkpoint, on its own schedule (the
    // 30 steps it was started with).
    const seen = got.states.length;
    const resumed = await backend.request<TrainResult>(Methods.train, { configPath: ws.config, resume: r.runDir, device: 'cpu', threads: 1 });
    assert.strictEqual(resumed.runDir, r.runDir);
    const again = await waitFor('the resumed run to end', () => got.states.slice(seen).find((s) => s.runDir === r.runDir && s.state !== 'running'));
    assert.strictEqual(again.state, 'completed', again.error);
    assert.strictEqual(readRunStatus(r.runDir).step, 30);
  });

  it('reports a trainer killed mid-run as failed, with its last output, in status.json too', async () => {
    const r = await backend.request<TrainResult>(Methods.train, { configPath: ws.config, maxSteps: 400, device: 'cpu', threads: 1 });
    await waitFor('a first progress event', () => got.progress.find((p) => p.runDir === r.runDir));
    process.kill(r.pid, 'SIGKILL');
    const end = await waitFor('the failed state', () => got.states.find((s) => s.runDir === r.runDir && s.state !== 'running'));
    assert.strictEqual(end.state, 'failed');
    assert.match(end.error ?? '', /ended unexpectedly \(signal SIGKILL\)/);
    const status = JSON.parse(fs.readFileSync(path.join(r.runDir, 'status.json'), 'utf8'));
    assert.strictEqual(status.state, 'failed', 'the server recorded the failure in the run directory');
  });

  it('refuses an invalid config with the trainer\'s own message on the first line, and creates no run', async () => {
    const bad = path.join(ws.dir, 'bad.lily.json');
    const cfg = JSON.parse(fs.readFileSync(ws.config, 'utf8'));
    cfg.adapter.num_B = 1;
    fs.writeFileSync(bad, JSON.stringify(cfg));
    const runCount = () => (fs.existsSync(ws.runsDir) ? fs.readdirSync(ws.runsDir).length : 0);
    const before = runCount();
    const err = await backend.request(Methods.train, { configPath: bad }).then(() => undefined, (e: Error) => e);
    assert.ok(err, 'train must refuse an invalid config');
    // The reason is on the first line (what a notification shows), without a stack trace.
    const first = err.message.split('\n')[0];
    assert.match(first, /^training did not start for .*bad\.lily\.json \(exit code 2\): .*adapter\.num_B/);
    assert.doesNotMatch(err.message, /\n\s+at /, 'no stack trace for invalid input');
    assert.strictEqual(runCount(), before);
  });
});
