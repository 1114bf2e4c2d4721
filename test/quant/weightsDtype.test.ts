// model.weights_dtype: frozen linear weights stored as int8 / int4 / bfloat16 and dequantized in
// the step graph. A real step of a transformers Qwen2 decoder (exported by the venv's torch)
// with quantized weights must give the loss and adapter gradients of the same step run in
// float32 on the dequantized weights: the quantized path changes the weights' values only.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as ort from 'onnxruntime-node';
import { mulberry32 } from '../../native-runtime/adapters/init';
import type { Model } from '../../native-runtime/onnx/ir';
import { loadModel } from '../../native-runtime/onnx/proto';
import { dequantize, INT4_GROUP, quantizeBf16, quantizeInt4, quantizeInt8 } from '../../native-runtime/quant/formats';
import { cacheFileFor, loadOrQuantize, quantizableWeights } from '../../native-runtime/quant/cache';
import { StepRunner } from '../../native-runtime/train/stepRunner';
import { resolveConfig } from '../../native-runtime/config/resolved';
import { checkTorchConfig } from '../../native-runtime/torch/run';
import { frozenWeightsIn } from '../../native-runtime/quant/forConfig';
import { buildTrainingStep } from '../../native-runtime/train/step';
import { estimateStepMemory } from '../../native-runtime/train/memoryEstimate';
import { exportHfDecoder } from '../memory/hfDecoder';
import { assertStepsAgree, withDequantized } from './stepsAgree';

describe('quant/weights_dtype', function () {
  this.timeout(180_000);

  it('formats: int8 per column, int4 per group of 32 and bfloat16 round-trip within half a step; zeros stay zero', () => {
    const r = mulberry32(3);
    const rows = 8;
    const cols = 64;
    const w = Float32Array.from({ length: rows * cols }, (_, i) => (i % 17 === 0 ? 0 : (r() - 0.5) * (1 + (i % cols) / 8)));
    const q8 = quantizeInt8(w, rows, cols);
    const d8 = dequantize(q8);
    w.forEach((v, i) => assert.ok(Math.abs(d8[i] - v) <= q8.scale[i % cols] / 2 + 1e-7, `int8 [${i}]: ${d8[i]} vs ${v}`));
    const q4 = quantizeInt4(w, rows, cols);
    assert.equal(q4.packed.length, (rows * cols) / 2);
    const d4 = dequantize(q4);
    w.forEach((v, i) => assert.ok(Math.abs(d4[i] - v) <= q4.scale[Math.floor(i / INT4_GROUP)] / 2 + 1e-6, `int4 [${i}]: ${d4[i]} vs ${v}`));
    const db = dequantize(quantizeBf16(w, rows, cols));
    w.forEach((v, i) => assert.ok(Math.abs(db[i] - v) <= Math.abs(v) * 2 ** -8, `bf16 [${i}]: ${db[i]} vs ${v}`));
    for (const d of [d8, d4, db]) w.forEach((v, i) => { if (v === 0) assert.equal(d[i], 0); });
  });

  for (const dtype of ['int8', 'int4', 'bfloat16'] as const) {
    it(`${dtype}: a Qwen2 decoder step equals float32 on the dequantized weights (loss, adapter gradients); the float32 weights are gone from both graphs`, async () => {
      const B = 2;
      const S = 8;
      const dir = exportHfDecoder('qwen2', [B, S]);
      const model = loadModel(`${dir}/model.onnx`);
      const store = loadOrQuantize(`${dir}/model.onnx`, model, dtype);
      assert.ok(store.weights.size >= 8, `quantized ${store.weights.size} weights`);
      assert.ok(store.weights.has('model.model.embed_tokens.weight'), 'the (untied) embedding table is quantized too');
      const shapes = { input_ids: [B, S], attention_mask: [B, S] };
      const r = mulberry32(9);
      const ids = BigInt64Array.from({ length: B * S }, () => BigInt(Math.floor(r() * 512)));
      const mask = BigInt64Array.from({ length: B * S }, (_, i) => (i >= B * S - 2 ? 0n : 1n));
      const batch = {
        input_ids: new ort.Tensor('int64', ids, [B, S]),
        attention_mask: new ort.Tensor('int64', mask, [B, S]),
        labels: new ort.Tensor('int64', BigInt64Array.from(ids, (v, i) => (mask[i] ? v : -100n)), [B, S]),
      };
      // SGD: AdamW's first update is ±lr on every entry, so a gradient entry at rounding-noise
      // level could flip its sign and turn 1e-7 differences into lr-sized ones at step 2.
      const opts = { adapter: { method: 'lily' as const, target_modules: ['q_proj', 'v_proj', 'down_proj'], r: 4, num_B: 2 }, task: 'causal-lm' as const, threads: 1, exposeGradients: true, optimizer: { optimizer: 'sgd' as const } };
      const quant = await StepRunner.create(model, shapes, { ...opts, frozenWeights: store.weights });
      const q = quant.graphs.quantized!;
      const ref = await StepRunner.create(withDequantized(model, store.weights, q.replaced), shapes, opts);
      assert.ok(q.replaced.length >= 8, `replaced ${q.replaced.length}`);
      for (const g of [quant.graphs.train.graph, quant.graphs.eval.graph]) for (const name of q.replaced) assert.ok(!g.initializers.has(name), `${name} is still a float32 initializer`);
      // One dequantization per reader: forward product and backward dx = g W^T are separate.
      const dq = quant.graphs.train.graph.nodes.filter((n) => n.name.includes('/dequant_for_') && (n.opType === 'DequantizeLinear' || (dtype === 'bfloat16' && n.opType === 'Cast'))).length;
      assert.ok(dq > q.replaced.length, `${dq} dequantizations for ${q.replaced.length} weights`);
      await assertStepsAgree(quant, ref, batch, 2, 0.5);
      const ea = await quant.evaluate(batch);
      const eb = await ref.evaluate(batch);
      assert.ok(Math.abs(ea.loss - eb.loss) <= 1e-5 * Math.abs(eb.loss), `eval loss ${ea.loss} vs ${eb.loss}`);
      await quant.release();
      await ref.release();
    });
  }

  it('memory estimate: the stored form counts once for int8/int4 (session inputs), once per session plus once for bfloat16', async () => {
    const dir = exportHfDecoder('qwen2', [2, 8]);
    const model = loadModel(`${dir}/model.onnx`);
    const base = { adapter: { method: 'lily' as const, target_modules: ['q_proj', 'v_proj'], r: 4, num_B: 2 }, task: 'causal-lm' as const, inputShapes: { input_ids: [2, 8], attention_mask: [2, 8] } };
    const weights: Record<string, number> = {};
    let floatBytes = 0;
    for (const dtype of ['float32', 'bfloat16', 'int8', 'int4'] as const) {
      const store = dtype === 'float32' ? undefined : frozenWeightsIn(dtype, `${dir}/model.onnx`, model);
      if (store) floatBytes = store.floatBytes;
      const graphs = await buildTrainingStep(model, { ...base, frozenWeights: store?.weights });
      weights[dtype] = estimateStepMemory(graphs, { evaluates: true, sharedWeights: true }).weights;
    }
    // Shared float32 weights count once; int8 and int4 replace floatBytes by their stored size.
    assert.ok(Math.abs(weights.float32 - weights.int8 - (floatBytes - floatBytes / 4)) < floatBytes * 0.02, JSON.stringify(weights));
    assert.ok(weights.int4 < weights.int8 && weights.int8 < weights.float32, JSON.stringify(weights));
    // bfloat16 bits are initializers: the loaded copy plus one per session (train, eval): 3 x half.
    assert.ok(Math.abs(weights.bfloat16 - (weights.float32 - floatBytes + 1.5 * floatBytes)) < floatBytes * 0.02, JSON.stringify(weights));
  });

  it('config: the torch backend refuses weights_dtype other than float32, naming the field', () => {
    const cfg = resolveConfig({ model: { path: 'm', task: 'causal-lm', weights_dtype: 'int4' }, data: { train: 't.jsonl' }, adapter: { method: 'lily', target_modules: ['q'] }, runtime: { backend: 'torch' } }, '/tmp/x.lily.json');
    assert.throws(() => checkTorchConfig(cfg), (e: Error) => /model\.weights_dtype/.test(JSON.stringify(e)) || /weights_dtype/.test(e.message));
    assert.equal(resolveConfig({ model: { path: 'm', task: 'causal-lm' }, data: { train: 't.jsonl' }, adapter: { method: 'lily', target_modules: ['q'] } }, '/tmp/x.lily.json').model.weights_dtype, 'float32');
  });

  it('cache: written beside the model once, reused by the next call, rebuilt when a weight changes', () => {
    const dir = exportHfDecoder('qwen2', [2, 8]);
    const file = `${dir}/model.onnx`;
    const model = loadModel(file);
    fs.rmSync(`${dir}/.lily-cache`, { recursive: true, force: true });
    const first = loadOrQuantize(file, model, 'int4');
    assert.equal(first.fromCache, false);
    assert.ok(first.file && fs.existsSync(first.file));
    assert.equal(first.file, cacheFileFor(file, 'int4', first.hash));
    assert.ok(first.storedBytes < first.floatBytes / 5, `${first.storedBytes} stored bytes for ${first.floatBytes} float32 bytes`);
    const second = loadOrQuantize(file, model, 'int4');
    assert.equal(second.fromCache, true);
    assert.equal(second.hash, first.hash);
    for (const [name, q] of first.weights) assert.deepEqual(dequantize(second.weights.get(name)!), dequantize(q), name);
    // A changed weight: another key, another file; the old file is not read for it.
    const w = quantizableWeights(model.graph)[0];
    const changed: Model = { ...model, graph: { ...model.graph, initializers: new Map(model.graph.initializers) } };
    changed.graph.initializers.set(w.name, { ...w, data: Float32Array.from(w.data as Float32Array, (v) => v * 2) });
    const third = loadOrQuantize(file, changed, 'int4');
    assert.equal(third.fromCache, false);
    assert.notEqual(third.hash, first.hash);
    // A damaged cache file is reported and rebuilt, not trusted.
    fs.writeFileSync(first.file!, 'garbage');
    const logs: string[] = [];
    const fourth = loadOrQuantize(file, model, 'int4', { log: (m) => logs.push(m) });
    assert.equal(fourth.fromCache, false);
    assert.ok(logs.some((l) => l.includes('ignoring the weights cache')), logs.join('\n'));
  });
});
