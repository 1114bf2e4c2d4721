// The output head read from the embedding table (train/tiedHead.ts): a transformers Qwen2 with
// tie_word_embeddings exports its head as a second, transposed copy of the table; the copy is
// found by value and dropped, and a training step and an evaluation compute what they computed
// with the copy.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { Model } from '../../native-runtime/onnx/ir';
import { loadModel, saveModel, isLazyTensor } from '../../native-runtime/onnx/proto';
import { StepRunner } from '../../native-runtime/train/stepRunner';
import { findTiedHead, tieOutputHead } from '../../native-runtime/train/tiedHead';
import { frozenWeightsIn } from '../../native-runtime/quant/forConfig';
import { tempDir } from '../helpers/tempDir';
import { exportHfDecoder, qwen2LmBatch } from './hfDecoder';
import { assertStepsAgree, withDequantized } from '../quant/stepsAgree';

const B = 2;
const S = 12;
const TIED = { tie_word_embeddings: true };
const TABLE = 'model.model.embed_tokens.weight';

function tiedExport(): string {
  return path.join(exportHfDecoder('qwen2', [B, S], TIED), 'model.onnx');
}

async function stepAndEval(model: Model, lossChunks: 'auto' | 'off') {
  const { shapes, batch } = qwen2LmBatch(B, S);
  const runner = await StepRunner.create(model, shapes, {
    adapter: { method: 'lily', target_modules: ['q_proj', 'v_proj'], r: 4, num_B: 2 },
    task: 'causal-lm',
    threads: 1,
    exposeGradients: true,
    lossChunks,
  });
  try {
    const ev = await runner.evaluate(batch);
    const res = await runner.step(batch, 1e-3);
    return { evalLoss: ev.loss, loss: res.loss, grads: res.grads!, graphs: runner.graphs };
  } finally {
    await runner.release();
  }
}

describe('tied output head (train/tiedHead.ts)', function () {
  this.timeout(300_000);

  it('finds the transposed copy of the embedding table in a transformers export and makes the head read the table', () => {
    const model = loadModel(tiedExport());
    const before = model.graph.initializers.size;
    const tied = tieOutputHead(model);
    assert.ok(tied, 'the head is recognised as the table');
    assert.equal(tied.table, TABLE);
    assert.equal(tied.layout, 'dv');
    assert.ok(!model.graph.initializers.has(tied.head), 'the copy is gone');
    assert.equal(model.graph.initializers.size, before - 1);
    const tr = model.graph.nodes.find((n) => n.opType === 'Transpose' && n.inputs[0] === TABLE);
    assert.ok(tr, 'the head reads the table through a Transpose');
    const head = model.graph.nodes.find((n) => n.opType === 'MatMul' && n.inputs[1] === tr.outputs[0]);
    assert.ok(head && model.graph.nodes.indexOf(tr) < model.graph.nodes.indexOf(head), 'the Transpose comes before the head');
    assert.equal(tieOutputHead(model), undefined, 'nothing left to tie');
  });

  it('a step (chunked and plain loss) and an evaluation give the loss and adapter gradients of the untouched export, and the step graphs hold one table', async () => {
    for (const lossChunks of ['auto', 'off'] as const) {
      const plain = await stepAndEval(loadModel(tiedExport()), lossChunks);
      const model = loadModel(tiedExport());
      const tied = tieOutputHead(model)!;
      const one = await stepAndEval(model, lossChunks);
      if (lossChunks === 'auto') assert.ok(one.graphs.lossChunks, 'the chunked loss applies to the tied head');
      for (const g of [one.graphs.train.graph, one.graphs.eval.graph]) assert.ok(!g.initializers.has(tied.head) && g.initializers.has(TABLE), 'the step graphs hold the table only');
      assert.ok(plain.graphs.train.graph.initializers.has(tied.head), 'the untouched export holds the copy');
      const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-5 * Math.abs(b), `${lossChunks}: ${what} ${a} vs ${b}`);
      close(one.loss, plain.loss, 'loss');
      close(one.evalLoss, plain.evalLoss, 'eval loss');
      for (const [name, want] of plain.grads) {
        const got = one.grads.get(name)!;
        const scale = Math.max(1e-12, ...Array.from(want, Math.abs));
        want.forEach((v, i) => assert.ok(Math.abs(v - got[i]) <= 1e-5 * scale, `${lossChunks}: ${name}[${i}] ${got[i]} vs ${v}`));
      }
      assert.ok([...plain.grads.values()].some((g) => g.some((v) => v !== 0)), 'some gradient is non-zero');
    }
  });

  it('compares every element: a head equal to the table but for one value, an untied export, a trained head or a config saying untied are left alone', () => {
    const file = tiedExport();
    const model = loadModel(file);
    const head = findTiedHead(model)!.head;
    const w = model.graph.initializers.get(head)!;
    // One element that the sample does not look at (row 1, column 3 of the [d, V] copy).
    const data = (w.data as Float32Array).slice();
    data[w.dims[1] + 3] += 1e-3;
    model.graph.initializers.set(head, { ...w, data });
    assert.equal(tieOutputHead(model), undefined);
    assert.ok(model.graph.initializers.has(head));

    const untied = loadModel(path.join(exportHfDecoder('qwen2', [B, S]), 'model.onnx'));
    assert.equal(tieOutputHead(untied), undefined, 'an untied export (its own random head)');
    assert.equal(tieOutputHead(loadModel(file), { trained: new Set([head]) }), undefined, 'modules_to_save head');
    assert.equal(tieOutputHead(loadModel(file), { trained: new Set([TABLE]) }), undefined, 'modules_to_save embedding');

    const dir = tempDir('lily-tied-');
    const copy = path.join(dir, 'model.onnx');
    saveModel(loadModel(file), copy);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ tie_word_embeddings: false }));
    assert.equal(tieOutputHead(loadModel(copy), { modelPath: copy }), undefined, 'config.json: tie_word_embeddings false');
  });

  it('compares a lazily loaded external-data model (read from its file a block at a time)', () => {
    const dir = tempDir('lily-tied-');
    const file = path.join(dir, 'model.onnx');
    saveModel(loadModel(tiedExport()), file, { externalData: true, thresholdBytes: 1024 });
    const model = loadModel(file, { lazyExternalBytes: 1024 });
    assert.ok(isLazyTensor(model.graph.initializers.get(TABLE)!), 'the table is lazy');
    const tied = tieOutputHead(model, { modelPath: file });
    assert.ok(tied && tied.table === TABLE);
  });

  for (const dtype of ['int4', 'int8', 'bfloat16'] as const) {
    it(`${dtype}: the tied table is quantized too; the loss gathers its rows a vocabulary slice at a time and equals float32 on the dequantized table (loss, gradients, eval)`, async () => {
      const file = tiedExport();
      const model = loadModel(file);
      tieOutputHead(model);
      const store = frozenWeightsIn(dtype, file, model)!;
      assert.ok(store.weights.has(TABLE), 'the head-tied table is quantized');
      const { shapes, batch } = qwen2LmBatch(B, S);
      // SGD (see test/quant/weightsDtype.test.ts); lossChunks 100: 100 table rows per slice here
      // (6 slices of 512, the last padded), one chunk of 24 rows for the float32 reference.
      const opts = { adapter: { method: 'lily' as const, target_modules: ['q_proj', 'v_proj'], r: 4, num_B: 2 }, task: 'causal-lm' as const, threads: 1, exposeGradients: true, optimizer: { optimizer: 'sgd' as const }, lossChunks: 100 };
      const quant = await StepRunner.create(model, shapes, { ...opts, frozenWeights: store.weights });
      assert.deepEqual(quant.graphs.lossChunks, { chunks: 6, rows: B * S, vocabSlice: 100, weight: TABLE });
      assert.ok(quant.graphs.quantized!.replaced.includes(TABLE));
      for (const g of [quant.graphs.train.graph, quant.graphs.eval.graph]) assert.ok(!g.initializers.has(TABLE), 'no float32 table in the step graphs');
      const ref = await StepRunner.create(withDequantized(model, store.weights, quant.graphs.quantized!.replaced), shapes, opts);
      assert.equal(ref.graphs.lossChunks?.vocabSlice, undefined, 'the float32 reference runs the row chunks');
      try {
        for (const b of await assertStepsAgree(quant, ref, batch, 2, 0.5)) {
          assert.ok([...b.grads!.values()].some((g) => g.some((v) => v !== 0)), 'some gradient is non-zero');
        }
        const ea = await quant.evaluate(batch);
        const eb = await ref.evaluate(batch);
        assert.ok(Math.abs(ea.loss - eb.loss) <= 1e-5 * Math.abs(eb.loss), `eval loss ${ea.loss} vs ${eb.loss}`);
        assert.deepEqual(Array.from(ea.tokens!.predictions.data as BigInt64Array), Array.from(eb.tokens!.predictions.data as BigInt64Array), 'arg-max predictions');
        const la = ea.tokens!.labelLogp.data as Float32Array;
        const lb = eb.tokens!.labelLogp.data as Float32Array;
        lb.forEach((v, i) => assert.ok(Math.abs(la[i] - v) <= 1e-5 * Math.max(1, Math.abs(v)), `log p(target) [${i}] ${la[i]} vs ${v}`));
      } finally {
        await quant.release();
        await ref.release();
      }
    });
  }

  it('int4 with the plain loss (lossChunks off): the head dequantizes the tied table for its product and equals float32 on the dequantized table', async () => {
    const file = tiedExport();
    const model = loadModel(file);
    tieOutputHead(model);
    const store = frozenWeightsIn('int4', file, model)!;
    const { shapes, batch } = qwen2LmBatch(B, S);
    const opts = { adapter: { method: 'lily' as const, target_modules: ['q_proj', 'v_proj'], r: 4, num_B: 2 }, task: 'causal-lm' as const, threads: 1, optimizer: { optimizer: 'sgd' as const }, lossChunks: 'off' as const };
    const quant = await StepRunner.create(model, shapes, { ...opts, frozenWeights: store.weights });
    const ref = await StepRunner.create(withDequantized(model, store.weights, quant.graphs.quantized!.replaced), shapes, opts);
    try {
      assert.ok(quant.graphs.quantized!.replaced.includes(TABLE) && !quant.graphs.train.graph.initializers.has(TABLE));
      const a = await quant.step(batch, 0.5);
      const b = await ref.step(batch, 0.5);
      assert.ok(Math.abs(a.loss - b.loss) <= 1e-5 * Math.abs(b.loss), `loss ${a.loss} vs ${b.loss}`);
      const ea = await quant.evaluate(batch);
      const eb = await ref.evaluate(batch);
      assert.ok(Math.abs(ea.loss - eb.loss) <= 1e-5 * Math.abs(eb.loss), `eval loss ${ea.loss} vs ${eb.loss}`);
    } finally {
      await quant.release();
      await ref.release();
    }
  });
});
