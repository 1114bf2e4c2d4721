// Our engine's side of the benchmark, in its own process: loads the exported model, builds the
// training step (forward + gradients + AdamW in one ONNX graph) with StepRunner, times the
// first step from "train" (model load, graph building, session creation, first run), then
// serves timed steps to bench/run.mjs (see protocol.ts). With `shareDir` it writes the initial
// trainable tensors (torch's names and layouts) and the batch there, so PyTorch starts from the
// very same values.
//
//   node --import tsx bench/ours/trainWorker.ts '<WorkerArgs JSON>'
import * as path from 'path';
import { performance } from 'perf_hooks';
import type { AdapterSection } from '../../native-runtime/config/types';
import { mulberry32 } from '../../native-runtime/adapters/init';
import { writeSafetensors, type TensorInput } from '../../native-runtime/io/safetensors';
import { loadModel } from '../../native-runtime/onnx/proto';
import { StepRunner } from '../../native-runtime/train/stepRunner';
import { makeBatch } from './batch';
import { reply, serve } from './protocol';

export interface WorkerArgs {
  /** Folder written by scripts/oracle/export.py (model.onnx, config.json). */
  modelDir: string;
  adapter: AdapterSection;
  batch: number;
  seq: number;
  vocab: number;
  numLabels: number;
  threads: number;
  lr: number;
  weightDecay: number;
  maxGradNorm: number;
  /** Seed of the batch (every worker of one size uses the same). */
  dataSeed: number;
  /** Where to write init.safetensors and batch.safetensors for the torch worker. */
  shareDir?: string;
}

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (!raw) throw new Error('trainWorker: expected one argument, the worker settings as JSON (see WorkerArgs)');
  const a = JSON.parse(raw) as WorkerArgs;
  const batch = makeBatch(a.batch, a.seq, a.vocab, a.numLabels, a.dataSeed);
  const feeds = { input_ids: batch.input_ids, attention_mask: batch.attention_mask, labels: batch.labels };

  const t0 = performance.now();
  const model = loadModel(path.join(a.modelDir, 'model.onnx'));
  const tLoad = performance.now();
  const runner = await StepRunner.create(model, { input_ids: [a.batch, a.seq], attention_mask: [a.batch, a.seq] }, {
    adapter: a.adapter,
    task: 'sequence-classification',
    optimizer: { optimizer: 'adamw', weight_decay: a.weightDecay, max_grad_norm: a.maxGradNorm },
    device: 'cpu',
    threads: a.threads,
    seed: 7,
  });
  const tCreate = performance.now();
  // A non-zero B (Lily's pool, LoRA's B) so that the step does the work of a trained adapter:
  // with the default B = 0 the gradients of A and the routers are exactly zero.
  const params = runner.getParams();
  for (const p of runner.params) {
    if (p.role === 'lily_B' || p.role === 'lora_B') {
      const rand = mulberry32(1234 + p.name.length);
      params.set(p.name, Float32Array.from(params.get(p.name)!, () => (rand() * 2 - 1) * 0.02));
    }
  }
  runner.setParams(params);
  if (a.shareDir) shareWithTorch(runner, params, a, feeds);

  const tBeforeRun = performance.now();
  const first = await runner.step(feeds, a.lr);
  const tFirst = performance.now();
  const counts = new Map<string, number>();
  for (const n of runner.graphs.train.graph.nodes) counts.set(n.opType, (counts.get(n.opType) ?? 0) + 1);
  reply({
    ready: true,
    first_loss: first.loss,
    // "train" to the first step: model load, graph building, session creation (the brief's definition).
    first_step_ms: tCreate - t0,
    // ... and until that first step has run (the first run also sizes ORT's memory).
    first_step_done_ms: tFirst - t0 - (tBeforeRun - tCreate),
    load_ms: tLoad - t0,
    build_and_session_ms: tCreate - tLoad,
    first_run_ms: tFirst - tBeforeRun,
    trainable_params: runner.params.reduce((s, p) => s + p.dims.reduce((x, y) => x * y, 1), 0),
    step_nodes: runner.graphs.train.graph.nodes.length,
    op_counts: Object.fromEntries([...counts].sort((x, y) => y[1] - x[1])),
  });

  await serve(async (n) => {
    const ms: number[] = [];
    let loss = NaN;
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      loss = (await runner.step(feeds, a.lr)).loss;
      ms.push(performance.now() - t);
    }
    return { ms, loss };
  }, () => runner.release());
}

/** init.safetensors (torch names: see scripts/oracle/README.md) and batch.safetensors. */
function shareWithTorch(runner: StepRunner, params: Map<string, Float32Array>, a: WorkerArgs, feeds: Record<string, import('onnxruntime-node').Tensor>): void {
  const inj = runner.graphs.injection;
  const torchName = new Map<string, string>();
  for (const l of inj.layers) {
    if (a.adapter.method === 'lily') {
      torchName.set(l.tensors.A, `${l.target}.lily_A.${l.a_group}`);
      torchName.set(l.tensors.B, `${l.target}.lily_B`);
      torchName.set(l.tensors.router!, l.tensors.router!);
    } else {
      torchName.set(l.tensors.A, l.tensors.A);
      torchName.set(l.tensors.B, l.tensors.B);
    }
  }
  for (const s of inj.saved) {
    if (s.transposed) throw new Error(`trainWorker: modules_to_save tensor ${s.name} is stored transposed; the torch side expects torch layout (use a Gemm head)`);
    torchName.set(s.name, s.peftName);
  }
  const init: Record<string, TensorInput> = {};
  for (const p of runner.params) init[torchName.get(p.name)!] = { dtype: 'F32', shape: p.dims, data: params.get(p.name)! };
  writeSafetensors(path.join(a.shareDir!, 'init.safetensors'), init);
  const data: Record<string, TensorInput> = {};
  for (const [k, t] of Object.entries(feeds)) data[k] = { dtype: 'I64', shape: [...t.dims], data: t.data as BigInt64Array };
  writeSafetensors(path.join(a.shareDir!, 'batch.safetensors'), data);
}

main().catch((e) => {
  process.stderr.write(`trainWorker: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
