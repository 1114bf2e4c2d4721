// Where the time to the first step and the peak memory of one bench configuration go, in one
// process: model load, step-graph build, session creation (per ORT option set), first run,
// further runs, with resident memory (VmRSS) and its peak (VmHWM) after each stage, and the
// static live-set estimate of the step graph beside them.
//
//   node --import tsx bench/ours/probe.ts MODEL_DIR '<options JSON>'
//   options (all optional): task ("causal-lm"), batch (4), seq (512), vocab (32000), adapter,
//   threads (2), runner ({...RunnerOptions}, e.g. {"memoryArena": false}), buckets ([lengths]
//   whose graphs are prepared), runBuckets ([lengths] run once each), steps (2) at `seq`, evals (0)
//   MODEL_DIR: a causal-LM folder of bench/run.mjs's cache ($TMPDIR/lily-bench-models/hf-llama-*).
import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as ort from 'onnxruntime-node';
import { mulberry32 } from '../../native-runtime/adapters/init';
import { loadModel } from '../../native-runtime/onnx/proto';
import { StepRunner, weightsLayout, type RunnerOptions } from '../../native-runtime/train/stepRunner';
import { buildTrainingStep } from '../../native-runtime/train/step';
import { estimateStepMemory } from '../../native-runtime/train/memoryEstimate';

const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN) / 1024;
let cpu = process.cpuUsage();
const stage = (what: string, t: number) => {
  const c = process.cpuUsage(cpu);
  cpu = process.cpuUsage();
  console.log(JSON.stringify({ stage: what, ms: Math.round(performance.now() - t), cpu_ms: Math.round((c.user + c.system) / 1000), sys_ms: Math.round(c.system / 1000), rss_mb: Math.round(kb('VmRSS')), peak_mb: Math.round(kb('VmHWM')) }));
};

async function main(): Promise<void> {
  const dir = process.argv[2];
  const o = JSON.parse(process.argv[3] ?? '{}');
  const B = o.batch ?? 4, S = o.seq ?? 512, task = o.task ?? 'causal-lm';
  const adapter = o.adapter ?? { method: 'lily', target_modules: ['q_proj', 'v_proj'], r: 32, stride_A: 2, num_B: 4, scaling: 1, routing: 'batch' };
  const vocab = o.vocab ?? 32000;
  const r = mulberry32(17);
  const mk = (T: number) => {
    const ids = BigInt64Array.from({ length: B * T }, () => BigInt(5 + Math.floor(r() * (vocab - 5))));
    return {
      input_ids: new ort.Tensor('int64', ids, [B, T]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(B * T).fill(1n), [B, T]),
      ...(task === 'causal-lm' ? { position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: B * T }, (_, i) => BigInt(i % T)), [B, T]) } : {}),
      labels: task === 'causal-lm' ? new ort.Tensor('int64', BigInt64Array.from(ids), [B, T]) : new ort.Tensor('int64', new BigInt64Array(B), [B]),
    };
  };
  const shapes = (T: number) => Object.fromEntries(['input_ids', 'attention_mask', ...(task === 'causal-lm' ? ['position_ids'] : [])].map((n) => [n, [B, T]]));
  let t = performance.now();
  const model = loadModel(path.join(dir, 'model.onnx'));
  stage('load', t);
  t = performance.now();
  const opts: RunnerOptions = { adapter, task, device: 'cpu', threads: o.threads ?? 2, optimizer: { optimizer: 'adamw', weight_decay: 0.01, max_grad_norm: 1 }, seed: 7, shareFrozenWeights: true, ...(o.runner ?? {}) };
  const graphs = await buildTrainingStep(model, { ...opts, inputShapes: shapes(S) });
  stage('build', t);
  t = performance.now();
  const runner = await StepRunner.create(model, shapes(S), opts, graphs);
  stage('session', t);
  const est = estimateStepMemory(runner.graphs, { evaluates: false, ...weightsLayout(runner.graphs, opts) });
  console.log(JSON.stringify({ estimate_mb: Object.fromEntries(Object.entries(est).map(([k, v]) => [k, Math.round(v / 2 ** 20)])), nodes: runner.graphs.train.graph.nodes.length }));
  for (const T of o.buckets ?? []) {
    t = performance.now();
    await runner.prepare(shapes(T));
    stage(`prepare ${T}`, t);
  }
  for (const T of o.runBuckets ?? []) {
    t = performance.now();
    await runner.step(mk(T), 1e-4);
    stage(`run ${T}`, t);
  }
  const batch = mk(S);
  for (let k = 0; k < (o.steps ?? 2); k++) {
    t = performance.now();
    const res = await runner.step(batch, 1e-4);
    stage(`step ${k + 1} loss ${res.loss.toFixed(5)}`, t);
  }
  for (let k = 0; k < (o.evals ?? 0); k++) {
    t = performance.now();
    const res = await runner.evaluate(batch);
    stage(`eval ${k + 1} loss ${res.loss.toFixed(5)}`, t);
  }
}

main().catch((e) => { console.error(e instanceof Error ? e.stack : e); process.exit(1); });
