import { strict as assert } from 'assert';
import { learningRate } from '../../native-runtime/train/schedule';
import { runTorch } from '../helpers/torch';

// torch's LambdaLR with Hugging Face's schedule lambdas, written out (transformers is not installed).
const TORCH = `
import math
def lam(kind, warmup, total):
    def f(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        if kind == 'constant':
            return 1.0
        if kind == 'linear':
            return max(0.0, float(total - step) / float(max(1, total - warmup)))
        progress = float(step - warmup) / float(max(1, total - warmup))
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))
    return f
out = {}
for kind in ['constant', 'linear', 'cosine']:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=inp['lr'])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lam(kind, inp['warmup'], inp['total']))
    lrs = []
    for _ in range(inp['total']):
        lrs.append(opt.param_groups[0]['lr'])
        opt.step(); sched.step()
    out[kind] = lrs
`;

describe('train/schedule', () => {
  it('matches LambdaLR with HF warmup + constant/linear/cosine lambdas, step by step', () => {
    const lr = 3e-3, warmup = 3, total = 12;
    const want = runTorch<Record<string, number[]>>(TORCH, { lr, warmup, total });
    for (const schedule of ['constant', 'linear', 'cosine'] as const) {
      const got = Array.from({ length: total }, (_, k) => learningRate(k, { lr, schedule, warmup_steps: warmup, total_steps: total }));
      got.forEach((v, k) => assert.ok(Math.abs(v - want[schedule][k]) < 1e-12, `${schedule} step ${k}: ${v} vs ${want[schedule][k]}`));
    }
  });

  it('has the documented shape: 0 at the first warmup step, peak after warmup, 0 at the end (linear, cosine)', () => {
    const s = { lr: 1, warmup_steps: 2, total_steps: 10 };
    assert.equal(learningRate(0, { ...s, schedule: 'linear' }), 0);
    assert.equal(learningRate(1, { ...s, schedule: 'linear' }), 0.5);
    assert.equal(learningRate(2, { ...s, schedule: 'cosine' }), 1);
    assert.equal(learningRate(10, { ...s, schedule: 'linear' }), 0);
    assert.ok(Math.abs(learningRate(10, { ...s, schedule: 'cosine' })) < 1e-12);
    assert.equal(learningRate(7, { ...s, schedule: 'constant' }), 1);
    assert.equal(learningRate(0, { ...s, warmup_steps: 0, schedule: 'constant' }), 1);
  });
});
