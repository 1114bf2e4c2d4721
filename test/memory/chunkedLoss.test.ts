// The chunked LM head + cross-entropy (train/chunkedLoss.ts): loss and hidden-state gradient
// equal torch's F.cross_entropy (torch 2.13 in the project venv) and, inside a real training
// step of a transformers Qwen2 decoder, the adapter gradients equal the plain loss's.
import { strict as assert } from 'assert';
import * as ort from 'onnxruntime-node';
import { Emitter } from '../../native-runtime/adapters/emit';
import { mulberry32 } from '../../native-runtime/adapters/init';
import { buildGradients } from '../../native-runtime/autodiff';
import { GraphBuilder, emptyGraph, type Model } from '../../native-runtime/onnx/ir';
import { loadModel, modelToBytes } from '../../native-runtime/onnx/proto';
import { addChunkedLoss, CHUNK_LOGITS, defaultChunkRows, findLmHead } from '../../native-runtime/train/chunkedLoss';
import { StepRunner } from '../../native-runtime/train/stepRunner';
import { EvalAccumulator } from '../../native-runtime/train/metrics';
import { exportHfDecoder, qwen2LmBatch, runVenvTorch } from './hfDecoder';

interface HeadCase {
  layout: 'dv' | 'vd'; bias: boolean; B: number; S: number; d: number; V: number; rows: number; task: 'causal-lm' | 'token-classification'; vocab?: boolean;
  /** Model opset (default 17); ScatterElements (which forms p - onehot) has no reduction attribute below 16. */
  opset?: number;
  /** Hidden states drawn from [-scale, scale] (default 2): large logits make p_y round to 1 or underflow to 0. */
  scale?: number;
  /** Positions [0, ignoreFirst) carry -100 (a whole chunk without a label). */
  ignoreFirst?: number;
}

const CASES: HeadCase[] = [
  { layout: 'dv', bias: false, B: 2, S: 5, d: 4, V: 7, rows: 3, task: 'causal-lm' }, // 10 rows in 4 chunks (padded)
  { layout: 'vd', bias: false, B: 2, S: 5, d: 4, V: 7, rows: 3, task: 'causal-lm', opset: 15 },
  { layout: 'vd', bias: true, B: 3, S: 4, d: 5, V: 6, rows: 4, task: 'token-classification' },
  { layout: 'dv', bias: true, B: 1, S: 6, d: 3, V: 9, rows: 100, task: 'causal-lm' }, // one chunk
  // Logits up to ~200: p_y is 1 or underflows in float32 (the loss reads log p_y from LogSoftmax,
  // the gradient p - onehot from its Exp); the first chunk has no label (weight 0 after the product).
  { layout: 'dv', bias: false, B: 2, S: 6, d: 4, V: 11, rows: 4, task: 'causal-lm', scale: 60, ignoreFirst: 4 },
  { layout: 'vd', bias: true, B: 2, S: 5, d: 4, V: 8, rows: 3, task: 'token-classification', scale: 60, ignoreFirst: 3 },
  // Vocabulary slices (vocabSlicedLoss.ts), `rows` = table rows per slice.
  { layout: 'vd', bias: false, B: 2, S: 5, d: 4, V: 7, rows: 3, task: 'causal-lm', vocab: true }, // 3 slices, the last padded
  { layout: 'vd', bias: true, B: 3, S: 4, d: 5, V: 6, rows: 2, task: 'token-classification', vocab: true }, // 3 slices
  { layout: 'vd', bias: true, B: 1, S: 6, d: 3, V: 9, rows: 100, task: 'causal-lm', vocab: true }, // one slice
  // Large logits across slices: the running max jumps by ~100 between slices (the sums rescaled
  // by exp(m - m') underflow to 0), p_y rounds to 1 or underflows; rows 0-3 unlabelled.
  { layout: 'vd', bias: false, B: 2, S: 6, d: 4, V: 11, rows: 3, task: 'causal-lm', vocab: true, scale: 60, ignoreFirst: 4 },
  { layout: 'vd', bias: true, B: 2, S: 5, d: 4, V: 8, rows: 2, task: 'token-classification', vocab: true, scale: 60 },
];

/** H (a graph input we differentiate) -> logits = H W (+ b) -> chunked loss; outputs loss, count, dH (eval: loss, predictions, labelLogp). */
function headGraph(c: HeadCase, W: Float32Array, bias: Float32Array, mode: 'train' | 'eval' = 'train'): Model {
  const g = emptyGraph('head');
  const model: Model = { graph: g, opsetImports: [{ domain: '', version: c.opset ?? 17 }], irVersion: 8, producerName: 'test', metadata: {} };
  const e = new Emitter(new GraphBuilder(g), model);
  g.inputs.push({ name: 'H', dtype: 'float32', shape: [c.B, c.S, c.d] });
  e.setShape('H', [c.B, c.S, c.d]);
  g.initializers.set('W', { name: 'W', dtype: 'float32', dims: c.layout === 'dv' ? [c.d, c.V] : [c.V, c.d], data: W });
  let wIn = 'W';
  if (c.layout === 'vd') wIn = e.op('Transpose', ['W'], { perm: { kind: 'ints', value: [1, 0] } }, [c.d, c.V], 't');
  const mm = c.bias ? 'head_mm' : 'logits';
  e.b.op('MatMul', ['H', wIn], {}, { outputs: [mm] });
  e.setShape(mm, [c.B, c.S, c.V]);
  if (c.bias) {
    g.initializers.set('bias', { name: 'bias', dtype: 'float32', dims: [c.V], data: bias });
    e.b.op('Add', [mm, 'bias'], {}, { outputs: ['logits'] });
    e.setShape('logits', [c.B, c.S, c.V]);
  }
  g.outputs.push({ name: 'logits', dtype: 'float32', shape: [c.B, c.S, c.V] });
  const head = findLmHead(model, 'logits');
  assert.ok(head, 'the head is found');
  assert.equal(head.layout, c.layout);
  const loss = addChunkedLoss(model, e, head, c.task, 'labels', c.rows, mode, c.vocab ? 'vocab' : 'rows');
  if (c.vocab) assert.equal(loss.vocabSlice, Math.min(c.rows, c.V));
  g.outputs = g.outputs.filter((o) => o.name !== 'logits');
  if (mode === 'eval') {
    for (const [name, v, dtype] of [['loss', loss.loss, 'float32'], ['predictions', loss.tokens!.predictions, 'int64'], ['labelLogp', loss.tokens!.labelLogp, 'float32']] as const) {
      e.b.op('Identity', [v], {}, { outputs: [name] });
      g.outputs.push({ name, dtype });
    }
    return model;
  }
  const grads = buildGradients(g, loss.loss, ['H'], { seeds: loss.seeds });
  for (const [name, v] of [['loss', loss.loss], ['count', loss.count], ['grad', grads.get('H')!]]) {
    e.b.op('Identity', [v], {}, { outputs: [name] });
    g.outputs.push({ name, dtype: 'float32' });
  }
  return model;
}

const TORCH = `
import torch.nn.functional as F
out = []
for c in inp:
    H = torch.tensor(c['H']).reshape(c['B'], c['S'], c['d']).requires_grad_(True)
    W = torch.tensor(c['W']).reshape(c['d'], c['V']) if c['layout'] == 'dv' else torch.tensor(c['W']).reshape(c['V'], c['d']).T
    z = H @ W + (torch.tensor(c['b']) if c['bias'] else 0)
    y = torch.tensor(c['labels'], dtype=torch.long).reshape(c['B'], c['S'])
    if c['task'] == 'causal-lm':
        z, y = z[:, :-1], y[:, 1:]
    loss = F.cross_entropy(z.reshape(-1, c['V']), y.reshape(-1), ignore_index=-100)
    loss.backward()
    out.append({'loss': loss.item(), 'grad': H.grad.reshape(-1).tolist()})
`;

describe('memory/chunked LM loss', function () {
  this.timeout(120_000);

  it('loss and dL/dhidden equal torch F.cross_entropy (both weight layouts, bias, padded last chunk, -100 ignored, a chunk without labels, logits up to ~200)', async () => {
    const r = mulberry32(11);
    const inputs = CASES.map((c) => {
      const n = c.B * c.S;
      return {
        ...c,
        H: Array.from({ length: n * c.d }, () => (r() * 2 - 1) * (c.scale ?? 2)),
        W: Array.from({ length: c.d * c.V }, () => r() * 2 - 1),
        b: Array.from({ length: c.V }, () => r() - 0.5),
        labels: Array.from({ length: n }, (_, i) => (i % 4 === 2 || i < (c.ignoreFirst ?? 0) ? -100 : Math.floor(r() * c.V))),
      };
    });
    const want = runVenvTorch<Array<{ loss: number; grad: number[] }>>(TORCH, inputs);
    for (const [k, c] of inputs.entries()) {
      const model = headGraph(c, Float32Array.from(c.W), Float32Array.from(c.b));
      assert.ok(model.graph.nodes.some((n) => n.opType === 'Loop'), 'the chunks run in a Loop');
      const s = await ort.InferenceSession.create(modelToBytes(model), { intraOpNumThreads: 1 });
      const out = await s.run({
        H: new ort.Tensor('float32', Float32Array.from(c.H), [c.B, c.S, c.d]),
        labels: new ort.Tensor('int64', BigInt64Array.from(c.labels.map(BigInt)), [c.B, c.S]),
      });
      const loss = (out.loss.data as Float32Array)[0];
      assert.ok(Math.abs(loss - want[k].loss) <= 1e-5 * Math.abs(want[k].loss), `case ${k}: loss ${loss} vs torch ${want[k].loss}`);
      const grad = out.grad.data as Float32Array;
      const scale = Math.max(...want[k].grad.map(Math.abs));
      grad.forEach((v, i) => assert.ok(Math.abs(v - want[k].grad[i]) <= 1e-5 * scale, `case ${k}: dH[${i}] ${v} vs torch ${want[k].grad[i]}`));
      await s.release();
    }
  });

  it('eval predictions: the first index of the largest logit on exact ties (within a chunk or slice and across slices), as ArgMax', async () => {
    // V 11, d 4. Columns 2 and 7 (different slices of 3), and 4 and 5 (one slice), are the same
    // vector: row 0 of H selects 2/7 (logit 10, all others below 1.5), row 1 selects 4/5, row 2
    // is zero (every logit 0 without bias: index 0).
    const d = 4;
    const V = 11;
    const r = mulberry32(5);
    const cols = Array.from({ length: V }, () => Array.from({ length: d }, () => (r() * 2 - 1) * 0.3));
    cols[2] = cols[7] = [10, 0, 0, 0];
    cols[4] = cols[5] = [0, 10, 0, 0];
    const H = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    const want = [2, 4, 0];
    for (const c of [
      { layout: 'dv', bias: false, B: 1, S: 3, d, V, rows: 2, task: 'token-classification' },
      { layout: 'vd', bias: false, B: 1, S: 3, d, V, rows: 3, task: 'token-classification', vocab: true },
    ] as HeadCase[]) {
      const W = c.layout === 'dv' ? Float32Array.from({ length: d * V }, (_, i) => cols[i % V][Math.floor(i / V)]) : Float32Array.from(cols.flat());
      const s = await ort.InferenceSession.create(modelToBytes(headGraph(c, W, new Float32Array(V), 'eval')), { intraOpNumThreads: 1 });
      const out = await s.run({
        H: new ort.Tensor('float32', Float32Array.from(H), [1, 3, d]),
        labels: new ort.Tensor('int64', BigInt64Array.from([7n, 5n, 3n]), [1, 3]),
      });
      assert.deepEqual(Array.from(out.predictions.data as BigInt64Array, Number), want, `${c.vocab ? 'vocabulary slices' : 'row chunks'}: predictions`);
      await s.release();
    }
  });

  it('default chunks: rows split evenly (at most chunks - 1 padding rows), no chunk above CHUNK_LOGITS logits', () => {
    assert.equal(defaultChunkRows(4 * 512, 32000), 512, '4 x 512 tokens, V 32000: 4 chunks of 512');
    for (const vocab of [7, 1000, 32000, 151936, 2 ** 25]) {
      for (const rows of [1, 5, 512, 1023, 2048, 4096, 8191]) {
        const c = defaultChunkRows(rows, vocab);
        const chunks = Math.ceil(rows / c);
        const fewest = Math.ceil(rows / Math.max(1, Math.min(rows, Math.floor(CHUNK_LOGITS / vocab))));
        assert.equal(chunks, fewest, `rows ${rows}, V ${vocab}: ${chunks} chunks of ${c}, fewest possible ${fewest}`);
        assert.ok(chunks * c - rows < chunks, `rows ${rows}, V ${vocab}: ${chunks * c - rows} padding rows in ${chunks} chunks of ${c}`);
        assert.ok(c === 1 || c * vocab <= CHUNK_LOGITS, `rows ${rows}, V ${vocab}: ${c} rows exceed CHUNK_LOGITS`);
      }
    }
  });

  it('a Qwen2 decoder step: adapter gradients of the chunked loss equal the plain loss to 1e-5, and so do the eval metrics; no [tokens, vocab] value in the train or eval graph', async () => {
    const B = 2;
    const S = 12;
    const { dir, shapes, batch } = qwen2LmBatch(B, S);
    const grads: Array<Map<string, Float32Array>> = [];
    const losses: number[] = [];
    const evals: Array<Record<string, number>> = [];
    for (const lossChunks of ['off', 5] as const) {
      const runner = await StepRunner.create(loadModel(`${dir}/model.onnx`), shapes, {
        adapter: { method: 'lily', target_modules: ['q_proj', 'v_proj'], r: 4, num_B: 2 },
        task: 'causal-lm',
        threads: 1,
        exposeGradients: true,
        lossChunks,
      });
      if (lossChunks !== 'off') {
        const { weight, ...chunking } = runner.graphs.lossChunks!;
        assert.deepEqual(chunking, { chunks: 5, rows: 5 });
        assert.ok(runner.graphs.train.graph.initializers.has(weight), `the head weight ${weight} is an initializer`);
        const train = runner.graphs.train.graph;
        for (const n of train.nodes) {
          for (const o of n.outputs) {
            const dims = (train.valueInfo.get(o)?.shape ?? []) as number[];
            assert.ok(!(dims.includes(512) && dims.reduce((a, x) => a * x, 1) >= B * S * 512), `train graph value ${o} [${dims}] holds tokens x vocab`);
          }
        }
        // The eval graph: no logits output, no [tokens, vocab] value outside the Loop body.
        const ev = runner.graphs.eval.graph;
        assert.ok(!ev.outputs.some((o) => o.name === runner.graphs.logits), 'the eval graph outputs no logits');
        for (const n of ev.nodes) {
          for (const o of n.outputs) {
            const dims = (ev.valueInfo.get(o)?.shape ?? []) as number[];
            assert.ok(!(dims.includes(512) && dims.reduce((a, x) => a * x, 1) >= B * S * 512), `eval graph value ${o} [${dims}] holds tokens x vocab`);
          }
        }
      } else assert.equal(runner.graphs.lossChunks, undefined);
      // Eval metrics (loss, perplexity, accuracy) from the chunked eval head equal those from the logits.
      const acc = new EvalAccumulator('causal-lm');
      const ev = await runner.evaluate(batch);
      if (ev.tokens) acc.addTokenScores(ev.tokens.predictions.data as BigInt64Array, ev.tokens.labelLogp.data as Float32Array, ev.tokens.predictions.dims, batch.labels.data as BigInt64Array);
      else acc.add(ev.logits!.data as Float32Array, ev.logits!.dims, batch.labels.data as BigInt64Array);
      assert.equal(!!ev.tokens, lossChunks !== 'off', 'the chunked eval returns per-token scores instead of logits');
      evals.push({ ...acc.result(), graphLoss: ev.loss, count: ev.count });
      const res = await runner.step(batch, 1e-3);
      losses.push(res.loss);
      grads.push(res.grads!);
      await runner.release();
    }
    assert.ok(Math.abs(losses[0] - losses[1]) <= 1e-5 * Math.abs(losses[0]), `loss ${losses[1]} vs plain ${losses[0]}`);
    for (const k of ['loss', 'perplexity', 'accuracy', 'graphLoss', 'count']) {
      assert.ok(Math.abs(evals[0][k] - evals[1][k]) <= 1e-5 * Math.abs(evals[0][k]), `eval ${k}: chunked ${evals[1][k]} vs plain ${evals[0][k]}`);
    }
    assert.ok(Math.abs(evals[0].loss - evals[0].graphLoss) <= 1e-5 * evals[0].loss, 'metrics loss = graph loss');
    for (const [name, plain] of grads[0]) {
      const chunked = grads[1].get(name)!;
      const scale = Math.max(1e-12, ...Array.from(plain, Math.abs));
      let worst = 0;
      plain.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - chunked[i]) / scale); });
      assert.ok(worst <= 1e-5, `${name}: chunked gradient differs by ${worst} (relative to its largest entry)`);
    }
    assert.ok([...grads[0].values()].some((g) => g.some((v) => v !== 0)), 'some gradient is non-zero');
  });
});
