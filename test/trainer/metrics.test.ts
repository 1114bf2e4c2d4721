import * as assert from 'assert';
import { spawnSync } from 'child_process';
import { projectPython } from '../../scripts/projectPython.cjs';
import { accuracy, EvalAccumulator, macroF1, pearson } from '../../native-runtime/train/metrics';
import { Rng } from '../../native-runtime/train/rng';

/** Runs a torch snippet that reads JSON on stdin and prints JSON. */
function torch(script: string, input: unknown): any {
  const r = spawnSync(projectPython(), ['-c', `import json,sys,torch\nd=json.load(sys.stdin)\n${script}`], {
    input: JSON.stringify(input), encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

describe('trainer/metrics', () => {
  it('accuracy and macro-F1 on a hand-checked case', () => {
    const labels = [0, 0, 1, 1, 2, 2];
    const preds = [0, 1, 1, 1, 0, 2];
    assert.strictEqual(accuracy(preds, labels), 4 / 6);
    // per class F1: c0 tp1 fp1 fn1 -> 0.5; c1 tp2 fp1 fn0 -> 0.8; c2 tp1 fp0 fn1 -> 2/3
    assert.ok(Math.abs(macroF1(preds, labels) - (0.5 + 0.8 + 2 / 3) / 3) < 1e-12);
    assert.ok(Math.abs(pearson([1, 2, 3], [2, 4, 6.5]) - 0.9979487157886733) < 1e-12);
    assert.strictEqual(pearson([1, 1, 1], [1, 2, 3]), 0);
  });

  it('classification and causal-LM losses match torch cross_entropy', () => {
    const rng = new Rng(3);
    const B = 3, T = 4, C = 5;
    const cls = Array.from({ length: B * C }, () => rng.next() * 4 - 2);
    const clsLabels = [4, 0, 2];
    const lm = Array.from({ length: B * T * C }, () => rng.next() * 4 - 2);
    const lmLabels = [1, 2, 3, 4, 0, 1, -100, -100, 3, 3, 3, -100];
    const ref = torch(`
import torch.nn.functional as F
cls=torch.tensor(d['cls'],dtype=torch.float64).reshape(${B},${C})
a=F.cross_entropy(cls,torch.tensor(d['cl'])).item()
lm=torch.tensor(d['lm'],dtype=torch.float64).reshape(${B},${T},${C})
lab=torch.tensor(d['ll']).reshape(${B},${T})
b=F.cross_entropy(lm[:,:-1].reshape(-1,${C}),lab[:,1:].reshape(-1),ignore_index=-100).item()
print(json.dumps([a,b]))`, { cls, cl: clsLabels, lm, ll: lmLabels });
    const acc = new EvalAccumulator('sequence-classification');
    acc.add(cls.slice(0, C), [1, C], clsLabels.slice(0, 1));
    acc.add(cls.slice(C), [2, C], clsLabels.slice(1));
    assert.ok(Math.abs(acc.result().loss - ref[0]) < 1e-6, `${acc.result().loss} vs ${ref[0]}`);
    const lmAcc = new EvalAccumulator('causal-lm');
    lmAcc.add(lm, [B, T, C], lmLabels.map(BigInt));
    const r = lmAcc.result();
    assert.ok(Math.abs(r.loss - ref[1]) < 1e-6, `${r.loss} vs ${ref[1]}`);
    assert.ok(Math.abs(r.perplexity - Math.exp(ref[1])) < 1e-5);
  });
});
