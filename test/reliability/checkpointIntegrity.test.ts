// Verified checkpoints (issue 13, item 6). A bit flip in params.safetensors used to resume
// silently (loss off by 1.2e-3); a damaged newest checkpoint stopped --resume instead of falling
// back; NaN weights from a damaged file were blamed on the learning rate; a trainer.json step
// that disagreed with its folder was believed (and good checkpoints deleted). Now each
// checkpoint has a manifest of checksums, verified on load; resume falls back to the newest
// intact checkpoint, saying which it skipped and why, and reproduces the uninterrupted run.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { loadConfig } from '../../native-runtime/config/validate';
import { readJsonl } from '../../native-runtime/io/atomic';
import { listCheckpoints } from '../../native-runtime/io/checkpoint';
import { MANIFEST_FILE } from '../../native-runtime/io/checkpointManifest';
import { readSafetensors, writeSafetensors } from '../../native-runtime/io/safetensors';
import type { MetricLine } from '../../native-runtime/runFiles';
import { prepareTraining, runTraining } from '../../native-runtime/train/trainer';
import { lily, makeWorkspace, tinyEncoder, type Workspace } from '../cli/workspace';
import { recordFault } from './ledger';

const SETTINGS = { training: { max_steps: 8, save_every: 2, eval_every: 4, log_every: 1 } };

/** Trains in-process; stops right after step `stopAt`'s checkpoint when given. */
async function train(ws: Workspace, runDir: string, stopAt?: number): Promise<string> {
  const config = loadConfig(ws.config, undefined, { cwd: ws.dir });
  const prep = await prepareTraining({ config, runDir });
  const stop = new AbortController();
  try {
    await runTraining(prep, { signal: stop.signal, onEvent: (e) => { if (stopAt !== undefined && e.event === 'checkpoint' && e.step >= stopAt) stop.abort(); } });
  } finally {
    prep.data.close();
    await prep.runner.release();
  }
  return runDir;
}

const losses = (runDir: string) => readJsonl<MetricLine>(path.join(runDir, 'metrics.jsonl')).filter((l) => l.type === 'train').map((l) => [l.step, (l as { loss: number }).loss]);

function flipByte(file: string, fromEnd: number): void {
  const b = fs.readFileSync(file);
  b[b.length - fromEnd] ^= 0x10;
  fs.writeFileSync(file, b);
}

describe('reliability: verified checkpoints', function () {
  this.timeout(120000);
  let reference: Array<Array<number>>;
  before(async () => {
    tinyEncoder();
    const ws = makeWorkspace(SETTINGS);
    reference = losses(await train(ws, path.join(ws.dir, 'run')));
    assert.strictEqual(reference.length, 8);
  });

  it('a bit flip in the newest checkpoint: resume skips it (naming file and reason), continues from the one before, and matches the uninterrupted run', async () => {
    const ws = makeWorkspace(SETTINGS);
    const runDir = await train(ws, path.join(ws.dir, 'run'), 6);
    assert.deepStrictEqual(listCheckpoints(runDir).map((c) => c.step), [4, 6]);
    assert.ok(fs.existsSync(path.join(runDir, 'checkpoints', 'step-6', MANIFEST_FILE)));
    flipByte(path.join(runDir, 'checkpoints', 'step-6', 'params.safetensors'), 3);
    const r = await lily(['train', '--resume', runDir, ws.config], ws.dir);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: skipping checkpoints.step-6: params\.safetensors does not match its checksum in manifest\.json/);
    assert.match(r.stderr, /Resuming from checkpoints.step-4, the newest intact checkpoint/);
    const got = losses(runDir);
    assert.deepStrictEqual(got.map((l) => l[0]), reference.map((l) => l[0]));
    got.forEach(([, loss], i) => assert.ok(Math.abs(loss - reference[i][1]) <= 1e-6, `step ${i + 1}: ${loss} vs ${reference[i][1]}`));
    recordFault('damaged checkpoint', 'bit flip in the newest params.safetensors', 'skipped; resumed from the one before to the same losses');
  });

  it('a trainer.json whose step disagrees with its folder is not believed (and the good checkpoint before it is kept)', async () => {
    const ws = makeWorkspace(SETTINGS);
    const runDir = await train(ws, path.join(ws.dir, 'run'), 6);
    const dir = path.join(runDir, 'checkpoints', 'step-6');
    const trainerFile = path.join(dir, 'trainer.json');
    fs.writeFileSync(trainerFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(trainerFile, 'utf8')), step: 2 }));
    // Also without a manifest (a checkpoint from before manifests): the step check alone catches it.
    fs.rmSync(path.join(dir, MANIFEST_FILE));
    const r = await lily(['train', '--resume', runDir, ws.config], ws.dir);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /skipping checkpoints.step-6: trainer\.json says step 2 but the folder is step-6/);
    assert.doesNotMatch(r.stderr, /Removed checkpoints.step-4/);
    assert.strictEqual(losses(runDir).length, 8);
    recordFault('damaged checkpoint', 'trainer.json step disagrees with its folder', 'skipped; older checkpoint kept and resumed');
  });

  it('NaN weights in a checkpoint are named as damage, not blamed on the learning rate; a damaged checkpoint named on the command line is exit 2', async () => {
    const ws = makeWorkspace(SETTINGS);
    const runDir = await train(ws, path.join(ws.dir, 'run'), 4);
    const dir = path.join(runDir, 'checkpoints', 'step-4');
    const file = path.join(dir, 'params.safetensors');
    const st = readSafetensors(file);
    const tensors = new Map([...st.tensors].map(([k, t]) => [k, { shape: t.shape, data: new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength)) }]));
    const first = [...tensors.values()][0];
    first.data[0] = NaN;
    writeSafetensors(file, tensors, { step: '4' });
    fs.rmSync(path.join(dir, MANIFEST_FILE));
    const r = await lily(['train', '--resume', dir, ws.config], ws.dir);
    assert.strictEqual(r.code, 2, r.stderr);
    assert.match(r.stderr, /step-4: damaged checkpoint: params\.safetensors: tensor "[^"]+" holds NaN at index 0/);
    assert.doesNotMatch(r.stderr, /training\.lr|diverged/);
    // The run directory itself: its only checkpoints are damaged, so there is nothing to resume.
    fs.rmSync(path.join(runDir, 'checkpoints', 'step-2'), { recursive: true, force: true });
    const all = await lily(['train', '--resume', runDir, ws.config], ws.dir);
    assert.strictEqual(all.code, 2, all.stderr);
    recordFault('damaged checkpoint', 'NaN weights in the only checkpoint', 'exit 2 naming the tensor');
    assert.match(all.stderr, /has no intact checkpoint .*\(1 damaged: step-4: params\.safetensors: tensor .* holds NaN/);
  });
});
