#!/usr/bin/env node
// `npm run bench`: training speed and memory of our engine against PyTorch, side by side.
//
// For each model size of a ladder (a BERT-like encoder classifier from scripts/oracle/models.py,
// exported by torch to ONNX), the SAME model, Lily config, initial tensors and batch are trained
// by our engine (bench/ours/trainWorker.ts: one ONNX graph for forward + backward + AdamW, run
// by onnxruntime-node) and by PyTorch (scripts/oracle/bench_torch.py: autograd +
// torch.optim.AdamW), each in its own process (peak RSS = its VmHWM), on the same thread count.
// LoRA at the same parameter budget runs in a third process, and a fourth measures ORT's
// float32 MatMul rate. Timed steps alternate between the processes round by round, so all see
// the same machine load; warm-up steps are excluded; the reported times are medians.
//
//   node bench/run.mjs [--quick] [--sizes 128x2,768x12] [--threads 2] [--rounds 5] [--out FILE]
//
// Output: a table on stdout and bench/results/latest.json (see README.md, "Benchmarks").
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { trainingFlops } from './lib/flops.mjs';
import { loadAverage, machineInfo } from './lib/machine.mjs';
import { median, relativeSpread } from './lib/stats.mjs';
import { formatTable } from './lib/table.mjs';
import { Worker } from './lib/worker.mjs';
import { projectPython } from '../scripts/projectPython.cjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The project venv's Python (torch 2.13); throws, naming scripts/setup-python.sh, when it is missing. */
const PYTHON = projectPython();
const LADDER = [[128, 2], [256, 4], [512, 6], [768, 12]];
const BATCH = 8;
const SEQ = 128;
const VOCAB = 2048;
const NUM_LABELS = 2;
const TRAIN = { lr: 1e-4, weightDecay: 0.01, maxGradNorm: 1.0 };
/** Timed work per process per round, in ms: small models take several steps per round. */
const ROUND_TARGET_MS = 1000;
const MAX_STEPS_PER_ROUND = 10;

function parseArgs(argv) {
  const o = { quick: false, sizes: LADDER, threads: 2, rounds: 5, out: path.join(ROOT, 'bench', 'results', 'latest.json') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench: ${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--sizes') o.sizes = value().split(',').map(parseSize);
    else if (a === '--threads') o.threads = positiveInt(value(), a);
    else if (a === '--rounds') o.rounds = positiveInt(value(), a);
    else if (a === '--out') o.out = path.resolve(value());
    else throw new Error(`bench: unknown argument "${a}"; expected --quick, --sizes 128x2,256x4, --threads N, --rounds N or --out FILE`);
  }
  if (o.quick) {
    o.sizes = [o.sizes[0]];
    o.rounds = Math.min(o.rounds, 3);
  }
  return o;
}

function parseSize(s) {
  const m = /^(\d+)x(\d+)$/.exec(s.trim());
  if (!m) throw new Error(`bench --sizes: "${s}" is not HIDDENxLAYERS (e.g. 768x12)`);
  const hidden = Number(m[1]);
  if (hidden % 64 !== 0) throw new Error(`bench --sizes: hidden ${hidden} must be a multiple of 64 (heads of width 64)`);
  return [hidden, Number(m[2])];
}

function positiveInt(s, flag) {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error(`bench ${flag}: expected a positive integer, got "${s}"`);
  return n;
}

function modelConfig(hidden, layers) {
  return { hidden, layers, heads: hidden / 64, ff: 4 * hidden, vocab: VOCAB, max_pos: SEQ, num_labels: NUM_LABELS };
}

/** Lily as the paper's scripts use it on attention (r 16-32, A shared by 2 layers, 4 B experts). */
function lilyAdapter(hidden) {
  return { method: 'lily', target_modules: ['query', 'value'], r: hidden >= 512 ? 32 : 16, stride_A: 2, num_B: 4, scaling: 1, routing: 'batch' };
}

function lilyAdapterParams(cfg, a) {
  // LILY.md: ceil(L/stride_A)*r*d_in + num_B*r*d_out + L*r*num_B per target (here d_in = d_out = hidden).
  const perTarget = Math.ceil(cfg.layers / a.stride_A) * a.r * cfg.hidden + a.num_B * a.r * cfg.hidden + cfg.layers * a.r * a.num_B;
  return a.target_modules.length * perTarget;
}

/** Exports the encoder once per configuration (cached in the temp folder: an export of the 768-wide model takes a while). */
function exportedModel(cfg) {
  const key = `encoder-${cfg.hidden}x${cfg.layers}-v${cfg.vocab}-p${cfg.max_pos}-seed0`;
  const dir = path.join(os.tmpdir(), 'lily-bench-models', key);
  if (fs.existsSync(path.join(dir, 'model.onnx')) && fs.existsSync(path.join(dir, 'config.json'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  process.stderr.write(`exporting ${key} with torch ...\n`);
  const res = spawnSync(PYTHON, [path.join(ROOT, 'scripts/oracle/export.py'), '--model', 'encoder', '--out', tmp, '--seed', '0', '--config', JSON.stringify(cfg)], {
    encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '2', PYTHONDONTWRITEBYTECODE: '1' }, timeout: 600_000,
  });
  if (res.status !== 0) throw new Error(`bench: exporting ${key} failed (exit ${res.status}):\n${res.stderr ?? res.error}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return dir;
}

function oursWorker(label, settings) {
  return new Worker(label, process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/ours/trainWorker.ts'), JSON.stringify(settings)], { ...process.env }, ROOT);
}

async function benchSize([hidden, layers], opts, matmul) {
  const cfg = modelConfig(hidden, layers);
  const name = `${hidden}x${layers}`;
  const modelDir = exportedModel(cfg);
  const shareDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lily-bench-share-'));
  const lily = lilyAdapter(hidden);
  const common = { modelDir, batch: BATCH, seq: SEQ, vocab: VOCAB, numLabels: NUM_LABELS, threads: opts.threads, dataSeed: 11, ...TRAIN };
  const lilyParams = lilyAdapterParams(cfg, lily);
  const loraPerRank = lily.target_modules.length * layers * 2 * hidden;
  const loraRank = Math.max(1, Math.round(lilyParams / loraPerRank));
  const lora = { method: 'lora', target_modules: lily.target_modules, r: loraRank, lora_alpha: 2 * loraRank };
  const workers = [];
  const loadBefore = loadAverage();
  try {
    process.stderr.write(`[${name}] starting our engine (Lily) ...\n`);
    const ours = oursWorker(`ours lily ${name}`, { ...common, adapter: { ...lily, modules_to_save: ['classifier'] }, shareDir });
    workers.push(ours);
    const oursReady = await ours.next();
    process.stderr.write(`[${name}] starting PyTorch ...\n`);
    const torch = new Worker(`torch lily ${name}`, PYTHON, [path.join(ROOT, 'scripts/oracle/bench_torch.py'), JSON.stringify({
      model_dir: modelDir, adapter: lily, modules_to_save: ['classifier'], share_dir: shareDir, threads: opts.threads,
      lr: TRAIN.lr, weight_decay: TRAIN.weightDecay, max_grad_norm: TRAIN.maxGradNorm,
    })], { ...process.env, OMP_NUM_THREADS: String(opts.threads), PYTHONDONTWRITEBYTECODE: '1' }, ROOT);
    workers.push(torch);
    const torchReady = await torch.next();
    process.stderr.write(`[${name}] starting our engine (LoRA r=${loraRank}) ...\n`);
    const loraW = oursWorker(`ours lora ${name}`, { ...common, adapter: { ...lora, modules_to_save: ['classifier'] } });
    workers.push(loraW);
    const loraReady = await loraW.next();

    // Same function on both sides: equal trainable counts and equal first losses (same weights, same batch).
    const classifier = hidden * NUM_LABELS + NUM_LABELS;
    if (oursReady.trainable_params !== lilyParams + classifier || torchReady.trainable_params !== oursReady.trainable_params) {
      throw new Error(`bench ${name}: trainable tensors differ: ours ${oursReady.trainable_params}, torch ${torchReady.trainable_params}, LILY.md formula ${lilyParams} + classifier ${classifier}`);
    }
    const lossGap = Math.abs(oursReady.first_loss - torchReady.first_loss) / Math.abs(torchReady.first_loss);
    if (!(lossGap < 1e-3)) throw new Error(`bench ${name}: first-step losses differ (ours ${oursReady.first_loss}, torch ${torchReady.first_loss}): the two sides do not compute the same function`);

    // Warm-up (excluded), then a steps-per-round count that keeps each round near ROUND_TARGET_MS.
    const warm = [await ours.run(2), await torch.run(2), await loraW.run(2)];
    const slowest = Math.max(...warm.map((w) => median(w.ms)));
    const k = Math.max(1, Math.min(MAX_STEPS_PER_ROUND, Math.round(ROUND_TARGET_MS / slowest)));
    const t = { ours: [], torch: [], lora: [], matmul: [], torchMatmul: [] };
    const losses = {};
    for (let round = 0; round < opts.rounds; round++) {
      process.stderr.write(`[${name}] round ${round + 1}/${opts.rounds} (${k} step${k > 1 ? 's' : ''} each) load ${loadAverage()[0]}\n`);
      for (const [key, w] of [['ours', ours], ['torch', torch], ['lora', loraW]]) {
        const r = await w.run(k);
        t[key].push(...r.ms);
        losses[key] = r.loss;
      }
      t.matmul.push(...(await matmul.worker.run(5)).ms);
      torch.send({ cmd: 'matmul', m: matmul.shape[0], k: matmul.shape[1], runs: 5 });
      t.torchMatmul.push(...(await torch.next()).ms);
    }
    const oursRss = await ours.quit();
    const torchRss = await torch.quit();
    const loraRss = await loraW.quit();

    const tokens = BATCH * SEQ;
    const flops = trainingFlops(cfg, { batch: BATCH, seq: SEQ }, lily).total;
    const matmulGflops = matmul.flops / 1e6 / median(t.matmul);
    const oursMs = median(t.ours), torchMs = median(t.torch), loraMs = median(t.lora);
    const frozen = 12 * hidden * hidden * layers + 13 * hidden * layers; // 4 d² + 2·4d² per block, plus biases and LayerNorms
    return {
      size: name, hidden, layers, heads: cfg.heads, ff: cfg.ff, batch: BATCH, seq: SEQ,
      frozen_block_params: frozen,
      trainable_params: oursReady.trainable_params,
      lily: lily,
      lora_rank: loraRank,
      lora_trainable_params: loraReady.trainable_params,
      ours_ms: round2(oursMs),
      torch_ms: round2(torchMs),
      ratio: round3(oursMs / torchMs),
      ours_tokens_per_s: Math.round(tokens / (oursMs / 1000)),
      torch_tokens_per_s: Math.round(tokens / (torchMs / 1000)),
      ours_peak_rss_mb: Math.round(oursRss),
      torch_peak_rss_mb: Math.round(torchRss),
      lora_peak_rss_mb: Math.round(loraRss),
      train_gflop_per_step: round3(flops / 1e9),
      ours_gflops: round2(flops / 1e6 / oursMs),
      torch_gflops: round2(flops / 1e6 / torchMs),
      matmul_gflops: round2(matmulGflops),
      torch_matmul_gflops: round2(matmul.flops / 1e6 / median(t.torchMatmul)),
      flops_fraction: round3(flops / 1e6 / oursMs / matmulGflops),
      torch_flops_fraction: round3(flops / 1e6 / torchMs / matmulGflops),
      lora_ms: round2(loraMs),
      lily_over_lora: round3(oursMs / loraMs),
      first_step_ms: Math.round(oursReady.first_step_ms),
      first_step_done_ms: Math.round(oursReady.first_step_done_ms),
      first_step_breakdown_ms: { load: Math.round(oursReady.load_ms), build_and_session: Math.round(oursReady.build_and_session_ms), first_run: Math.round(oursReady.first_run_ms) },
      torch_first_step_ms: Math.round(torchReady.first_step_ms),
      first_loss: { ours: oursReady.first_loss, torch: torchReady.first_loss },
      last_loss: { ours: losses.ours, torch: losses.torch },
      steps_timed: { ours: t.ours.length, torch: t.torch.length, lora: t.lora.length },
      spread: { ours: round3(relativeSpread(t.ours)), torch: round3(relativeSpread(t.torch)), lora: round3(relativeSpread(t.lora)) },
      step_graph_nodes: oursReady.step_nodes,
      step_graph_ops: oursReady.op_counts,
      load_average: { before: loadBefore, after: loadAverage() },
    };
  } finally {
    for (const w of workers) w.kill();
    fs.rmSync(shareDir, { recursive: true, force: true });
  }
}

const round2 = (x) => Math.round(x * 100) / 100;
const round3 = (x) => Math.round(x * 1000) / 1000;

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const machine = machineInfo(PYTHON, opts.threads);
  const started = new Date();
  const loadStart = loadAverage();
  process.stderr.write(`bench: ${machine.cpu_model}, ${machine.cores} cores, ${opts.threads} threads per side, load ${loadStart.join(' ')}\n`);
  const mmWorker = new Worker('matmul rate', process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/ours/matmulWorker.ts'), JSON.stringify({ threads: opts.threads, m: BATCH * SEQ, k: 768, n: 768 })], { ...process.env }, ROOT);
  const results = [];
  try {
    const mmReady = await mmWorker.next();
    const matmul = { worker: mmWorker, flops: mmReady.flops_per_run, shape: mmReady.shape };
    for (const size of opts.sizes) results.push(await benchSize(size, opts, matmul));
    await mmWorker.quit();
    const report = {
      generated_at: started.toISOString(),
      duration_s: Math.round((Date.now() - started.getTime()) / 1000),
      machine,
      settings: { batch: BATCH, seq: SEQ, vocab: VOCAB, threads: opts.threads, rounds: opts.rounds, quick: opts.quick, ...TRAIN, matmul_shape: matmul.shape },
      load_average: { start: loadStart, end: loadAverage() },
      sizes: results,
    };
    fs.mkdirSync(path.dirname(opts.out), { recursive: true });
    const tmp = `${opts.out}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(report, null, 2) + '\n');
    fs.renameSync(tmp, opts.out);
    process.stdout.write(formatTable(report) + '\n');
    process.stdout.write(`\nwritten: ${path.relative(process.cwd(), opts.out)}\n`);
  } finally {
    mmWorker.kill();
  }
}

main().catch((e) => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exit(1);
});
