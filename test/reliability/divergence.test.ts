// Divergence caught before NaN (issue 13, item 2). At lr 1e6 the loss went 0.71 -> 8.3e6 and at
// lr 1e30 the weights reached 3.6e30, yet both runs ended `completed`, exit 0, with that adapter
// saved. Now the run stops `failed` (exit 1) at the diverged step, keeps its last good
// checkpoint, writes no adapter, and the hint fits the run's settings.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { DEFAULTS } from '../../native-runtime/config/resolved';
import { listCheckpoints, loadCheckpoint } from '../../native-runtime/io/checkpoint';
import type { RunStatus } from '../../native-runtime/runFiles';
import { DivergenceMonitor, maxAbsOf } from '../../native-runtime/train/divergence';
import { lily, makeWorkspace, tinyEncoder } from '../cli/workspace';
import { recordFault } from './ledger';

const readJson = <T>(f: string): T => JSON.parse(fs.readFileSync(f, 'utf8')) as T;
const small = { name: 'a', value: 0.1 };

describe('reliability: divergence', function () {
  this.timeout(120000);
  before(() => { tinyEncoder(); });

  for (const lr of [1e6, 1e30]) {
    it(`lr ${lr} (AdamW, clipping on): exit 1, state failed at the step, no adapter, a hint that does not suggest the clipping it has`, async () => {
      const ws = makeWorkspace({ training: { lr, max_steps: 6, save_every: 1, eval_every: 100 } });
      const runDir = path.join(ws.dir, 'run');
      const r = await lily(['train', ws.config, '--run-dir', runDir], ws.dir);
      assert.strictEqual(r.code, 1, r.stderr);
      const status = readJson<RunStatus>(path.join(runDir, 'status.json'));
      assert.strictEqual(status.state, 'failed');
      assert.match(status.error!, /^training diverged at step 1 \(lr /);
      assert.match(status.error!, /the weight \S+ reached magnitude [\d.e+]+, above training\.divergence\.param_limit 1e\+4|became (Infinity|NaN)/);
      assert.strictEqual(status.step, 0);
      assert.ok(status.error!.includes(`(it is ${lr}; try ${Number((lr / 10).toPrecision(3))})`), status.error);
      assert.doesNotMatch(status.error!, /turn on gradient clipping/);
      assert.match(status.error!, /Gradient clipping is already on at max_grad_norm 1/);
      assert.ok(!fs.existsSync(path.join(runDir, 'adapter')), 'no adapter from diverged weights');
      assert.deepStrictEqual(listCheckpoints(runDir), [], 'no checkpoint of diverged weights');
      assert.match(r.stderr, /error: training diverged at step 1/);
      recordFault('divergence', `lr ${lr}`, 'failed at step 1, no adapter');
    });
  }

  it('a run that diverges after good steps keeps the last good checkpoint; without clipping the hint suggests it', async () => {
    // Warmup: step 1 runs at lr 0 (checkpointed), step 2 at lr 5e5 diverges.
    const ws = makeWorkspace({ training: { lr: 1e6, warmup_steps: 2, max_grad_norm: 0, max_steps: 6, save_every: 1, eval_every: 100 } });
    const runDir = path.join(ws.dir, 'run');
    const r = await lily(['train', ws.config, '--run-dir', runDir], ws.dir);
    assert.strictEqual(r.code, 1, r.stderr);
    const status = readJson<RunStatus>(path.join(runDir, 'status.json'));
    assert.strictEqual(status.state, 'failed');
    assert.match(status.error!, /^training diverged at step 2 /);
    assert.match(status.error!, /The last good checkpoint is checkpoints.step-1 \(step 1\)/);
    assert.match(status.error!, /turn on gradient clipping \(training\.max_grad_norm 1\.0; it is 0, off\)/);
    assert.doesNotMatch(status.error!, /add training\.warmup_steps/, 'it has warmup already');
    assert.deepStrictEqual(listCheckpoints(runDir).map((c) => c.step), [1]);
    const worst = maxAbsOf([...loadCheckpoint(listCheckpoints(runDir)[0].dir).params].map(([k, v]) => [k, v.data] as [string, Float32Array]));
    assert.ok(worst.value < 100, `the kept checkpoint is the good one (max |w| ${worst.value})`);
    assert.ok(!fs.existsSync(path.join(runDir, 'adapter')));
    recordFault('divergence', 'lr 1e6 after a warmup step, clipping off', 'failed at step 2, step-1 checkpoint kept');
  });

  it('limits are configurable: param_limit 0 and grad_norm_limit 0 leave only the loss check, which then stops it', async () => {
    const ws = makeWorkspace({ training: { lr: 1e6, max_steps: 6, save_every: 100, eval_every: 100, divergence: { param_limit: 0, grad_norm_limit: 0 } } });
    const runDir = path.join(ws.dir, 'run');
    const r = await lily(['train', ws.config, '--run-dir', runDir], ws.dir);
    assert.strictEqual(r.code, 1, r.stderr);
    const status = readJson<RunStatus>(path.join(runDir, 'status.json'));
    assert.match(status.error!, /^training diverged at step 2 .*: the loss rose to .* above training\.divergence\.loss_factor 100\./);
    assert.match(status.error!, /raise training\.divergence\.loss_factor or set it to 0/);
    recordFault('divergence', 'lr 1e6 with weight and gradient limits off', 'failed on the loss check');
  });

  it('the loss check: noise and single hard batches pass, an exploding loss stops at once (unit, defaults)', () => {
    const m = new DivergenceMonitor(DEFAULTS.divergence);
    // Converging with noise down to ~0.01, then a single batch at 5.0 (500x the average).
    const losses = [0.7, 0.69, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.012, 0.008, 0.01, 5.0, 0.01, 0.02];
    for (const l of losses) assert.strictEqual(m.check(l, 1, small), undefined, `loss ${l}`);
    const v = m.check(8.3e6, 1, small);
    assert.ok(v, 'a loss of 8.3e6 after 0.01 is divergence');
    assert.strictEqual(v.field, 'training.divergence.loss_factor');
    // Near-zero losses: the reference stays at 1% of the first loss, so 1e-3 noise passes.
    const z = new DivergenceMonitor(DEFAULTS.divergence);
    for (const l of [0.7, 1e-6, 1e-7, 1e-6, 1e-3, 2e-3]) assert.strictEqual(z.check(l, 1, small), undefined, `loss ${l}`);
    // Gradient norm and weights, and non-finite values whatever the limits.
    assert.strictEqual(new DivergenceMonitor(DEFAULTS.divergence).check(0.7, 2e6, small)?.field, 'training.divergence.grad_norm_limit');
    assert.strictEqual(new DivergenceMonitor(DEFAULTS.divergence).check(0.7, 1, { name: 'w', value: 3.6e30 })?.field, 'training.divergence.param_limit');
    const off = new DivergenceMonitor({ loss_factor: 0, grad_norm_limit: 0, param_limit: 0 });
    assert.strictEqual(off.check(1e30, 1e30, { name: 'w', value: 1e30 }), undefined, 'all checks off');
    assert.match(off.check(NaN, 1, small)!.reason, /loss became NaN/);
    assert.deepStrictEqual(maxAbsOf([['a', [1, -7, 3]], ['b', [2]]]), { name: 'a', value: 7 });
  });
});
