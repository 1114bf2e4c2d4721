// One training configuration of a causal-LM decoder in its own process, for memory
// measurements: loads MODEL_DIR/model.onnx (scripts/memory/hf_decoder.py), builds the step with
// StepRunner (Lily on q_proj/v_proj), runs `--steps` steps on a random batch and prints one JSON
// line: peak RSS (VmHWM, whole process), RSS after the model load, time to the first step
// (load + quantization + build + session) and its run, the median step time. Options travel as
// StepRunner's, plus `weightsDtype` (model.weights_dtype): the model is then loaded with its
// large external tensors left on disk (loadModel lazyExternalBytes), its frozen weights
// quantized or read from the cache beside it (quant/cache.ts, as `lily train` does), and the
// float32 values released before the step is built, so the fp32 file never sits in memory whole.
// An output head stored as a copy of the embedding table reads the table (train/tiedHead.ts).
//
//   node --import tsx bench/memory/stepWorker.ts MODEL_DIR [--batch 4] [--seq 256] [--steps 2]
//     [--threads 2] [--options '{"lossChunks": "off", "weightsDtype": "int4"}'] [--estimate-only]
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { performance } from 'perf_hooks';
import { mulberry32 } from '../../native-runtime/adapters/init';
import { loadModel } from '../../native-runtime/onnx/proto';
import { StepRunner, weightsLayout, type RunnerOptions } from '../../native-runtime/train/stepRunner';
import { estimateStepMemory } from '../../native-runtime/train/memoryEstimate';
import { tieOutputHead } from '../../native-runtime/train/tiedHead';

function arg(name: string, dflt: string): string {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? process.argv[k + 1] : dflt;
}

/** VmHWM / VmRSS of this process in MB (whole-process peak, native allocations included). */
export function rssMB(field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: stepWorker.ts MODEL_DIR [--batch B] [--seq S] [--steps N] [--threads T] [--options JSON]');
  const B = Number(arg('batch', '4'));
  const S = Number(arg('seq', '256'));
  const steps = Number(arg('steps', '2'));
  const { weightsDtype = 'float32', ...extra } = JSON.parse(arg('options', '{}')) as Partial<RunnerOptions> & { weightsDtype?: string };
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { vocab_size: number };
  const r = mulberry32(17);
  const ids = BigInt64Array.from({ length: B * S }, () => BigInt(Math.floor(r() * cfg.vocab_size)));
  const batch = {
    input_ids: new ort.Tensor('int64', ids, [B, S]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(B * S).fill(1n), [B, S]),
    labels: new ort.Tensor('int64', BigInt64Array.from(ids), [B, S]),
  };
  const t0 = performance.now();
  const modelFile = path.join(dir, 'model.onnx');
  const model = loadModel(modelFile, weightsDtype === 'float32' ? {} : { lazyExternalBytes: 1 << 20 });
  // As lily train does (trainer.ts loadConfigModel): a head that copies the embedding table reads the table.
  const tied = tieOutputHead(model, { modelPath: modelFile });
  let quant: Record<string, unknown> | null = null;
  if (weightsDtype !== 'float32') {
    const tq = performance.now();
    const [{ loadOrQuantize }, { float32HeadWeight, releaseFloatWeights }] = await Promise.all([
      import('../../native-runtime/quant/cache'), import('../../native-runtime/quant/forConfig'),
    ]).catch((e: Error) => { throw new Error(`weightsDtype ${weightsDtype}: this engine has no model.weights_dtype (${e.message.split('\n')[0]})`); });
    const head = float32HeadWeight(model.graph, undefined);
    const store = loadOrQuantize(modelFile, model, weightsDtype as 'int4', { exclude: head ? [head] : [], log: (m: string) => console.error(m) });
    releaseFloatWeights(model, store);
    (extra as Record<string, unknown>).frozenWeights = store.weights;
    quant = { from_cache: store.fromCache, matrices: store.weights.size, float_mb: Math.round(store.floatBytes / 2 ** 20), stored_mb: Math.round(store.storedBytes / 2 ** 20), ms: Math.round(performance.now() - tq), rss_mb: Math.round(rssMB('VmRSS')), peak_rss_mb: Math.round(rssMB('VmHWM')) };
  }
  if (process.argv.includes('--estimate-only')) {
    // The --dry-run estimate without opening a session (for shapes too large to run here).
    const { buildTrainingStep } = await import('../../native-runtime/train/step');
    const graphs = await buildTrainingStep(model, { adapter: { method: 'lily', target_modules: ['q_proj', 'v_proj'], r: 16, stride_A: 2, num_B: 4 }, task: 'causal-lm', inputShapes: { input_ids: [B, S], attention_mask: [B, S] }, ...extra });
    const est = estimateStepMemory(graphs, { evaluates: false, ...weightsLayout(graphs, extra) });
    console.log(JSON.stringify({ batch: B, seq: S, options: extra, loss_chunks: graphs.lossChunks ?? null, estimate_mb: Object.fromEntries(Object.entries(est).map(([k, v]) => [k, Math.round(v / 2 ** 20)])) }));
    return;
  }
  const loadedRss = rssMB('VmRSS');
  const runner = await StepRunner.create(model, { input_ids: [B, S], attention_mask: [B, S] }, {
    adapter: { method: 'lily', target_modules: ['q_proj', 'v_proj'], r: 16, stride_A: 2, num_B: 4 },
    task: 'causal-lm',
    device: 'cpu',
    threads: Number(arg('threads', '2')),
    ...extra,
  });
  const tCreate = performance.now();
  const sessionRss = rssMB('VmRSS');
  const times: number[] = [];
  let loss = NaN;
  for (let k = 0; k < steps; k++) {
    const s = performance.now();
    loss = (await runner.step(batch, 1e-4)).loss;
    times.push(performance.now() - s);
  }
  const est = estimateStepMemory(runner.graphs, { evaluates: false, ...weightsLayout(runner.graphs, extra) });
  const mb = (b: number) => Math.round(b / 2 ** 20);
  const g = runner.graphs as typeof runner.graphs & { quantized?: { replaced: string[] }; recompute?: unknown };
  if (weightsDtype !== 'float32' && !g.quantized?.replaced?.length) throw new Error(`weightsDtype ${weightsDtype}: the step graph holds no quantized weight (engine without model.weights_dtype?)`);
  if ((extra as { gradientCheckpointing?: boolean }).gradientCheckpointing && !g.recompute) throw new Error('gradientCheckpointing: the step graph recomputes nothing (engine without training.gradient_checkpointing?)');
  const sorted = times.slice(1).sort((a, b) => a - b);
  console.log(JSON.stringify({
    batch: B, seq: S, steps, weights_dtype: weightsDtype, options: { ...extra, frozenWeights: undefined }, loss,
    quantization: quant,
    tied_head: tied ?? null,
    quantized_matrices: g.quantized?.replaced?.length ?? 0,
    // The segment count and recomputed nodes (the report's list of cut tensors is long).
    recompute: g.recompute ? { segments: (g.recompute as { segments?: number }).segments, cloned_nodes: (g.recompute as { clonedNodes?: number }).clonedNodes } : null,
    loss_chunks: runner.graphs.lossChunks ?? null,
    peak_rss_mb: Math.round(rssMB('VmHWM')),
    rss_after_load_mb: Math.round(loadedRss),
    rss_after_session_mb: Math.round(sessionRss),
    first_step_ms: Math.round(tCreate - t0),
    first_run_ms: Math.round(times[0]),
    estimate_mb: Object.fromEntries(Object.entries(est).map(([k, v]) => [k, mb(v)])),
    step_ms: sorted.length ? Math.round(sorted[Math.floor(sorted.length / 2)]) : null,
  }));
  await runner.release();
}

main().catch((e) => { console.error(e instanceof Error ? e.stack : e); process.exit(1); });
