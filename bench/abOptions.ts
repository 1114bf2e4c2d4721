// A/B of onnxruntime session options on one training step, under the same machine load: builds
// the step for an exported benchmark model once, opens one session per option set, and
// alternates their runs, so that a busy, shared machine slows every variant alike. Prints
// the median step time of each.
//
//   node --import tsx bench/abOptions.ts MODEL_DIR '[{}, {"extra": {"session.disable_prepacking": "1"}}]' [--runs 6] [--threads 2]
import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as ort from 'onnxruntime-node';
import { loadModel, modelToBytes } from '../native-runtime/onnx/proto';
import { buildTrainingStep, STEP_IO } from '../native-runtime/train/step';
import { makeBatch } from './ours/batch';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  const [dir, variantsJson] = process.argv.slice(2);
  if (!dir || !variantsJson) throw new Error('abOptions: expected MODEL_DIR and a JSON list of ORT session option sets');
  const variants = JSON.parse(variantsJson) as ort.InferenceSession.SessionOptions[];
  const i = process.argv.indexOf('--runs');
  const runs = i >= 0 ? Number(process.argv[i + 1]) : 6;
  const t = process.argv.indexOf('--threads');
  const threads = t >= 0 ? Number(process.argv[t + 1]) : 2;
  // scripts/oracle/export.py writes `config`; hf_models.py (the bench's transformers models) `hf_config`.
  const written = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const hf = written.hf_config as { hidden_size: number; vocab_size: number; num_labels?: number } | undefined;
  const cfg = (hf ? { hidden: hf.hidden_size, vocab: hf.vocab_size, num_labels: hf.num_labels ?? 2 } : written.config) as { hidden: number; vocab: number; num_labels: number };
  const graphs = await buildTrainingStep(loadModel(path.join(dir, 'model.onnx')), {
    adapter: { method: 'lily', target_modules: ['query', 'value'], r: cfg.hidden >= 512 ? 32 : 16, stride_A: 2, num_B: 4, routing: 'batch', modules_to_save: ['classifier'] },
    task: 'sequence-classification', inputShapes: { input_ids: [8, 128], attention_mask: [8, 128] },
    optimizer: { optimizer: 'adamw', weight_decay: 0.01, max_grad_norm: 1 },
  });
  const bytes = modelToBytes(graphs.train);
  const sessions = [];
  for (const v of variants) sessions.push(await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: threads, graphOptimizationLevel: 'all', ...v }));
  const batch = makeBatch(8, 128, cfg.vocab, cfg.num_labels, 11);
  const feeds: Record<string, ort.Tensor> = { ...batch, [STEP_IO.lr]: new ort.Tensor('float32', Float32Array.of(1e-4), []), [STEP_IO.step]: new ort.Tensor('float32', Float32Array.of(1), []) };
  for (const p of graphs.params) {
    feeds[p.name] = new ort.Tensor('float32', Float32Array.from(p.init), p.dims);
    for (const s of graphs.optimizer.states.get(p.name)!.inputs) feeds[s] = new ort.Tensor('float32', new Float32Array(p.init.length), p.dims);
  }
  const times = variants.map(() => [] as number[]);
  for (let r = -1; r < runs; r++) {
    for (let k = 0; k < sessions.length; k++) {
      const t = performance.now();
      await sessions[k].run(feeds);
      if (r >= 0) times[k].push(performance.now() - t); // r = -1: warm-up
    }
  }
  variants.forEach((v, k) => console.log(`${median(times[k]).toFixed(0).padStart(7)} ms  ${JSON.stringify(v)}  (${times[k].map((x) => x.toFixed(0)).join(' ')})`));
}

main().catch((e) => {
  console.error((e as Error).stack ?? e);
  process.exit(1);
});
