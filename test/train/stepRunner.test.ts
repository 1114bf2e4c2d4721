import { strict as assert } from 'assert';
import * as ort from 'onnxruntime-node';
import { StepRunner, type RunnerOptions } from '../../native-runtime/train/stepRunner';
import { D, T, randn, tinyModel } from '../adapters/tinyGraph';

function batch(rows: number, seed: number, padLast = true): Record<string, ort.Tensor> {
  const mask = BigInt64Array.from({ length: rows * T }, (_, i) => (padLast && i === rows * T - 1 ? 0n : 1n));
  return {
    x: new ort.Tensor('float32', randn(rows * T * D, seed), [rows, T, D]),
    attention_mask: new ort.Tensor('int64', mask, [rows, T]),
    labels: new ort.Tensor('int64', BigInt64Array.from({ length: rows }, (_, i) => BigInt((seed + i) % 3)), [rows]),
  };
}

const OPTS: RunnerOptions = {
  adapter: { method: 'lily', target_modules: ['value'], r: 3, num_B: 2, routing: 'masked', modules_to_save: ['classifier'] },
  task: 'sequence-classification',
  optimizer: { weight_decay: 0.01 },
  threads: 1,
};
const LR = 0.05;

async function runner(rows = 2): Promise<StepRunner> {
  return StepRunner.create(tinyModel({ dynamicBatch: true }), { x: [rows, T, D], attention_mask: [rows, T] }, OPTS);
}

describe('train/stepRunner', function () {
  this.timeout(60_000);

  it('training lowers the loss; parameters and optimizer states change; getParams returns copies', async () => {
    const r = await runner();
    const b = batch(2, 1);
    const before = r.getParams();
    const first = await r.step(b, LR);
    let last = first;
    for (let k = 0; k < 15; k++) last = await r.step(b, LR);
    assert.ok(last.loss < first.loss - 0.05, `loss ${first.loss} -> ${last.loss}`);
    assert.equal(r.stepCount, 16);
    const after = r.getParams();
    assert.notDeepEqual(after.get('classifier.weight'), before.get('classifier.weight'));
    after.get('classifier.weight')!.fill(123);
    assert.ok(!r.getParams().get('classifier.weight')!.includes(123), 'getParams hands out copies');
    const st = r.getOptimizerState();
    assert.equal(st.step, 16);
    assert.deepEqual([...st.tensors.keys()].filter((k) => k.startsWith('classifier.weight')), ['classifier.weight.exp_avg', 'classifier.weight.exp_avg_sq']);
    assert.ok(st.tensors.get('classifier.weight.exp_avg_sq')!.some((v) => v > 0));
    assert.deepEqual([...last.routerProbs.keys()], ['layer.0.value', 'layer.1.value']);
    await r.release();
  });

  it('a checkpoint (params + optimizer state) resumes the exact trajectory', async () => {
    const a = await runner();
    const batches = [batch(2, 1), batch(2, 2), batch(2, 3)];
    for (let k = 0; k < 3; k++) await a.step(batches[k % 3], LR);
    const params = a.getParams();
    const state = a.getOptimizerState();
    const cont: number[] = [];
    for (let k = 3; k < 6; k++) cont.push((await a.step(batches[k % 3], LR)).loss);
    const b = await runner();
    b.setParams(params);
    b.setOptimizerState(state);
    const resumed: number[] = [];
    for (let k = 3; k < 6; k++) resumed.push((await b.step(batches[k % 3], LR)).loss);
    assert.deepEqual(resumed, cont);
    assert.deepEqual(b.getParams(), a.getParams());
    await a.release();
    await b.release();
  });

  it('a smaller last batch compiles a second shape that shares the parameters', async () => {
    const a = await runner(2);
    await a.step(batch(2, 1), LR);
    const params = a.getParams();
    const state = a.getOptimizerState();
    const small = batch(1, 4, false);
    const viaSecondShape = await a.step(small, LR);
    // The same step from a runner built for the 1-row shape directly.
    const b = await runner(1);
    b.setParams(params);
    b.setOptimizerState(state);
    const direct = await b.step(small, LR);
    assert.equal(viaSecondShape.loss, direct.loss);
    assert.deepEqual(a.getParams(), b.getParams());
    // And back on the first shape, the update made on the second is visible.
    const evalAfter = await a.evaluate(batch(2, 1));
    const c = await runner(2);
    c.setParams(a.getParams());
    assert.equal((await c.evaluate(batch(2, 1))).loss, evalAfter.loss);
    for (const r of [a, b, c]) await r.release();
  });

  it('evaluate returns logits, loss count, router mixtures and (optionally) per-row router probabilities', async () => {
    const r = await StepRunner.create(tinyModel({ dynamicBatch: true }), { x: [2, T, D], attention_mask: [2, T] }, { ...OPTS, exposeTokenProbs: true });
    const b = batch(2, 5);
    const ev = await r.evaluate(b);
    assert.deepEqual(ev.logits!.dims, [2, 3]);
    assert.equal(ev.count, 2);
    const tok = ev.tokenProbs!.get('layer.1.value')!;
    assert.deepEqual(tok.dims, [2 * T, 2]);
    // Masked routing: the mixture is the mean of the per-row probabilities over unmasked rows.
    const rows = tok.data as Float32Array;
    const mask = b.attention_mask.data as BigInt64Array;
    const mean = [0, 1].map((e) => {
      let s = 0, n = 0;
      for (let i = 0; i < 2 * T; i++) if (mask[i] === 1n) { s += rows[i * 2 + e]; n++; }
      return s / n;
    });
    const mix = ev.routerProbs.get('layer.1.value')!;
    mean.forEach((m, e) => assert.ok(Math.abs(m - mix[e]) < 1e-6));
    // Evaluation does not train.
    assert.equal((await r.evaluate(b)).loss, ev.loss);
    assert.equal(r.stepCount, 0);
    await r.release();
  });

  it('explains bad batches and bad restores', async () => {
    const r = await runner();
    const b = batch(2, 1);
    await assert.rejects(r.step({ x: b.x, labels: b.labels }, LR), /missing model input "attention_mask"/);
    await assert.rejects(r.step({ ...b, labels: new ort.Tensor('float32', Float32Array.of(0, 1), [2]) }, LR), /"labels" is float32, expected int64/);
    assert.throws(() => r.setParams(new Map([['nope', new Float32Array(1)]])), /not a trainable tensor/);
    assert.throws(() => r.setOptimizerState({ step: 1, tensors: new Map() }), /has no ".*exp_avg"/);
    await r.release();
  });
});
