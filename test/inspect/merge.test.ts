// The merged export: routing frozen at its calibration mean and ΔW folded into the base weights.
// (1) The merged ONNX model equals the torch base model with W + ΔW applied (ΔW built in torch from
//     the raw tensors and the reported mixtures), through MatMul weights and Gemm(transB) heads,
//     with a trained modules_to_save head. (2) The reported metric difference equals a direct
//     evaluation of the merged file and of the adapted (dynamic) export. (3) LoRA merges exactly.
// (4) A weight read by another node as well is copied, not edited in place.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import type { AdapterSection } from '../../native-runtime/config/types';
import { resolveAdapterConfig } from '../../native-runtime/adapters/defaults';
import { layerTensorNames, type AdapterWeights } from '../../native-runtime/io/adapterWeights';
import { buildInferenceModel } from '../../native-runtime/inspect/adaptedModel';
import { exportAdaptedOnnx, exportMergedOnnx, MERGE_REPORT_FILE } from '../../native-runtime/inspect/exportOnnx';
import { mergeAdapter } from '../../native-runtime/inspect/merge';
import { openReferenceData } from '../../native-runtime/inspect/referenceData';
import { emptyGraph, floatTensor, type Model } from '../../native-runtime/onnx/ir';
import { loadModel, modelToBytes } from '../../native-runtime/onnx/proto';
import { runTorch } from '../helpers/torch';
import { values } from '../io/adapterFixtures';
import { encoderConfig, encoderDir, encoderModel, randomWeights, tempDir } from './fixtures';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

async function runFile(file: string, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  try {
    const out = await s.run(feeds);
    return out.logits.data as Float32Array;
  } finally {
    await s.release();
  }
}

/** Cross-entropy and accuracy of a model file over the reference batches, computed here. */
async function directEval(file: string, batches: Array<Record<string, ort.Tensor>>): Promise<{ loss: number; accuracy: number }> {
  let loss = 0, correct = 0, n = 0;
  for (const b of batches) {
    const z = await runFile(file, { input_ids: b.input_ids, attention_mask: b.attention_mask });
    const labels = Array.from(b.labels.data as BigInt64Array, Number);
    labels.forEach((y, i) => {
      const row = Array.from(z.subarray(i * 3, i * 3 + 3));
      const m = Math.max(...row);
      loss += m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0)) - row[y];
      if (row.indexOf(m) === y) correct++;
      n++;
    });
  }
  return { loss: loss / n, accuracy: correct / n };
}

describe('inspect/merged and adapted ONNX export', () => {
  const dir = tempDir('merge');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const lily: AdapterSection = { method: 'lily', target_modules: ['value', 'dense', 'classifier'], r: 4, num_B: 3, stride_A: 2, scaling: 1.2, modules_to_save: ['classifier'] };

  it('Lily: merged model = torch base model with W + ΔW; reported metric difference = direct evaluation of both files', async () => {
    const model = encoderModel();
    const cfg = encoderConfig(dir, lily);
    const weights = randomWeights(model, lily, 9, 0.8);
    const outMerged = path.join(dir, 'merged');
    const res = await exportMergedOnnx({ config: cfg, model, weights }, outMerged);
    const report = JSON.parse(fs.readFileSync(path.join(outMerged, MERGE_REPORT_FILE), 'utf8')) as { layers: Array<{ module: string; mixture: number[] }> };
    assert.deepEqual(res.files.map((f) => path.basename(f)), ['model.onnx', MERGE_REPORT_FILE]);

    // (1) torch: base model, trained classifier, W += ΔWᵀ (torch Linear layout) per adapted layer.
    const s = weights.settings as ReturnType<typeof resolveAdapterConfig> & { method: 'lily' };
    const layers = weights.targets.flatMap((t) => layerTensorNames('lily', t).map((n) => ({
      module: n.module, d_in: t.d_in, d_out: t.d_out,
      A: Array.from(weights.tensors.get(n.A)!.data), B: Array.from(weights.tensors.get(n.B)!.data),
      p: report.layers.find((l) => l.module === n.module)!.mixture,
    })));
    const saved = weights.saved.map((x) => ({ name: x.peftName, transposed: x.transposed, dims: weights.tensors.get(x.name)!.dims, data: Array.from(weights.tensors.get(x.name)!.data) }));
    const torch = runTorch<{ logits: number[]; ids: number[]; mask: number[]; shape: number[] }>(`
import sys; sys.path.insert(0, inp['oracle'])
from export import load_model_dir
import models
model, manifest = load_model_dir(inp['model_dir'], torch.float64)
state = dict(model.named_parameters())
with torch.no_grad():
    for s in inp['saved']:
        t = torch.tensor(s['data']).reshape(s['dims'])
        state[s['name']].copy_(t.T if s['transposed'] else t)
    for l in inp['layers']:
        A = torch.tensor(l['A']).reshape(l['d_in'], inp['r'])
        pool = torch.tensor(l['B']).reshape(len(l['p']), inp['r'], l['d_out'])
        dW = inp['scaling'] * A @ torch.einsum('e,erd->rd', torch.tensor(l['p'], dtype=torch.float64), pool)
        state[l['module'] + '.weight'] += dW.T
    x = models.sample_inputs('encoder', model)
    logits = model(x['input_ids'], x['attention_mask'])
out = {'logits': logits.reshape(-1).tolist(), 'ids': x['input_ids'].reshape(-1).tolist(), 'mask': x['attention_mask'].reshape(-1).tolist(), 'shape': list(x['input_ids'].shape)}`,
    { oracle: path.resolve(__dirname, '../../scripts/oracle'), model_dir: encoderDir(), r: s.r, scaling: s.scaling, layers, saved });
    const feeds = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(torch.ids, BigInt), torch.shape),
      attention_mask: new ort.Tensor('int64', BigInt64Array.from(torch.mask, BigInt), torch.shape),
    };
    const merged = await runFile(res.files[0], feeds);
    torch.logits.forEach((v, i) => close(merged[i], v, 2e-5, `merged logit ${i}`));
    // The merged graph is the base graph: no adapter node, same node count.
    const mergedModel = loadModel(res.files[0]);
    assert.equal(mergedModel.graph.nodes.length, model.graph.nodes.length);

    // (2) The adapted (dynamic) export and the merged file, evaluated directly on the eval set.
    const adapted = await exportAdaptedOnnx({ config: cfg, model, weights }, path.join(dir, 'adapted'));
    const ref = openReferenceData(cfg, model)!;
    const batches = [...ref.data.evalBatches()].map((b) => b.tensors);
    ref.data.close();
    const dyn = await directEval(adapted.files[0], batches);
    const mer = await directEval(res.files[0], batches);
    close(res.metrics!.dynamic.loss, dyn.loss, 1e-6, 'dynamic loss');
    close(res.metrics!.merged.loss, mer.loss, 1e-6, 'merged loss');
    close(res.metricDelta!.loss, mer.loss - dyn.loss, 1e-6, 'loss difference');
    close(res.metricDelta!.accuracy, mer.accuracy - dyn.accuracy, 1e-12, 'accuracy difference');
    // Freezing data-dependent routing changes the function (the difference is real, not zero).
    assert.notEqual(res.metrics!.dynamic.loss, res.metrics!.merged.loss);
  });

  it('LoRA merges exactly: merged and adapted models agree, metric difference ~0', async () => {
    const adapter: AdapterSection = { method: 'lora', target_modules: ['query', 'value', 'pooler.dense'], r: 3, lora_alpha: 6, modules_to_save: ['classifier'] };
    const model = encoderModel();
    const cfg = encoderConfig(dir, adapter);
    const weights = randomWeights(model, adapter, 4, 0.5);
    const res = await exportMergedOnnx({ config: cfg, model, weights }, path.join(dir, 'lora-merged'));
    close(res.metricDelta!.loss, 0, 2e-6, 'loss difference');
    assert.equal(res.metricDelta!.accuracy, 0);
  });

  it('a weight other nodes also read gets its own merged copy (tied weights stay intact)', async () => {
    // x [2,4] -> /a/MatMul(W) and /b/MatMul(W) -> Add -> logits; only `a` is adapted.
    const g = emptyGraph('shared');
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 4] });
    g.initializers.set('W', floatTensor('W', [4, 4], values(16, 3)));
    g.nodes.push({ name: '/a/MatMul', opType: 'MatMul', domain: '', inputs: ['x', 'W'], outputs: ['ya'], attrs: {} });
    g.nodes.push({ name: '/b/MatMul', opType: 'MatMul', domain: '', inputs: ['x', 'W'], outputs: ['yb'], attrs: {} });
    g.nodes.push({ name: '/sum/Add', opType: 'Add', domain: '', inputs: ['ya', 'yb'], outputs: ['logits'], attrs: {} });
    g.outputs.push({ name: 'logits', dtype: 'float32', shape: [2, 4] });
    const model: Model = { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 'test', metadata: {} };
    const adapter: AdapterSection = { method: 'lora', target_modules: ['a'], r: 2, lora_alpha: 2 };
    const weights: AdapterWeights = randomWeights(model, adapter, 2, 1);
    const merged = mergeAdapter(model, weights, undefined);
    assert.deepEqual(merged.layers.map((l) => [l.module, l.copied]), [['a', true]]);
    assert.deepEqual(merged.model.graph.initializers.get('W')!.data, model.graph.initializers.get('W')!.data);
    const x = new ort.Tensor('float32', values(8, 5), [2, 4]);
    const run = async (m: Model) => {
      const s = await ort.InferenceSession.create(modelToBytes(m));
      return (await s.run({ x })).logits.data as Float32Array;
    };
    const dynamic = await buildInferenceModel(model, weights.settings, new Map([...weights.tensors].map(([k, t]) => [k, t.data])));
    const [a, b] = [await run(merged.model), await run(dynamic)];
    a.forEach((v, i) => close(v, b[i], 1e-6, `output ${i}`));
  });
});
