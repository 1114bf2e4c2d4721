// The Runs view model from real run directories: what each row says, its children, its
// context menu key, live progress from protocol notifications, and the watcher picking up runs
// written by another process (the CLI) as they appear and change.
import * as assert from 'assert';
import { spawn } from 'child_process';
import { isProcessAlive } from '../../native-runtime/io/runDir';
import * as fs from 'fs';
import * as path from 'path';
import { loadRunRecord, scanRuns } from '../../src/runRecords';
import { RunWatcher } from '../../src/runWatcher';
import { RunsModel, effectiveState, formatDuration, rootEntries, runChildren, runItemView, statusBarSummary, sweepItemView, sweepStopPlan } from '../../src/runsModel';
import { deadPid, tempDir, writeRunStatus } from './fixtures';

function until(cond: () => boolean, what: string, ms = 8000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (cond()) return resolve();
      if (Date.now() - t0 > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 25);
    };
    tick();
  });
}

describe('runs tree model', () => {
  const root = tempDir('runs');
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('describes a running run briefly (step/total, loss; percent and ETA in the tooltip), and the status bar says the same', () => {
    const dir = writeRunStatus(root, 'r-running', { step: 25, total_steps: 200, loss: 0.51234, eta_s: 125 });
    const rec = loadRunRecord(dir)!;
    const v = runItemView(rec);
    assert.strictEqual(v.label, 'sentiment');
    assert.strictEqual(v.description, '25/200 · loss 0.5123', 'fits the default sidebar width beside the name');
    assert.match(v.tooltip, /step 25\/200 \(12%\), ETA 2m 5s/);
    assert.strictEqual(statusBarSummary([rec])!.text, '$(sync~spin) Lily sentiment: 25/200 · loss 0.5123', 'the status bar shows the row\'s own text');
    assert.deepStrictEqual(v.icon, { id: 'sync~spin' });
    assert.strictEqual(v.contextValue, 'lilyRun:running');
  });

  it('describes a completed run by its eval metric; children list metrics, checkpoints and adapter files', () => {
    const dir = writeRunStatus(root, 'r-done', { state: 'completed', step: 200, total_steps: 200, eval: { loss: 0.3, accuracy: 0.9125 }, eval_before: { loss: 0.7, accuracy: 0.5 } });
    for (const c of ['step-100', 'step-20', 'step-200']) fs.mkdirSync(path.join(dir, 'checkpoints', c), { recursive: true });
    fs.mkdirSync(path.join(dir, 'checkpoints', 'step-300.tmp'));
    fs.mkdirSync(path.join(dir, 'adapter'));
    fs.writeFileSync(path.join(dir, 'adapter', 'adapter_config.json'), '{}');
    fs.writeFileSync(path.join(dir, 'adapter', 'adapter_model.safetensors'), '');
    const rec = loadRunRecord(dir)!;
    const v = runItemView(rec);
    assert.strictEqual(v.description, '200 steps · accuracy 0.9125');
    assert.deepStrictEqual(v.icon, { id: 'pass', color: 'testing.iconPassed' });
    assert.strictEqual(v.contextValue, 'lilyRun:completed');
    const kids = runChildren(rec, path.join);
    assert.deepStrictEqual(kids.map((k) => k.label), ['Metrics', 'Checkpoints', 'Adapter']);
    const metrics = kids[0].children!;
    assert.strictEqual(metrics.find((m) => m.label === 'Eval accuracy')!.description, '0.9125 (before 0.5)');
    assert.strictEqual(kids[0].description, 'accuracy 0.9125 (before 0.5)');
    assert.deepStrictEqual(kids[1].children!.map((c) => c.label), ['step-20', 'step-100', 'step-200'], 'sorted by step, partial writes hidden');
    assert.strictEqual(kids[2].children![0].path, path.join(dir, 'adapter', 'adapter_config.json'));
  });

  it('shows a stopped run with a checkpoint as resumable, and a failed run with its error', () => {
    const stopped = writeRunStatus(root, 'r-stopped', { state: 'stopped', step: 40, last_checkpoint: 'checkpoints/step-40' });
    fs.mkdirSync(path.join(stopped, 'checkpoints', 'step-40'), { recursive: true });
    const sv = runItemView(loadRunRecord(stopped)!);
    assert.strictEqual(sv.contextValue, 'lilyRun:stopped:resumable');
    assert.match(sv.description, /^stopped at 40\/100/);
    // A stop the user asked for is not shown as an error.
    const stoppedByUser = writeRunStatus(root, 'r-sigterm', { state: 'stopped', step: 40, error: 'stopped (SIGTERM)' });
    const kids = runChildren(loadRunRecord(stoppedByUser)!, path.join);
    assert.deepStrictEqual(kids.map((k) => k.label), ['Stopped', 'Metrics']);
    assert.strictEqual(kids[0].icon, 'debug-pause');
    // The only eval is the one before training: say so rather than show it as the result.
    const early = writeRunStatus(root, 'r-early', { state: 'completed', step: 20, loss: 0.4, eval: { accuracy: 0.51 }, eval_before: { accuracy: 0.51 } });
    const earlyRec = loadRunRecord(early)!;
    assert.strictEqual(runChildren(earlyRec, path.join)[0].description, 'accuracy 0.51 before training · loss 0.4');
    assert.strictEqual(runItemView(earlyRec).description, '20 steps · loss 0.4');
    const failed = writeRunStatus(root, 'r-failed', { state: 'failed', step: 3, error: 'out of memory\nat step 3' });
    const rec = loadRunRecord(failed)!;
    assert.strictEqual(runItemView(rec).contextValue, 'lilyRun:failed');
    const err = runChildren(rec, path.join)[0];
    assert.strictEqual(err.label, 'Error');
    assert.strictEqual(err.description, 'out of memory');
  });

  it('shows a "running" run whose process is gone as failed, read from disk', () => {
    const dir = writeRunStatus(root, 'r-dead', { pid: deadPid() });
    const rec = loadRunRecord(dir)!;
    assert.strictEqual(effectiveState(rec), 'failed');
    const v = runItemView(rec);
    assert.deepStrictEqual(v.icon, { id: 'error', color: 'testing.iconFailed' });
    assert.match(v.tooltip, /no longer running/);
  });

  it('notices when a running run\'s process dies after it was read', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      const dir = writeRunStatus(root, 'r-dies', { pid: child.pid! });
      const model = new RunsModel();
      model.upsert(loadRunRecord(dir)!);
      assert.strictEqual(effectiveState(model.get(dir)!), 'running');
      assert.deepStrictEqual(model.markDeadProcesses(isProcessAlive), []);
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
      assert.deepStrictEqual(model.markDeadProcesses(isProcessAlive), [dir]);
      assert.strictEqual(effectiveState(model.get(dir)!), 'failed');
      assert.match(runItemView(model.get(dir)!).tooltip, /no longer running/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('applies progress, metrics and state notifications to the right run', () => {
    const dir = writeRunStatus(root, 'r-live', { step: 0, total_steps: 50, loss: undefined, eta_s: undefined });
    const model = new RunsModel();
    model.upsert(loadRunRecord(dir)!);
    const changes: Array<string[] | 'all'> = [];
    model.onDidChange((c) => changes.push(c));
    assert.strictEqual(model.applyProgress({ runDir: dir, step: 20, totalSteps: 50, epoch: 0, loss: 0.25, samplesPerSec: 99, etaSeconds: 30 }), true);
    assert.strictEqual(runItemView(model.get(dir)!).description, '20/50 · loss 0.25');
    // A notification for a run the model does not know changes nothing.
    assert.strictEqual(model.applyProgress({ runDir: '/elsewhere', step: 1, totalSteps: 2, epoch: 0, loss: 1, samplesPerSec: 1, etaSeconds: 1 }), false);
    // A stale file read (status.json rewritten less often than progress) does not move it back.
    model.upsert(loadRunRecord(dir)!);
    assert.strictEqual(model.get(dir)!.status.step, 20);
    model.applyMetrics({ runDir: dir, line: { type: 'eval', step: 20, epoch: 0, metrics: { loss: 0.2, accuracy: 0.8 }, time_s: 3 } });
    model.applyRunState({ runDir: dir, state: 'completed' });
    assert.strictEqual(runItemView(model.get(dir)!).description, '20 steps · accuracy 0.8');
    assert.deepStrictEqual(changes, [[dir], [dir], [dir], [dir]]);
  });

  it('groups the runs of a sweep under one row with its progress and best point (sweep.json)', () => {
    const sweepDir = path.join(root, 'sweep');
    const member = (i: number, lr: number, state: 'completed' | 'running', accuracy?: number) => {
      const dir = writeRunStatus(sweepDir, `p${i}`, { state, step: 10, total_steps: 10, started_at: `2026-01-01T00:00:0${i}Z`, ...(accuracy !== undefined ? { eval: { accuracy }, eval_before: { accuracy: 0.5 } } : {}) });
      fs.writeFileSync(path.join(dir, 'sweep.json'), JSON.stringify({ sweep_id: 'S1', name: 'demo', index: i, total: 3, overrides: { 'training.lr': lr }, config_path: '/x.lily.json' }));
      return dir;
    };
    member(0, 0.001, 'completed', 0.8);
    member(1, 0.003, 'completed', 0.95);
    member(2, 0.01, 'running');
    writeRunStatus(sweepDir, 'single', { state: 'completed', started_at: '2025-12-31T00:00:00Z' });
    const entries = rootEntries(scanRuns(sweepDir).sort((a, b) => (b.status.started_at ?? '').localeCompare(a.status.started_at ?? '')));
    assert.deepStrictEqual(entries.map((e) => e.kind), ['sweep', 'run']);
    const group = (entries[0] as Extract<typeof entries[number], { kind: 'sweep' }>).group;
    assert.deepStrictEqual(group.runs.map((r) => r.sweep!.index), [0, 1, 2], 'grid order inside the group');
    const v = sweepItemView(group);
    assert.strictEqual(v.label, 'Sweep: demo');
    assert.strictEqual(v.description, '2/3 done · best accuracy 0.95 (lr=0.003)');
    assert.strictEqual(v.running, true);
  });

  it('Stop on a sweep row signals the sweep process while it lives, else each running point, else nothing', () => {
    const sweepDir = path.join(root, 'sweep-stop');
    const member = (i: number, state: 'completed' | 'running') => {
      const dir = writeRunStatus(sweepDir, `p${i}`, { state, pid: process.pid, started_at: `2026-01-01T00:00:0${i}Z` });
      fs.writeFileSync(path.join(dir, 'sweep.json'), JSON.stringify({ sweep_id: 'S2', name: 'demo', index: i, total: 3, overrides: { 'training.lr': i }, config_path: '/x.lily.json', sweep_pid: 4242 }));
      return dir;
    };
    member(0, 'completed');
    const running = member(1, 'running');
    const group = () => (rootEntries(scanRuns(sweepDir)).find((e) => e.kind === 'sweep') as Extract<ReturnType<typeof rootEntries>[number], { kind: 'sweep' }>).group;
    assert.deepStrictEqual(sweepStopPlan(group(), (pid) => pid === 4242), { pid: 4242 });
    assert.deepStrictEqual(sweepStopPlan(group(), (pid) => pid !== 4242), { runDirs: [running] }, 'the sweep process is gone');
    writeRunStatus(sweepDir, 'p1', { state: 'completed', pid: process.pid, started_at: '2026-01-01T00:00:01Z' });
    assert.strictEqual(sweepStopPlan(group(), () => true), undefined, 'nothing trains');
  });

  it('formats durations', () => {
    assert.deepStrictEqual([7, 125, 3725, -1].map(formatDuration), ['7s', '2m 5s', '1h 2m', '?']);
  });

  it('scans a runs directory, ignoring folders without status.json', () => {
    const dir = tempDir('scan');
    writeRunStatus(dir, 'a');
    fs.mkdirSync(path.join(dir, 'not-a-run'));
    assert.deepStrictEqual(scanRuns(dir).map((r) => path.basename(r.runDir)), ['a']);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('RunWatcher on a real folder', function () {
  this.timeout(30_000);

  it('picks up a runs directory created later, new runs, updates and deletions', async () => {
    const ws = tempDir('watch');
    const runsDir = path.join(ws, '.lily', 'runs');
    const model = new RunsModel();
    const watcher = new RunWatcher(runsDir, model, { debounceMs: 50, pollMs: 100 });
    try {
      assert.deepStrictEqual(model.list(), []);
      // The CLI creates the folder and its first run.
      const dir = writeRunStatus(runsDir, 'cli-run', { step: 1 });
      await until(() => model.get(dir) !== undefined, 'the new run to appear');
      await watcher.ready;
      writeRunStatus(runsDir, 'cli-run', { step: 60, loss: 0.125 });
      await until(() => model.get(dir)?.status.step === 60, 'the step to update');
      assert.strictEqual(model.get(dir)!.status.loss, 0.125);
      fs.mkdirSync(path.join(dir, 'checkpoints', 'step-60'), { recursive: true });
      await until(() => model.get(dir)!.checkpoints.length === 1, 'the checkpoint to show');
      writeRunStatus(runsDir, 'cli-run', { step: 100, state: 'completed' });
      await until(() => model.get(dir)?.status.state === 'completed', 'the run to complete');
      fs.rmSync(dir, { recursive: true, force: true });
      await until(() => model.get(dir) === undefined, 'the deleted run to go');
    } finally {
      await watcher.close();
      fs.rmSync(ws, { recursive: true, force: true });
    }
  });

  it('follows a run outside the runs directory (a config\'s own output.dir) by polling, and finds it again when told after a reload', async () => {
    const ws = tempDir('watch-outside');
    const runsDir = path.join(ws, '.lily', 'runs');
    const elsewhere = path.join(ws, 'my-output');
    const dir = writeRunStatus(elsewhere, 'run-x', { step: 3 });
    const model = new RunsModel();
    const watcher = new RunWatcher(runsDir, model, { debounceMs: 50, pollMs: 100 });
    let reloaded: RunWatcher | undefined;
    try {
      assert.strictEqual(model.get(dir), undefined, 'not under the runs directory: unknown until tracked');
      assert.strictEqual(watcher.track(path.join(runsDir, 'inside')), false, 'a run inside the runs directory is watched anyway');
      assert.strictEqual(watcher.track(dir), true);
      assert.strictEqual(model.get(dir)?.status.step, 3);
      writeRunStatus(elsewhere, 'run-x', { step: 40 });
      await until(() => model.get(dir)?.status.step === 40, 'the outside run to update');
      assert.deepStrictEqual(watcher.outsideRuns(), [dir]);
      watcher.rescan();
      assert.ok(model.get(dir), 'a rescan of the runs directory keeps the outside run');

      // The next window: a new model and watcher, given what the last one remembered.
      const model2 = new RunsModel();
      reloaded = new RunWatcher(runsDir, model2, { debounceMs: 50, pollMs: 100, outsideRuns: watcher.outsideRuns() });
      assert.strictEqual(model2.get(dir)?.status.step, 40);
      writeRunStatus(elsewhere, 'run-x', { step: 50, state: 'completed' });
      await until(() => model2.get(dir)?.status.state === 'completed', 'the outside run to complete');
      fs.rmSync(dir, { recursive: true, force: true });
      await until(() => model.get(dir) === undefined && watcher.outsideRuns().length === 0, 'the deleted outside run to go');
    } finally {
      await watcher.close();
      await reloaded?.close();
      fs.rmSync(ws, { recursive: true, force: true });
    }
  });

  it('stays live while a fast run rewrites its files more often than the refresh delay (refreshes are rate-bounded, not restarted)', async () => {
    const ws = tempDir('watch-fast');
    const runsDir = path.join(ws, '.lily', 'runs');
    const dir = writeRunStatus(runsDir, 'fast', { step: 0 });
    const model = new RunsModel();
    // A refresh delay of 300 ms and a write every ~15 ms (a ~60 steps/s run): a debounce that
    // restarts on each event never fires while writes go on.
    const watcher = new RunWatcher(runsDir, model, { debounceMs: 300, pollMs: 60_000 });
    const seen: number[] = [];
    let written = 0;
    try {
      await watcher.ready;
      // Keep writing until the view has shown two different steps of the still-running run,
      // or give up after 1000 writes (~15 s).
      while (written < 1000) {
        written++;
        writeRunStatus(runsDir, 'fast', { step: written });
        const shown = model.get(dir)?.status.step;
        if (shown !== undefined && shown > 0 && !seen.includes(shown)) seen.push(shown);
        if (seen.length >= 2) break;
        await new Promise((r) => setTimeout(r, 15));
      }
      assert.ok(seen.length >= 2, `the view showed steps ${JSON.stringify(seen)} during ${written} continuous writes; expected live updates`);
      assert.ok(seen[1] > seen[0] && seen[1] < written + 1, `steps shown must progress while the run writes: ${seen}`);
    } finally {
      await watcher.close();
      fs.rmSync(ws, { recursive: true, force: true });
    }
  });

  it('marks a running run failed when its process dies, without any file change', async () => {
    const ws = tempDir('watch-dead');
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    const dir = writeRunStatus(ws, 'orphan', { pid: child.pid! });
    const model = new RunsModel();
    const watcher = new RunWatcher(ws, model, { debounceMs: 50, pollMs: 100 });
    try {
      assert.strictEqual(effectiveState(model.get(dir)!), 'running');
      child.kill('SIGKILL');
      await until(() => effectiveState(model.get(dir)!) === 'failed', 'the orphan to show as failed');
    } finally {
      child.kill('SIGKILL');
      await watcher.close();
      fs.rmSync(ws, { recursive: true, force: true });
    }
  });
});
