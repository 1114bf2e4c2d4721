// Where the training step's time goes: builds the step for an exported benchmark model (a folder
// from scripts/oracle/export.py, e.g. the cache of bench/run.mjs under $TMPDIR/lily-bench-models),
// times each stage up to the first step, counts the step graph's nodes by op type, then runs a
// few steps under ORT's profiler and sums kernel time by op type.
//
//   node --import tsx bench/profile.ts MODEL_DIR [--steps 3] [--threads 2] [--lora R] [--opt all|extended|basic|disabled] [--block N|off] [--step '{"sumsAsAdds": false}']
import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as ort from 'onnxruntime-node';
import type { AdapterSection } from '../native-runtime/config/types';
import { loadModel, modelToBytes } from '../native-runtime/onnx/proto';
import { createSession } from '../native-runtime/onnx/session';
import { buildTrainingStep, STEP_IO, type StepOptions } from '../native-runtime/train/step';
import { makeBatch } from './ours/batch';
import { liveMemory } from '../native-runtime/train/liveMemory';

/** Resident and peak resident memory now, in MB (Linux /proc). */
function mem(): string {
  const st = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(st)?.[1] ?? NaN) / 1024;
  return `rss ${kb('VmRSS').toFixed(0)} MB, peak ${kb('VmHWM').toFixed(0)} MB, JS array buffers ${(process.memoryUsage().arrayBuffers / 2 ** 20).toFixed(0)} MB`;
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir || dir.startsWith('--')) throw new Error('profile: expected MODEL_DIR (a folder written by scripts/oracle/export.py) as the first argument');
  const steps = Number(arg('--steps', '3'));
  const threads = Number(arg('--threads', '2'));
  const optimization = arg('--opt', 'all') as 'all';
  const loraRank = process.argv.includes('--lora') ? Number(arg('--lora', '8')) : 0;
  // Two folder kinds: scripts/oracle/export.py writes `config`, scripts/oracle/hf_models.py (the bench's
  // transformers models) writes `hf_config`.
  const written = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const hf = written.hf_config as { hidden_size: number; vocab_size: number; num_labels?: number } | undefined;
  // A decoder (hf_models.py's llama) trains as a causal LM on q_proj/v_proj, as the bench does.
  const causal = written.kind === 'llama';
  const cfg = (hf ? { hidden: hf.hidden_size, vocab: hf.vocab_size, num_labels: hf.num_labels ?? 2 } : written.config) as { hidden: number; vocab: number; num_labels: number };
  const targets = causal ? ['q_proj', 'v_proj'] : ['query', 'value'];
  const saved = causal ? {} : { modules_to_save: ['classifier'] };
  const adapter: AdapterSection = loraRank
    ? { method: 'lora', target_modules: targets, r: loraRank, ...saved }
    : { method: 'lily', target_modules: targets, r: cfg.hidden >= 512 ? 32 : 16, stride_A: 2, num_B: 4, routing: 'batch', ...saved };
  const B = Number(arg('--batch', '8')), S = Number(arg('--length', '128'));

  const t0 = performance.now();
  const model = loadModel(path.join(dir, 'model.onnx'));
  const t1 = performance.now();
  console.log(`load ${(t1 - t0).toFixed(0)} ms; ${mem()}`);
  const inputShapes = Object.fromEntries(model.graph.inputs.map((i) => [i.name, [B, S]]));
  const block = arg('--block', 'default');
  const attentionBlock = block === 'default' ? undefined : block === 'off' ? 'off' as const : Number(block);
  // --step '{"sumsAsAdds": false}': further StepOptions (the switches bench/abStep.ts compares).
  const stepOptions = JSON.parse(arg('--step', '{}')) as Partial<StepOptions>;
  const graphs = await buildTrainingStep(model, { adapter, task: causal ? 'causal-lm' : 'sequence-classification', inputShapes, optimizer: { optimizer: 'adamw', weight_decay: 0.01, max_grad_norm: 1 }, attentionBlock, ...stepOptions });
  if (graphs.blockAttention) console.log(`block attention: ${JSON.stringify(graphs.blockAttention)}`);
  const t2 = performance.now();
  console.log(`build ${(t2 - t1).toFixed(0)} ms; ${mem()}`);
  const bytes = modelToBytes(graphs.train);
  const t3 = performance.now();
  console.log(`serialize ${(t3 - t2).toFixed(0)} ms; ${mem()}`);
  // --ort '{"enableCpuMemArena": false}': extra ORT session options, to try them before wiring them in.
  const extra = JSON.parse(arg('--ort', '{}')) as ort.InferenceSession.SessionOptions;
  const session = Object.keys(extra).length === 0
    ? (await createSession(bytes, { device: 'cpu', threads, optimization, profile: true })).session
    : await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: threads, graphOptimizationLevel: optimization, enableProfiling: true, profileFilePrefix: 'onnxruntime_profile', ...extra });
  const t4 = performance.now();
  console.log(`session ${(t4 - t3).toFixed(0)} ms; ${mem()}`);
  const g = graphs.train.graph;
  const counts = new Map<string, number>();
  for (const n of g.nodes) counts.set(n.opType, (counts.get(n.opType) ?? 0) + 1);
  let initBytes = 0;
  for (const t of g.initializers.values()) initBytes += (t.data as Float32Array).byteLength ?? 0;
  console.log(`stages: load ${(t1 - t0).toFixed(0)} ms, build step ${(t2 - t1).toFixed(0)} ms, serialize ${(t3 - t2).toFixed(0)} ms (${(bytes.byteLength / 2 ** 20).toFixed(1)} MB), session ${(t4 - t3).toFixed(0)} ms`);
  console.log(`step graph: ${g.nodes.length} nodes, ${g.initializers.size} initializers (${(initBytes / 2 ** 20).toFixed(1)} MB), ${g.inputs.length} inputs, ${g.outputs.length} outputs`);
  console.log('nodes by op: ' + [...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', '));
  const live = liveMemory(g);
  console.log(`live activations (graph order): peak ${(live.peakBytes / 2 ** 20).toFixed(0)} MB at node ${live.peakAtNode} of ${g.nodes.length}; by producer: ` +
    live.byProducer.slice(0, 12).map((p) => `${p.op} ${(p.bytes / 2 ** 20).toFixed(0)} MB (${p.count})`).join(', '));
  if (process.argv.includes('--live')) for (const v of live.values.slice(0, Number(arg("--live", "40")) || 40)) console.log(`  ${(v.bytes / 2 ** 20).toFixed(1).padStart(6)} MB ${v.op.padEnd(10)} ${v.name}`);

  const batch = makeBatch(B, S, cfg.vocab, cfg.num_labels, 11);
  const feeds: Record<string, ort.Tensor> = { input_ids: batch.input_ids, attention_mask: batch.attention_mask, labels: batch.labels, [STEP_IO.lr]: new ort.Tensor('float32', Float32Array.of(1e-4), []) };
  if (causal) {
    // Next-token labels are the ids themselves (the graph shifts them); positions 0..S-1 per row.
    feeds.labels = batch.input_ids;
    if (model.graph.inputs.some((i) => i.name === 'position_ids')) {
      feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from({ length: B * S }, (_, k) => BigInt(k % S)), [B, S]);
    }
  }
  for (const p of graphs.params) {
    feeds[p.name] = new ort.Tensor('float32', Float32Array.from(p.init), p.dims);
    graphs.optimizer.states.get(p.name)!.inputs.forEach((s) => (feeds[s] = new ort.Tensor('float32', new Float32Array(p.init.length), p.dims)));
  }
  const times: number[] = [];
  for (let k = 1; k <= steps + 1; k++) {
    feeds[STEP_IO.step] = new ort.Tensor('float32', Float32Array.of(k), []);
    const t = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t);
  }
  console.log(`run ms: ${times.map((x) => x.toFixed(0)).join(', ')} (first includes warm-up); ${mem()}`);
  const file = (session as unknown as { endProfiling(): string }).endProfiling?.() as unknown as string | undefined;
  const prof = findProfile(file);
  if (!prof) return;
  const events = JSON.parse(fs.readFileSync(prof, 'utf8')) as Array<{ cat: string; name: string; dur: number; args?: { op_name?: string; input_type_shape?: object[]; output_type_shape?: object[] } }>;
  fs.rmSync(prof);
  const byOp = new Map<string, number>();
  // The same op on the same shapes, summed: which kernels cost most, and on what.
  const bySignature = new Map<string, { us: number; count: number }>();
  let total = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
    total += e.dur;
    const shapes = (e.args?.input_type_shape ?? []).map((x) => JSON.stringify(Object.values(x)[0])).join(' ');
    const key = `${op} ${shapes} -> ${(e.args?.output_type_shape ?? []).map((x) => JSON.stringify(Object.values(x)[0])).join(' ')}`;
    const s = bySignature.get(key) ?? { us: 0, count: 0 };
    s.us += e.dur;
    s.count++;
    bySignature.set(key, s);
  }
  const runs = steps + 1;
  console.log(`kernel time per step ${(total / runs / 1000).toFixed(0)} ms; by op (ms/step):`);
  for (const [op, us] of [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${op.padEnd(28)} ${(us / runs / 1000).toFixed(1).padStart(8)}  ${((100 * us) / total).toFixed(1)}%`);
  const top = Number(arg('--top', '0'));
  if (top > 0) {
    console.log(`top ${top} kernels by op and shapes (ms/step, nodes per step):`);
    for (const [k, v] of [...bySignature].sort((a, b) => b[1].us - a[1].us).slice(0, top)) {
      console.log(`  ${(v.us / runs / 1000).toFixed(1).padStart(8)}  x${(v.count / runs).toFixed(0).padEnd(4)} ${k}`);
    }
  }
  await session.release();
}

/** ORT writes the profile into the working directory as onnxruntime_profile_*.json. */
function findProfile(name: string | undefined): string | undefined {
  if (name && fs.existsSync(name)) return name;
  const files = fs.readdirSync('.').filter((f) => f.startsWith('onnxruntime_profile_') && f.endsWith('.json'));
  return files.sort().pop();
}

main().catch((e) => {
  console.error((e as Error).stack ?? e);
  process.exit(1);
});
