import { strict as assert } from 'assert';
import * as ort from 'onnxruntime-node';
import { Emitter } from '../../native-runtime/adapters/emit';
import { mulberry32 } from '../../native-runtime/adapters/init';
import { buildGradients } from '../../native-runtime/autodiff';
import type { TaskType } from '../../native-runtime/config/types';
import { GraphBuilder, emptyGraph, type Model } from '../../native-runtime/onnx/ir';
import { modelToBytes } from '../../native-runtime/onnx/proto';
import { addLoss } from '../../native-runtime/train/losses';
import { runTorch } from '../helpers/torch';

interface LossCase { task: TaskType; shape: number[]; labels: number[] }

const CASES: LossCase[] = [
  { task: 'sequence-classification', shape: [4, 3], labels: [0, 2, 1, 1] },
  { task: 'token-classification', shape: [2, 5, 4], labels: [0, 3, -100, 1, 2, -100, 1, 1, 0, -100] },
  { task: 'causal-lm', shape: [2, 5, 6], labels: [5, 1, 2, 3, -100, 4, 4, 0, -100, -100] },
  { task: 'regression', shape: [4, 1], labels: [0.5, -1.25, 2, 0] },
  { task: 'regression', shape: [3], labels: [1, 2, 3] },
];

/** A graph whose logits are a trainable input W, followed by the task loss and its gradient. */
function lossGraph(c: LossCase): Model {
  const g = emptyGraph('loss');
  g.inputs.push({ name: 'W', dtype: 'float32', shape: c.shape });
  const model: Model = { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 'test', metadata: {} };
  const e = new Emitter(new GraphBuilder(g), model);
  e.b.op('Identity', ['W'], {}, { outputs: ['logits'] });
  e.setShape('logits', c.shape);
  const l = addLoss(model, e, c.task, 'logits', 'labels');
  const grads = buildGradients(g, l.loss, ['W']);
  for (const [name, v] of [['loss', l.loss], ['count', l.count], ['grad', grads.get('W')!]]) {
    e.b.op('Identity', [v], {}, { outputs: [name] });
    g.outputs.push({ name, dtype: 'float32' });
  }
  return model;
}

const TORCH = `
import torch.nn.functional as F
out = []
for c in inp:
    W = torch.tensor(c['W']).reshape(c['shape']).requires_grad_(True)
    if c['task'] == 'regression':
        loss = F.mse_loss(W.reshape(-1), torch.tensor(c['labels'], dtype=torch.float64))
    else:
        y = torch.tensor(c['labels'], dtype=torch.long)
        if c['task'] == 'sequence-classification':
            loss = F.cross_entropy(W, y)
        elif c['task'] == 'token-classification':
            loss = F.cross_entropy(W.reshape(-1, W.shape[-1]), y, ignore_index=-100)
        else:
            y = y.reshape(c['shape'][0], c['shape'][1])
            loss = F.cross_entropy(W[:, :-1].reshape(-1, W.shape[-1]), y[:, 1:].reshape(-1), ignore_index=-100)
    loss.backward()
    out.append({'loss': loss.item(), 'grad': W.grad.reshape(-1).tolist()})
`;

describe('train/losses', () => {
  it('cross-entropy (sequence, token, causal-LM shift, ignore -100) and MSE: loss and gradient equal torch', async () => {
    const r = mulberry32(3);
    const inputs = CASES.map((c) => ({ ...c, W: Array.from({ length: c.shape.reduce((a, b) => a * b, 1) }, () => r() * 4 - 2) }));
    const want = runTorch<Array<{ loss: number; grad: number[] }>>(TORCH, inputs);
    for (const [k, c] of inputs.entries()) {
      const s = await ort.InferenceSession.create(modelToBytes(lossGraph(c)), { intraOpNumThreads: 1 });
      const labels = c.task === 'regression'
        ? new ort.Tensor('float32', Float32Array.from(c.labels), [c.labels.length])
        : new ort.Tensor('int64', BigInt64Array.from(c.labels.map(BigInt)), c.shape.slice(0, -1));
      const out = await s.run({ W: new ort.Tensor('float32', Float32Array.from(c.W), c.shape), labels });
      const loss = (out.loss.data as Float32Array)[0];
      assert.ok(Math.abs(loss - want[k].loss) <= 1e-5 * Math.abs(want[k].loss), `${c.task} ${c.shape}: loss ${loss} vs torch ${want[k].loss}`);
      const grad = out.grad.data as Float32Array;
      grad.forEach((v, i) => assert.ok(Math.abs(v - want[k].grad[i]) <= 1e-6, `${c.task}: grad[${i}] ${v} vs ${want[k].grad[i]}`));
      const valid = c.task === 'regression' ? c.labels.length
        // causal-lm: every label but the first of each row (nothing predicts it) and the -100s.
        : c.task === 'causal-lm' ? c.labels.filter((v, i) => i % c.shape[1] !== 0 && v !== -100).length
        : c.labels.filter((v) => v !== -100).length;
      assert.equal((out.count.data as Float32Array)[0], valid, `${c.task}: count of scored labels`);
      await s.release();
    }
  });

  it('an all-ignored batch gives loss 0 and zero gradient, not NaN', async () => {
    const c: LossCase = { task: 'token-classification', shape: [1, 3, 2], labels: [-100, -100, -100] };
    const s = await ort.InferenceSession.create(modelToBytes(lossGraph(c)));
    const out = await s.run({ W: new ort.Tensor('float32', Float32Array.of(1, 2, 3, 4, 5, 6), c.shape), labels: new ort.Tensor('int64', BigInt64Array.of(-100n, -100n, -100n), [1, 3]) });
    assert.equal(Math.abs((out.loss.data as Float32Array)[0]), 0);
    assert.ok((out.grad.data as Float32Array).every((v) => v === 0));
    await s.release();
  });

  it('rejects logits of the wrong rank with the expected shape in the message', () => {
    assert.throws(() => lossGraph({ task: 'causal-lm', shape: [4, 3], labels: [] }), /expected \[batch, seq, classes\]/);
    assert.throws(() => lossGraph({ task: 'regression', shape: [4, 2], labels: [] }), /expected \[batch\] or \[batch, 1\]/);
  });
});
