// The torch backend on 2 processes (torchrun, gloo on loopback): data parallelism computes the
// same steps as one process with the same global batch (Lily's batch routing averages over the
// global batch across ranks), and Stop (SIGTERM to `lily train`) checkpoints and ends every rank;
// `--resume` continues to exactly the uninterrupted trajectory.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { lily, lilyProcess, torchFixture, trainLosses, writeConfig } from './fixture';

describe('torch backend (2 processes, gloo)', function () {
  this.timeout(600_000);
  const training = { max_steps: 30, eval_every: 10 };
  let single: string;
  let double: string;

  before(() => {
    const d = torchFixture();
    single = path.join(d, 'runs', 'ddp-1');
    double = path.join(d, 'runs', 'ddp-2');
    const a = lily(['train', writeConfig('ddp-1', 'torch', { training }), '--run-dir', single]);
    assert.strictEqual(a.status, 0, a.stderr);
    const b = lily(['train', writeConfig('ddp-2', 'torch', { training, runtime: { processes: 2 } }), '--run-dir', double]);
    assert.strictEqual(b.status, 0, b.stderr);
  });

  it('2 processes with global batch 16 give the losses of 1 process with batch 16 (to 1e-5)', () => {
    const one = trainLosses(single);
    const two = trainLosses(double);
    assert.strictEqual(one.length, 30);
    assert.deepStrictEqual(two.map((l) => l.step), one.map((l) => l.step));
    one.forEach((l, i) => assert.ok(Math.abs(l.loss - two[i].loss) < 1e-5, `step ${l.step}: 1 process ${l.loss}, 2 processes ${two[i].loss}`));
    assert.ok(Math.abs(one[29].loss - one[0].loss) > 1e-2, 'the loss moved');
    const status = JSON.parse(fs.readFileSync(path.join(double, 'status.json'), 'utf8'));
    assert.match(status.device_note, /2 processes \(gloo\)/);
  });

  it('a stopped 2-process run checkpoints, and --resume continues to the same trajectory', async () => {
    const runDir = path.join(torchFixture(), 'runs', 'ddp-stopped');
    const child = lilyProcess(['train', path.join(torchFixture(), 'ddp-2.lily.json'), '--run-dir', runDir]);
    let stderr = '';
    child.stderr!.on('data', (b) => { stderr += b; });
    const metrics = path.join(runDir, 'metrics.jsonl');
    // Stop once step 2 is logged (the run has 30 steps).
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    for (let i = 0; i < 1200 && !(fs.existsSync(metrics) && fs.readFileSync(metrics, 'utf8').includes('"step":2,')); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGTERM');
    assert.strictEqual(await exit, 130, stderr);
    const stopped = JSON.parse(fs.readFileSync(path.join(runDir, 'status.json'), 'utf8'));
    assert.strictEqual(stopped.state, 'stopped');
    assert.ok(stopped.step >= 2 && stopped.step < 30, `stopped at ${stopped.step}`);
    assert.strictEqual(stopped.last_checkpoint, `checkpoints/step-${stopped.step}`);
    assert.ok(fs.existsSync(path.join(runDir, 'adapter', 'adapter_model.safetensors')));

    // The tokenized data lives in a cache the run only names (dataset.json); a cleared cache is
    // written again on resume from the run's config, to the same records.
    const ref = JSON.parse(fs.readFileSync(path.join(runDir, 'dataset.json'), 'utf8')) as { train: string; eval?: string };
    assert.ok(!fs.existsSync(path.join(runDir, 'dataset')), 'the run directory holds a copy of the data');
    assert.ok(fs.existsSync(ref.train) && !ref.train.startsWith(runDir), ref.train);
    fs.rmSync(path.dirname(ref.train), { recursive: true });
    // No --backend: the run directory says it is a torch run.
    const r = lily(['train', path.join(torchFixture(), 'ddp-2.lily.json'), '--resume', runDir]);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stderr, /Tokenizing .*train\.jsonl/);
    assert.ok(fs.existsSync(ref.train), 'the resumed run did not write its data again');
    assert.strictEqual(JSON.parse(fs.readFileSync(path.join(runDir, 'status.json'), 'utf8')).state, 'completed');
    const resumed = trainLosses(runDir);
    const uninterrupted = trainLosses(double);
    assert.deepStrictEqual(resumed.map((l) => l.step), uninterrupted.map((l) => l.step));
    resumed.forEach((l, i) => assert.ok(Math.abs(l.loss - uninterrupted[i].loss) < 1e-6, `step ${l.step}: resumed ${l.loss}, uninterrupted ${uninterrupted[i].loss}`));
  });
});
