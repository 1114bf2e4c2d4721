// "Lily: Stop" stops a training run in progress: the run ends as `stopped` with a complete
// checkpoint, and training resumes from that checkpoint.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { loadCheckpoint } from '../../../native-runtime/io/checkpoint';
import { readStatus, runCommand, sentimentExample, waitFor, waitForState } from './helpers';

const TOTAL_STEPS = 150;

describe('Lily: Stop', () => {
  let runDir = '';
  let stoppedAt = 0;

  it('stops a running training and leaves a valid checkpoint', async function () {
    this.timeout(300_000);
    const example = sentimentExample();
    // Enough steps (~60 ms each here) to be stopped at the first logged step (10), few enough
    // that the resumed run, which keeps this schedule, finishes soon.
    const r = await runCommand<{ runDir: string; pid: number }>('lily.train', vscode.Uri.file(example.config), { maxSteps: TOTAL_STEPS });
    runDir = r.runDir;
    await waitFor('the run to make progress (step >= 1 in status.json)', () => {
      const s = readStatus(runDir);
      if (s?.state === 'failed') throw new Error(`the run failed: ${s.error}`);
      return s && s.state === 'running' && s.step >= 1 ? s : undefined;
    }, 180_000);

    await runCommand<{ stopped: boolean }>('lily.stop', runDir);
    const status = await waitForState(runDir, ['stopped'], 60_000);
    assert.ok(status.step >= 1 && status.step < TOTAL_STEPS, `stopped at step ${status.step} of ${TOTAL_STEPS}`);
    assert.ok(status.last_checkpoint, 'status.json of a stopped run names no last_checkpoint');

    const ckpt = loadCheckpoint(path.join(runDir, status.last_checkpoint));
    assert.strictEqual(ckpt.trainer.step, status.step, 'the last checkpoint is not at the step the run stopped at');
    assert.ok(ckpt.params.size > 0, 'the checkpoint holds no trainable tensors');
    for (const [name, t] of [...ckpt.params, ...ckpt.optimizer]) {
      assert.ok(t.data.every(Number.isFinite), `checkpoint tensor ${name} has non-finite values`);
    }
    stoppedAt = status.step;

    // The training process is gone.
    await waitFor(`training process ${status.pid} to exit`, () => {
      try {
        process.kill(status.pid, 0);
        return undefined;
      } catch {
        return true;
      }
    }, 15_000);
  });

  it('a stopped run resumes from its checkpoint and completes', async function () {
    this.timeout(300_000);
    assert.ok(runDir && stoppedAt > 0, 'no stopped run from the previous test');
    // The real command, as the Runs view's Resume button runs it: the run keeps its schedule.
    const r = await runCommand<{ runDir: string; pid: number }>('lily.resume', runDir);
    assert.strictEqual(r.runDir, runDir, 'resume continues the same run directory');
    const status = await waitForState(r.runDir, ['completed'], 240_000);
    assert.strictEqual(status.step, TOTAL_STEPS);
    assert.ok(fs.existsSync(path.join(r.runDir, 'adapter', 'adapter_config.json')), 'the resumed run wrote no adapter');
  });
});
