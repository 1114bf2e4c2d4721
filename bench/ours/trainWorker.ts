// Our engine's side of the benchmark, in its own process: loads the exported model, builds the
// training step (forward + gradients + AdamW in one ONNX graph) with StepRunner, as `lily train`
// does, with the run's data.padding / data.packing, then serves timed steps to bench/run.mjs
// (see protocol.ts). With `writeInit` it writes the initial adapter in PEFT's format for the
// peer (scripts/oracle/bench_peft.py), so both sides start from the same tensors.
//
//   node --import tsx bench/ours/trainWorker.ts '<WorkerArgs JSON>'
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { possibleLengths, type PaddingPolicy } from '../../native-runtime/train/data/padding';
import type { AdapterSection } from '../../native-runtime/config/types';
import { mulberry32 } from '../../native-runtime/adapters/init';
import { writePeftAdapter } from '../../native-runtime/io/peft';
import type { AdapterWeights } from '../../native-runtime/io/adapterWeights';
import { loadModel } from '../../native-runtime/onnx/proto';
import { buildTrainingStep } from '../../native-runtime/train/step';
import { autoPackWeights, StepRunner, type RunnerOptions } from '../../native-runtime/train/stepRunner';
import { BatchStream, type BenchData, type Task } from './batches';
import { peakRssMb, reply, serve } from './protocol';

export interface WorkerArgs {
  /** Folder written by scripts/oracle/hf_models.py (model.onnx, config.json). */
  modelDir: string;
  /** Holds data.json; receives adapter_model.safetensors with `writeInit`. */
  shareDir: string;
  writeInit?: boolean;
  adapter: AdapterSection;
  task: Task;
  batch: number;
  maxLength: number;
  padding: PaddingPolicy['padding'];
  buckets?: number[];
  packing?: boolean;
  /** `grouped`: read data.json's train_grouped (data.group_by_length's batches) instead of train. */
  order?: 'shuffled' | 'grouped';
  /**
   * Compile every bucket's graph before the first step (measured: time and memory per graph;
   * what a `lily train` run pays once per length, on its first batch of it). A graph's first
   * run then costs about what its later runs do (BERT 512x6 at 32/64/96: 399/651/1014 ms first,
   * 353-364/602-625/968-1017 ms after; Llama 512x8 at 4x256: 1101 then 1022 ms).
   */
  prepareBuckets?: boolean;
  shareFrozenWeights?: boolean;
  /** runtime.pack_weights true: the train session keeps every frozen weight prepacked (else "auto"). */
  packWeights?: boolean;
  threads: number;
  lr: number;
  weightDecay: number;
  maxGradNorm: number;
}

const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (!raw) throw new Error('trainWorker: expected one argument, the worker settings as JSON (see WorkerArgs)');
  const a = JSON.parse(raw) as WorkerArgs;
  const shared = JSON.parse(fs.readFileSync(path.join(a.shareDir, 'data.json'), 'utf8')) as BenchData & { train_grouped: BenchData['train'] };
  const data: BenchData = { train: a.order === 'grouped' ? shared.train_grouped : shared.train, eval: shared.eval };
  const policy: PaddingPolicy = { padding: a.padding, buckets: a.buckets, max_length: a.maxLength };

  const cpu0 = process.cpuUsage();
  const cpuMs = (since: NodeJS.CpuUsage) => {
    const c = process.cpuUsage(since);
    return Math.round((c.user + c.system) / 1000);
  };
  const t0 = performance.now();
  const model = loadModel(path.join(a.modelDir, 'model.onnx'));
  const tLoad = performance.now();
  const stream = new BatchStream(data, a.batch, a.maxLength, model.graph.inputs, a.task, policy, !!a.packing);
  const first = stream.next();
  const shapeOf = (T: number) => Object.fromEntries(model.graph.inputs.map((i) => [i.name, [a.batch, T]]));
  const firstShapes = Object.fromEntries(model.graph.inputs.map((i) => [i.name, [...first.tensors[i.name].dims]]));
  const runnerOptions: RunnerOptions = {
    adapter: a.adapter,
    task: a.task,
    optimizer: { optimizer: 'adamw', weight_decay: a.weightDecay, max_grad_norm: a.maxGradNorm },
    device: 'cpu',
    threads: a.threads,
    seed: 7,
    shareFrozenWeights: a.shareFrozenWeights,
    // runtime.pack_weights: true for the pack_weights variant, else "auto" as lily train settles it (below).
    prepackTrain: a.packWeights ? true : false,
    packHead: !!a.packing,
    // As `lily train` does (trainer.ts): no per-session arena when several lengths each have a graph.
    memoryArena: a.padding === 'max_length',
  };
  // Built, then handed to the runner (as lily train does for its memory estimate), to time both.
  const firstGraphs = await buildTrainingStep(model, { ...runnerOptions, inputShapes: firstShapes });
  if (!a.packWeights) runnerOptions.prepackTrain = autoPackWeights(firstGraphs, { cpu: true, oneTrainShape: !!a.packing, machineBytes: os.totalmem() });
  const tBuilt = performance.now();
  const runner = await StepRunner.create(model, firstShapes, runnerOptions, firstGraphs);
  const tCreate = performance.now();
  const cpuToFirst = cpuMs(cpu0);
  const rssFirstGraph = rssMb();
  // Every further bucket's graph, compiled now: time and resident memory each one adds.
  const graphs: Array<{ length: number; ms: number; rss_added_mb: number }> = [];
  if (a.prepareBuckets && !a.packing) {
    const firstLen = first.tensors.input_ids.dims[1];
    // `longest`: the lengths this run's batches have (one graph each).
    for (const T of possibleLengths(policy) ?? stream.lengthsOfOnePass()) {
      if (T === firstLen) continue;
      const before = rssMb(), t = performance.now();
      await runner.prepare(shapeOf(T));
      graphs.push({ length: T, ms: Math.round(performance.now() - t), rss_added_mb: Math.round(rssMb() - before) });
    }
  }
  // A non-zero B (Lily's pool, LoRA's B) so that the step does the work of a trained adapter:
  // with PEFT's B = 0 the gradients of A and the routers are exactly zero.
  const params = runner.getParams();
  for (const p of runner.params) {
    if (p.role === 'lily_B' || p.role === 'lora_B') {
      const rand = mulberry32(1234 + p.name.length);
      params.set(p.name, Float32Array.from(params.get(p.name)!, () => (rand() * 2 - 1) * 0.02));
    }
  }
  runner.setParams(params);
  if (a.writeInit) writePeftAdapter(a.shareDir, adapterWeights(runner, params));

  const tBeforeRun = performance.now();
  const cpuRun = process.cpuUsage();
  const firstStep = await runner.step(first.tensors, a.lr);
  const tFirst = performance.now();
  const cpuFirstRun = cpuMs(cpuRun);
  reply({
    ready: true,
    first_loss: firstStep.loss,
    // "train" to the first step: model load, graph building, session creation (prepared buckets excluded).
    first_step_ms: tCreate - t0,
    first_step_done_ms: tFirst - t0 - (tBeforeRun - tCreate),
    load_ms: tLoad - t0,
    build_ms: tBuilt - tLoad,
    session_ms: tCreate - tBuilt,
    first_run_ms: tFirst - tBeforeRun,
    first_step_cpu_ms: cpuToFirst,
    first_run_cpu_ms: cpuFirstRun,
    rss_after_first_graph_mb: Math.round(rssFirstGraph),
    extra_graphs: graphs,
    first_real_tokens: first.tokens,
    first_shape: first.tensors.input_ids.dims,
    trainable_params: runner.params.reduce((s, p) => s + p.dims.reduce((x, y) => x * y, 1), 0),
    step_nodes: runner.graphs.train.graph.nodes.length,
    pack_weights: runnerOptions.prepackTrain,
  });

  await serve(async (n) => {
    const ms: number[] = [], cpu: number[] = [];
    let loss = NaN, real = 0, padded = 0, documents = 0;
    for (let i = 0; i < n; i++) {
      const b = stream.next();
      const t = performance.now(), c = process.cpuUsage();
      loss = (await runner.step(b.tensors, a.lr)).loss;
      ms.push(performance.now() - t);
      cpu.push(cpuMs(c));
      real += b.tokens;
      padded += b.tensors.input_ids.dims[0] * b.tensors.input_ids.dims[1];
      // Records trained on: a packed classifier's labelled document slots, else one per row
      // (causal-LM packing counts rows: its documents are not labelled one by one).
      const labels = b.tensors.labels;
      documents += a.task === 'sequence-classification' && labels.dims.length === 2 ? [...(labels.data as BigInt64Array)].filter((v) => v >= 0n).length : labels.dims[0];
    }
    return { ms, cpu_ms: cpu, loss, real_tokens: real, padded_tokens: padded, documents };
  }, () => runner.release(), async () => {
    // Read before the eval session exists: the training peak (the whole run's comes with quit).
    const trainPeak = peakRssMb();
    let total = 0;
    for (const group of data.eval) total += (await runner.evaluate(stream.evalBatch(group).tensors)).loss;
    return { loss: total / data.eval.length, peak_rss_before_eval_mb: trainPeak };
  });
}

function adapterWeights(runner: StepRunner, params: Map<string, Float32Array>): AdapterWeights {
  const g = runner.graphs;
  return {
    settings: g.adapter as AdapterWeights['settings'],
    targets: g.injection.targets,
    saved: g.injection.saved,
    tensors: new Map(runner.params.map((p) => [p.name, { dims: p.dims, data: params.get(p.name)! }])),
  };
}

main().catch((e) => {
  process.stderr.write(`trainWorker: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
