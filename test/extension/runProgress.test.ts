// The progress notification's content for a run, from real run directories and the same
// notifications the backend sends: increments that add up to the run's percent, never going
// back, and the end of the run (completed, stopped, a dead process, a deleted run).
import * as assert from 'assert';
import * as fs from 'fs';
import { loadRunRecord } from '../../src/runRecords';
import { RunProgressTracker, type ProgressStep } from '../../src/runProgress';
import { RunsModel } from '../../src/runsModel';
import { deadPid, tempDir, writeRunStatus } from './fixtures';

const progress = (runDir: string, step: number, loss: number, etaSeconds: number) =>
  ({ runDir, step, totalSteps: 200, epoch: 0, loss, samplesPerSec: 100, etaSeconds });

describe('run progress notification', () => {
  const root = tempDir('progress');
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('reports increments that add up to the run\'s percent, with step, loss and ETA', () => {
    const dir = writeRunStatus(root, 'r1', { step: 0, total_steps: 200, loss: undefined, eta_s: undefined });
    const model = new RunsModel();
    model.upsert(loadRunRecord(dir)!);
    const t = new RunProgressTracker();
    const steps: ProgressStep[] = [t.next(model.get(dir))];
    model.applyProgress(progress(dir, 50, 0.69312, 90));
    steps.push(t.next(model.get(dir)));
    model.applyProgress(progress(dir, 51, 0.69312, 89)); // 25% still: only the message changes
    steps.push(t.next(model.get(dir)));
    steps.push(t.next(model.get(dir))); // nothing changed: nothing to report
    model.applyProgress(progress(dir, 30, 0.7, 95)); // an older step (files lag): no negative increment
    steps.push(t.next(model.get(dir)));
    model.applyProgress(progress(dir, 200, 0.4, 0));
    steps.push(t.next(model.get(dir)));
    assert.deepStrictEqual(steps, [
      { done: false, report: { increment: 0, message: 'step 0/200 (0%)' } },
      { done: false, report: { increment: 25, message: 'step 50/200 (25%) · loss 0.6931 · ETA 1m 30s' } },
      { done: false, report: { increment: 0, message: 'step 51/200 (25%) · loss 0.6931 · ETA 1m 29s' } },
      { done: false },
      { done: false, report: { increment: 0, message: 'step 30/200 (15%) · loss 0.7 · ETA 1m 35s' } },
      { done: false, report: { increment: 75, message: 'step 200/200 (100%) · loss 0.4 · ETA 0s' } },
    ]);
    const total = steps.reduce((a, s) => a + (!s.done && s.report ? s.report.increment : 0), 0);
    assert.strictEqual(total, 100);
  });

  it('starts a resumed run at its percent', () => {
    const dir = writeRunStatus(root, 'r2', { step: 120, total_steps: 200 });
    const step = new RunProgressTracker().next(loadRunRecord(dir));
    assert.ok(!step.done && step.report?.increment === 60, JSON.stringify(step));
  });

  it('ends when the run ends, when its process is gone, or when the run is deleted', () => {
    const model = new RunsModel();
    const dir = writeRunStatus(root, 'r3', { step: 10 });
    model.upsert(loadRunRecord(dir)!);
    const t = new RunProgressTracker();
    assert.strictEqual(t.next(model.get(dir)).done, false);
    model.applyRunState({ runDir: dir, state: 'stopped' });
    assert.deepStrictEqual(t.next(model.get(dir)), { done: true, state: 'stopped' });

    // status.json still says running, but the trainer is gone: readRunStatus reads it as failed.
    const dead = writeRunStatus(root, 'r4', { pid: deadPid() });
    assert.deepStrictEqual(new RunProgressTracker().next(loadRunRecord(dead)), { done: true, state: 'failed' });

    model.remove(dir);
    assert.deepStrictEqual(t.next(model.get(dir)), { done: true, state: 'deleted' });
  });
});
