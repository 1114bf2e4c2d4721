// Checkpoints: exact round trip, a half-written save never looks complete, pruning keeps the last 2.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { CHECKPOINT_FILES, type CheckpointState, latestCheckpoint, listCheckpoints, loadCheckpoint, saveCheckpoint } from '../../native-runtime/io/checkpoint';
import { MANIFEST_FILE } from '../../native-runtime/io/checkpointManifest';
import { values } from './adapterFixtures';
import { tempDir } from '../helpers/tempDir';

function state(step: number): CheckpointState {
  return {
    params: new Map([
      ['layer.0.value.lily_A', { dims: [6, 3], data: values(18, step) }],
      ['classifier.bias', { dims: [2], data: values(2, step + 1) }],
    ]),
    optimizer: new Map([
      ['m/layer.0.value.lily_A', { dims: [6, 3], data: values(18, step + 2) }],
      ['v/layer.0.value.lily_A', { dims: [6, 3], data: values(18, step + 3) }],
    ]),
    trainer: { step, epoch: 1, position_in_epoch: 7, data_order_seed: 42, rng_state: [1, 2, 3, 4], best_metric: 0.81, scheduler: { warmup_done: true } },
  };
}

describe('checkpoints', () => {
  let runDir: string;
  beforeEach(() => { runDir = tempDir('lily-ckpt-'); });
  afterEach(() => fs.rmSync(runDir, { recursive: true, force: true }));

  it('saves into checkpoints/step-<N>/ and loads back exactly', () => {
    const dir = saveCheckpoint(runDir, 120, state(120));
    assert.strictEqual(dir, path.join(runDir, 'checkpoints', 'step-120'));
    assert.deepStrictEqual(fs.readdirSync(dir).sort(), [...Object.values(CHECKPOINT_FILES), MANIFEST_FILE].sort());
    const back = loadCheckpoint(dir);
    assert.deepStrictEqual(back.params, state(120).params);
    assert.deepStrictEqual(back.optimizer, state(120).optimizer);
    assert.deepStrictEqual(back.trainer, state(120).trainer);
    assert.deepStrictEqual(latestCheckpoint(runDir), { dir, step: 120 });
  });

  it('ignores a half-written save: a temp folder, or a step folder missing a file', () => {
    saveCheckpoint(runDir, 10, state(10));
    const root = path.join(runDir, 'checkpoints');
    // A crash mid-save leaves the hidden temp folder with some files written.
    const tmp = path.join(root, '.tmp-step-20-999999-1');
    fs.mkdirSync(tmp);
    fs.copyFileSync(path.join(root, 'step-10', CHECKPOINT_FILES.params), path.join(tmp, CHECKPOINT_FILES.params));
    // And a step folder copied in by hand without its trainer state.
    fs.mkdirSync(path.join(root, 'step-30'));
    fs.copyFileSync(path.join(root, 'step-10', CHECKPOINT_FILES.params), path.join(root, 'step-30', CHECKPOINT_FILES.params));
    assert.deepStrictEqual(latestCheckpoint(runDir), { dir: path.join(root, 'step-10'), step: 10 });
    assert.throws(() => loadCheckpoint(path.join(root, 'step-30')), /step-30: damaged checkpoint: missing optimizer\.safetensors, trainer\.json; resume from another checkpoint/);
    // The next save clears the dead process's leftover.
    saveCheckpoint(runDir, 40, state(40));
    assert.ok(!fs.existsSync(tmp));
  });

  it('keeps the newest 2 checkpoints (numeric order) and replaces a re-saved step', () => {
    for (const step of [5, 50, 100, 500]) saveCheckpoint(runDir, step, state(step));
    assert.deepStrictEqual(listCheckpoints(runDir).map((c) => c.step), [100, 500]);
    const again = state(500);
    again.trainer.best_metric = 0.9;
    saveCheckpoint(runDir, 500, again);
    assert.strictEqual(loadCheckpoint(latestCheckpoint(runDir)!.dir).trainer.best_metric, 0.9);
    assert.deepStrictEqual(fs.readdirSync(path.join(runDir, 'checkpoints')).sort(), ['step-100', 'step-500']);
    saveCheckpoint(runDir, 600, state(600), { keep: 1 });
    assert.deepStrictEqual(listCheckpoints(runDir).map((c) => c.step), [600]);
  });

  it('has no checkpoint before the first save', () => {
    assert.strictEqual(latestCheckpoint(runDir), undefined);
  });
});
