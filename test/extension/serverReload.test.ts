// Runs outlive the backend server (issue #5.5: runs survive a window reload). A reload ends the
// extension host, which shuts the server down; a crash kills it. Either way the training
// process (the real `lily train --json`, from bin/lily.js: run `npm run build` first) keeps
// training although the pipe it prints its events to is gone, and the server of the next
// window stops it by the pid in status.json.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { BackendSupervisor } from '../../src/backendProcess';
import { effectiveState, RunsModel } from '../../src/runsModel';
import { RunWatcher } from '../../src/runWatcher';
import { Methods, type StopResult, type TrainResult } from '../../native-runtime/protocol';
import { isProcessAlive, readRunStatus } from '../../native-runtime/io/runDir';
import type { RunStatus } from '../../native-runtime/runFiles';
import { makeWorkspace, type Workspace } from '../cli/workspace';
import { REPO, serverLaunch, waitFor } from './fixtures';

/** status.json as written (readRunStatus would already turn a dead pid into "failed"). */
function rawStatus(runDir: string): RunStatus | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(runDir, 'status.json'), 'utf8')) as RunStatus;
  } catch {
    return undefined; // being replaced
  }
}

describe('training runs outlive the backend server', function () {
  this.timeout(120_000);
  let ws: Workspace;
  const supervisors: BackendSupervisor[] = [];
  const pids: number[] = [];

  const startServer = async () => {
    const sup = new BackendSupervisor(serverLaunch(ws.dir));
    supervisors.push(sup);
    return { sup, backend: await sup.ready() };
  };

  before(function () {
    if (!fs.existsSync(path.join(REPO, 'out', 'native-runtime', 'cli.js'))) {
      throw new Error('out/native-runtime/cli.js is missing: run `npm run build` before these tests (the server trains through bin/lily.js)');
    }
    ws = makeWorkspace({ training: { log_every: 1, eval_every: 1000, save_every: 1000 } });
  });
  after(async () => {
    for (const s of supervisors) await s.dispose();
    // A failed assertion must not leave a detached trainer behind.
    for (const pid of pids) if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
    fs.rmSync(ws.dir, { recursive: true, force: true });
  });

  it('keeps training after a graceful server shutdown (a window reload); the next server stops it by pid', async () => {
    const first = await startServer();
    const r = await first.backend.request<TrainResult>(Methods.train, { configPath: ws.config, maxSteps: 100_000, device: 'cpu', threads: 1 });
    pids.push(r.pid);
    await waitFor('a first logged step', () => ((rawStatus(r.runDir)?.step ?? 0) >= 1 ? true : undefined));

    await first.sup.dispose(); // what deactivate() does on a reload
    assert.ok(isProcessAlive(r.pid), `the trainer (pid ${r.pid}) died with the server`);
    const atShutdown = rawStatus(r.runDir)!.step;
    // Every step prints a progress event to the pipe the old server no longer reads.
    await waitFor('steps after the shutdown', () => {
      const s = rawStatus(r.runDir);
      if (s && s.state !== 'running') throw new Error(`the run ended as ${s.state} after the server went away: ${s.error}`);
      if (!isProcessAlive(r.pid)) throw new Error(`the trainer (pid ${r.pid}) died at step ${s?.step} after the server went away`);
      return s && s.step >= atShutdown + 5 ? true : undefined;
    });
    assert.ok(isProcessAlive(r.pid));

    // The reloaded window's Runs view: a fresh model fed only by the run directory.
    const model = new RunsModel();
    const watcher = new RunWatcher(ws.runsDir, model, { debounceMs: 20, pollMs: 200 });
    try {
      await watcher.ready;
      const found = model.get(r.runDir);
      assert.ok(found, `the watcher did not find ${r.runDir}; it has ${model.list().map((x) => x.runDir).join(', ')}`);
      assert.strictEqual(effectiveState(found), 'running');
      const seen = found.status.step;
      await waitFor('progress from status.json in the model', () => ((model.get(r.runDir)?.status.step ?? 0) >= seen + 3 ? true : undefined));

      const second = await startServer();
      const stop = await second.backend.request<StopResult>(Methods.stop, { runDir: r.runDir });
      assert.deepStrictEqual(stop, { stopped: true });
      await waitFor('the model to show the run stopped', () => (model.get(r.runDir)?.status.state === 'stopped' ? true : undefined));
    } finally {
      await watcher.close();
    }
    const end = await waitFor('the stopped state', () => {
      const s = rawStatus(r.runDir);
      return s && s.state !== 'running' ? s : undefined;
    });
    assert.strictEqual(end.state, 'stopped', end.error);
    assert.ok(end.last_checkpoint && fs.existsSync(path.join(r.runDir, end.last_checkpoint)), `checkpoint ${end.last_checkpoint}`);
    await waitFor(`trainer ${r.pid} to exit`, () => (isProcessAlive(r.pid) ? undefined : true), 15_000);
  });

  it('finishes a run whose server was killed (EPIPE on its event stream is ignored): status.json ends completed', async () => {
    const { backend } = await startServer();
    const steps = 40;
    const r = await backend.request<TrainResult>(Methods.train, { configPath: ws.config, maxSteps: steps, device: 'cpu', threads: 1 });
    pids.push(r.pid);
    await waitFor('a first logged step', () => ((rawStatus(r.runDir)?.step ?? 0) >= 1 ? true : undefined));
    backend.process.kill('SIGKILL');
    const end = await waitFor('the run to end', () => {
      // readRunStatus reports a "running" run whose process is gone as failed.
      const s = readRunStatus(r.runDir);
      return s.state !== 'running' ? s : undefined;
    });
    assert.strictEqual(end.state, 'completed', end.error);
    assert.strictEqual(end.step, steps);
    assert.ok(fs.existsSync(path.join(r.runDir, 'adapter', 'adapter_config.json')), 'the run wrote no adapter');
  });
});
