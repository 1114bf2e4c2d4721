// A/B of training-step build options (buildTrainingStep's StepOptions, e.g. attentionBlock) on
// one exported benchmark model, under the same machine load: builds one step graph per option
// set, opens a session for each and alternates their runs, so that a busy, shared machine slows
// every variant alike. Prints each variant's median wall and CPU time per step and its first
// loss (the variants must compute the same function: the losses should agree to ~1e-6).
//
//   node --import tsx bench/abStep.ts MODEL_DIR '[{"attentionBlock": "off"}, {}, {"ort": {"extra": {"session.disable_prepacking": "1"}}}]' [--runs 6] [--threads 2] [--batch 4] [--length 512]
// MODEL_DIR: a folder of the bench's transformers models ($TMPDIR/lily-bench-models/hf-*); a
// llama folder trains as a causal LM on q_proj/v_proj, others as a classifier on query/value.
import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as ort from 'onnxruntime-node';
import { loadModel, modelToBytes } from '../native-runtime/onnx/proto';
import { buildTrainingStep, STEP_IO, type StepOptions } from '../native-runtime/train/step';
import { makeBatch } from './ours/batch';
// @ts-expect-error: plain ESM helpers shared with bench/run.mjs, untyped
import { median } from './lib/stats.mjs';


function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

async function main(): Promise<void> {
  const [dir, variantsJson] = process.argv.slice(2);
  if (!dir || !variantsJson) throw new Error('abStep: expected MODEL_DIR and a JSON list of step option sets, e.g. \'[{"attentionBlock": "off"}, {}]\'');
  // A variant's `ort` key holds onnxruntime session options for it (e.g. {"extra": {"session.disable_prepacking": "1"}}).
  const variants = JSON.parse(variantsJson) as (Partial<StepOptions> & { ort?: ort.InferenceSession.SessionOptions })[];
  const runs = arg('--runs', 6), threads = arg('--threads', 2);
  const written = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const hf = written.hf_config as { hidden_size: number; vocab_size: number; num_labels?: number };
  if (!hf) throw new Error(`abStep: ${dir}/config.json has no hf_config (expected a folder of scripts/oracle/hf_models.py)`);
  const causal = written.kind === 'llama';
  const B = arg('--batch', causal ? 4 : 8), S = arg('--length', causal ? 512 : 128);
  const model = loadModel(path.join(dir, 'model.onnx'));
  const base: StepOptions = {
    adapter: causal
      ? { method: 'lily', target_modules: ['q_proj', 'v_proj'], r: hf.hidden_size >= 512 ? 32 : 16, stride_A: 2, num_B: 4, routing: 'batch' }
      : { method: 'lily', target_modules: ['query', 'value'], r: hf.hidden_size >= 512 ? 32 : 16, stride_A: 2, num_B: 4, routing: 'batch', modules_to_save: ['classifier'] },
    task: causal ? 'causal-lm' : 'sequence-classification',
    inputShapes: Object.fromEntries(model.graph.inputs.map((i) => [i.name, [B, S]])),
    optimizer: { optimizer: 'adamw', weight_decay: 0.01, max_grad_norm: 1 },
  };
  const made = makeBatch(B, S, hf.vocab_size, hf.num_labels ?? 2, 11);
  // A causal LM's labels are the ids themselves (the graph shifts them).
  const batch: Record<string, ort.Tensor> = { input_ids: made.input_ids, attention_mask: made.attention_mask, labels: causal ? made.input_ids : made.labels };
  if (model.graph.inputs.some((i) => i.name === 'position_ids')) batch.position_ids = new ort.Tensor('int64', BigInt64Array.from({ length: B * S }, (_, k) => BigInt(k % S)), [B, S]);
  const sessions: { session: ort.InferenceSession; feeds: Record<string, ort.Tensor>; loss?: number }[] = [];
  for (const { ort: sessionOptions, ...v } of variants) {
    const graphs = await buildTrainingStep(model, { ...base, ...v });
    const session = await ort.InferenceSession.create(modelToBytes(graphs.train), { executionProviders: ['cpu'], intraOpNumThreads: threads, graphOptimizationLevel: 'all', ...sessionOptions });
    const feeds: Record<string, ort.Tensor> = { ...batch, [STEP_IO.lr]: new ort.Tensor('float32', Float32Array.of(1e-4), []), [STEP_IO.step]: new ort.Tensor('float32', Float32Array.of(1), []) };
    for (const p of graphs.params) {
      feeds[p.name] = new ort.Tensor('float32', Float32Array.from(p.init), p.dims);
      for (const s of graphs.optimizer.states.get(p.name)!.inputs) feeds[s] = new ort.Tensor('float32', new Float32Array(p.init.length), p.dims);
    }
    sessions.push({ session, feeds });
  }
  const wall = variants.map(() => [] as number[]);
  const cpu = variants.map(() => [] as number[]);
  for (let r = -1; r < runs; r++) {
    for (let k = 0; k < sessions.length; k++) {
      const t = performance.now();
      const c = process.cpuUsage();
      const out = await sessions[k].session.run(sessions[k].feeds, [STEP_IO.loss]);
      const used = process.cpuUsage(c);
      if (r === -1) sessions[k].loss = Number((out[STEP_IO.loss] as ort.Tensor).data[0]); // warm-up run: the loss at the initial adapter
      else {
        wall[k].push(performance.now() - t);
        cpu[k].push((used.user + used.system) / 1000);
      }
    }
  }
  variants.forEach((v, k) => console.log(`${median(wall[k]).toFixed(0).padStart(7)} ms wall ${median(cpu[k]).toFixed(0).padStart(7)} ms CPU  loss ${sessions[k].loss}  ${JSON.stringify(v)}  (${wall[k].map((x) => x.toFixed(0)).join(' ')})`));
}

main().catch((e) => {
  console.error((e as Error).stack ?? e);
  process.exit(1);
});
