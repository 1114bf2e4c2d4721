// Probe: ORT's execution order (the node order of its saved optimized model) vs the listed order, through liveMemory.
import * as ort from 'onnxruntime-node';
import * as fs from 'fs';
import { loadModel, modelToBytes } from '/work/wt/ckpt/native-runtime/onnx/proto';
import { buildTrainingStep } from '/work/wt/ckpt/native-runtime/train/step';
import { liveMemory } from '/work/wt/ckpt/native-runtime/train/liveMemory';
(async () => {
  const dir = process.argv[2]; const ck = process.argv[3] === 'ck';
  const [B, S] = [4, 512];
  const model = loadModel(`${dir}/model.onnx`);
  const g = await buildTrainingStep(model, { adapter: { method: 'lily', target_modules: ['q_proj', 'v_proj'], r: 16, stride_A: 2, num_B: 4 }, task: 'causal-lm', inputShapes: { input_ids: [B, S], attention_mask: [B, S] }, gradientCheckpointing: ck });
  const mb = (x: number) => Math.round(x / 2 ** 20);
  const lm = liveMemory(g.train.graph);
  console.log('listed order peak MB', mb(lm.peakBytes), lm.byProducer.slice(0, 8).map((p) => `${p.op}:${mb(p.bytes)}/${p.count}`).join(' '));
  const out = `/tmp/ckpt/opt-${ck ? 'ck' : 'no'}.onnx`;
  const s = await ort.InferenceSession.create(modelToBytes(g.train), { intraOpNumThreads: 1, graphOptimizationLevel: 'all', enableMemPattern: false, optimizedModelFilePath: out, extra: { 'session.disable_prepacking': '1', 'session.optimized_model_external_initializers_file_name': `opt-${ck ? 'ck' : 'no'}.data`, 'session.optimized_model_external_initializers_min_size_in_bytes': '4096' } } as any);
  await s.release();
  const opt = loadModel(out);
  // Sizes from our valueInfo where ORT kept the name, else from the saved value_info.
  for (const [k, v] of g.train.graph.valueInfo) if (!opt.graph.valueInfo.has(k)) opt.graph.valueInfo.set(k, v);
  const lo = liveMemory(opt.graph);
  console.log('ORT order peak MB', mb(lo.peakBytes), 'at node', lo.peakAtNode, '/', opt.graph.nodes.length, lo.byProducer.slice(0, 8).map((p) => `${p.op}:${mb(p.bytes)}/${p.count}`).join(' '));
  console.log(lo.values.slice(0, 12).map((v) => `${v.name} ${v.op} ${mb(v.bytes)}`).join('\n'));
})();
