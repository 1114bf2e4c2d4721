#!/usr/bin/env node
// Memory bench: peak RSS, time to the first step and step time of causal-LM decoders (Lily on
// q_proj/v_proj, r 16, stride_A 2, num_B 4; random weights and batch) in our engine (one
// process per configuration: bench/memory/stepWorker.ts), for each model.weights_dtype, beside
// transformers + PEFT on torch (scripts/memory/peer_step.py, float32 and bfloat16) where the
// peer fits. Configurations run one at a time; each process is watched and stopped when its RSS
// passes --limit-mb (default: the memory available at start less 1 GB), so a configuration that
// does not fit is reported as such instead of waking the kernel's OOM killer on a shared machine.
//
//   node bench/memory.mjs [--models small,qwen05b,llama7b] [--dtypes float32,bfloat16,int8,int4]
//     [--steps N] [--threads 2] [--no-peer | --only-peer] [--runs 'ours int4, checkpointing|ours float32']
//     [--limit-mb MB] [--keep-models] [--out FILE]
//   node bench/memory.mjs --merge A.json B.json ... [--out FILE]   (rows of several runs, one table)
//
// Models: small (Qwen2-style, 2 layers), qwen05b (Qwen2.5-0.5B-shaped, batch 4 x 512), llama7b
// (Llama-2-7B-shaped, batch 1 x 512, int4 only, one step). small and qwen05b are exported by
// scripts/memory/hf_decoder.py, llama7b (27 GB in float32: more than this machine's memory) is
// written tensor by tensor by scripts/memory/stream_decoder.py; all into
// $TMPDIR/lily-bench-models/. llama7b's files are deleted after its row unless --keep-models.
// Writes a table to stdout, bench/results/memory.json, and the issue #17 goals met or missed.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAverage, machineInfo } from './lib/machine.mjs';
import { projectPython } from '../scripts/projectPython.cjs';
import { MODELS, WEIGHTS_DTYPES, goals, peerFits, formatMemoryTable } from './memory/rows.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PY = projectPython();
const MB = 2 ** 20;

function parseArgs(argv) {
  const o = { models: ['small'], dtypes: [...WEIGHTS_DTYPES], steps: undefined, threads: 2, peer: true, ours: true, limitMb: undefined, keepModels: false, out: path.join(ROOT, 'bench/results/memory.json') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench:memory: ${a} needs a value`);
      return v;
    };
    if (a === '--models') o.models = value().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--dtypes') o.dtypes = value().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--steps') o.steps = positiveInt(value(), a);
    else if (a === '--threads') o.threads = positiveInt(value(), a);
    else if (a === '--no-peer') o.peer = false;
    else if (a === '--only-peer') o.ours = false;
    else if (a === '--runs') o.runs = value().split('|').map((x) => x.trim());
    else if (a === '--limit-mb') o.limitMb = positiveInt(value(), a);
    else if (a === '--keep-models') o.keepModels = true;
    else if (a === '--out') o.out = path.resolve(value());
    else throw new Error(`bench:memory: unknown argument "${a}"; expected --models ${Object.keys(MODELS).join(',')}, --dtypes ${WEIGHTS_DTYPES.join(',')}, --steps N, --threads N, --no-peer, --only-peer, --runs LABELS, --limit-mb MB, --keep-models or --out FILE`);
  }
  for (const m of o.models) if (!MODELS[m]) throw new Error(`bench:memory --models: unknown model "${m}"; models are ${Object.keys(MODELS).join(', ')}`);
  for (const d of o.dtypes) if (!WEIGHTS_DTYPES.includes(d)) throw new Error(`bench:memory --dtypes: unknown weights dtype "${d}"; dtypes are ${WEIGHTS_DTYPES.join(', ')}`);
  return o;
}

function positiveInt(s, flag) {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error(`bench:memory ${flag}: expected a positive integer, got "${s}"`);
  return n;
}

/** MemAvailable in MB (what a new process can take without pushing others out). */
function availableMb() {
  const m = /MemAvailable:\s+(\d+) kB/.exec(fs.readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) / 1024 : os.freemem() / MB;
}

function rssMbOf(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs a command to its end, polling its RSS every 200 ms and killing it above `limitMb`.
 * Resolves { status, stdout, stderr, killedAtMb, maxRssMb, wallMs }.
 */
function watched(cmd, args, { env, cwd, limitMb }) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '', killedAtMb, maxRssMb = 0;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-20000); });
    const timer = setInterval(() => {
      const rss = rssMbOf(child.pid);
      maxRssMb = Math.max(maxRssMb, rss);
      if (rss > limitMb && killedAtMb === undefined) {
        killedAtMb = rss;
        child.kill('SIGKILL');
      }
    }, 200);
    child.on('close', (status, signal) => {
      clearInterval(timer);
      resolve({ status, signal, stdout, stderr, killedAtMb, maxRssMb, wallMs: Date.now() - t0 });
    });
  });
}

function lastJson(r, what, limitMb) {
  if (r.killedAtMb !== undefined) return { error: `stopped at ${Math.round(r.killedAtMb)} MB RSS (over the ${Math.round(limitMb)} MB limit: does not fit here)`, killed_at_mb: Math.round(r.killedAtMb) };
  if (r.status !== 0) return { error: `${what} exited ${r.status ?? r.signal}: ${(r.stderr || '').trim().split('\n').slice(-3).join(' ').slice(0, 600)}` };
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function freeDiskMb(dir) {
  const s = fs.statfsSync(dir);
  return (s.bavail * s.bsize) / MB;
}

/** Exports (or generates) the model once per shape into the temp folder; returns its folder. */
async function modelDir(name, m) {
  const dir = path.join(os.tmpdir(), 'lily-bench-models', `memory-${name}-${m.batch}x${m.seq}`);
  if (fs.existsSync(path.join(dir, 'config.json'))) return dir;
  const root = path.dirname(dir);
  fs.mkdirSync(root, { recursive: true });
  if (m.diskMb && freeDiskMb(root) < m.diskMb) throw new Error(`needs ${Math.round(m.diskMb / 1024)} GB of free disk in ${root} for the model, has ${Math.round(freeDiskMb(root) / 1024)} GB`);
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const script = m.streamed ? 'scripts/memory/stream_decoder.py' : 'scripts/memory/hf_decoder.py';
  process.stderr.write(`[${name}] writing the model with ${script} ...\n`);
  const t0 = Date.now();
  const r = await watched(PY, [path.join(ROOT, script), '--arch', m.arch, '--out', tmp, '--batch', String(m.batch), '--seq', String(m.seq), '--config', JSON.stringify(m.config), ...(m.streamed ? [] : ['--external-data'])], {
    env: { ...process.env, OMP_NUM_THREADS: '2', PYTHONDONTWRITEBYTECODE: '1' }, cwd: ROOT, limitMb: Infinity,
  });
  if (r.status !== 0) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(`writing ${name} failed (exit ${r.status}): ${r.stderr.slice(-1500)}`);
  }
  fs.renameSync(tmp, dir);
  process.stderr.write(`[${name}] model written in ${Math.round((Date.now() - t0) / 1000)} s (peak RSS ${Math.round(r.maxRssMb)} MB)\n`);
  return dir;
}

async function oursRow(name, m, dir, variant, opts, limitMb) {
  const args = [path.join(ROOT, 'bench/memory/stepWorker.ts'), dir, '--batch', String(m.batch), '--seq', String(m.seq), '--steps', String(opts.steps ?? m.steps), '--threads', String(opts.threads), '--options', JSON.stringify(variant.options)];
  const load = loadAverage()[0];
  const r = await watched(process.execPath, ['--import', 'tsx', ...args], { env: process.env, cwd: ROOT, limitMb });
  return { model: name, shape: `${m.batch}x${m.seq}`, who: 'ours', label: variant.label, weights_dtype: variant.dtype, load_before: load, load_after: loadAverage()[0], wall_ms: r.wallMs, ...lastJson(r, variant.label, limitMb) };
}

async function peerRow(name, m, dtype, opts, limitMb) {
  const base = { model: name, shape: `${m.batch}x${m.seq}`, who: 'peer', label: `transformers + PEFT ${dtype}`, weights_dtype: dtype };
  const fit = peerFits(m, dtype, limitMb);
  if (!fit.fits) return { ...base, skipped: fit.why };
  const load = loadAverage()[0];
  const r = await watched(PY, [path.join(ROOT, 'scripts/memory/peer_step.py'), '--arch', m.arch, '--config', JSON.stringify(m.config), '--dtype', dtype, '--batch', String(m.batch), '--seq', String(m.seq), '--steps', String(opts.steps ?? m.steps), '--threads', String(opts.threads)], {
    env: { ...process.env, OMP_NUM_THREADS: String(opts.threads), PYTHONDONTWRITEBYTECODE: '1' }, cwd: ROOT, limitMb,
  });
  return { ...base, load_before: load, load_after: loadAverage()[0], wall_ms: r.wallMs, ...lastJson(r, base.label, limitMb) };
}

/** Several reports (runs made in pieces) as one: rows in order, models and goals recomputed. */
function merge(files, out) {
  const reports = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
  const rows = reports.flatMap((r) => r.rows);
  const models = Object.assign({}, ...reports.map((r) => r.models));
  const first = reports[0];
  const merged = { ...first, merged_from: files.map((f) => path.basename(f)), generated_at: reports.map((r) => r.generated_at).sort()[0], duration_s: reports.reduce((s, r) => s + r.duration_s, 0), load_average: { start: first.load_average.start, end: reports[reports.length - 1].load_average.end }, models, rows, goals: goals(rows, models) };
  fs.writeFileSync(out, JSON.stringify(merged, null, 2) + '\n');
  process.stdout.write(formatMemoryTable(merged) + '\n');
}

async function main() {
  const k = process.argv.indexOf('--merge');
  if (k > 0) {
    const rest = process.argv.slice(k + 1);
    const o = rest.indexOf('--out');
    const files = o >= 0 ? rest.slice(0, o) : rest;
    return merge(files, o >= 0 ? path.resolve(rest[o + 1]) : path.join(ROOT, 'bench/results/memory.json'));
  }
  const opts = parseArgs(process.argv.slice(2));
  const started = new Date();
  const machine = machineInfo(PY, opts.threads);
  const loadStart = loadAverage();
  const rows = [];
  const selected = Object.fromEntries(opts.models.map((n) => [n, MODELS[n]]));
  const report = () => ({ generated_at: started.toISOString(), duration_s: Math.round((Date.now() - started.getTime()) / 1000), machine, load_average: { start: loadStart, end: loadAverage() }, settings: { threads: opts.threads, steps: opts.steps ?? 'per model', models: opts.models, dtypes: opts.dtypes }, models: selected, rows, goals: goals(rows, selected) });
  const save = () => {
    fs.mkdirSync(path.dirname(opts.out), { recursive: true });
    fs.writeFileSync(`${opts.out}.tmp`, JSON.stringify(report(), null, 2) + '\n');
    fs.renameSync(`${opts.out}.tmp`, opts.out);
  };
  process.stderr.write(`bench:memory: ${machine.cpu_model}, ${machine.cores} cores, ${machine.memory_gb} GB, load ${loadStart.join(' ')}\n`);
  for (const name of opts.models) {
    const m = MODELS[name];
    let dir;
    try {
      dir = await modelDir(name, m);
    } catch (e) {
      rows.push({ model: name, shape: `${m.batch}x${m.seq}`, who: 'ours', label: 'model', error: e.message });
      save();
      continue;
    }
    // The first row of each quantized dtype measures quantizing; later ones read its cache.
    fs.rmSync(path.join(dir, '.lily-cache'), { recursive: true, force: true });
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    m.parameters = cfg.parameters;
    try {
      for (const v of opts.ours ? m.variants(opts.dtypes).filter((x) => !opts.runs || opts.runs.includes(x.label)) : []) {
        const limitMb = opts.limitMb ?? availableMb() - 1024;
        process.stderr.write(`[${name}] ours: ${v.label} (limit ${Math.round(limitMb)} MB, load ${loadAverage()[0]}) ...\n`);
        rows.push(await oursRow(name, m, dir, v, opts, limitMb));
        process.stderr.write(`${JSON.stringify(rows[rows.length - 1])}\n`);
        save();
      }
      if (opts.peer) {
        for (const dtype of ['float32', 'bfloat16']) {
          const limitMb = opts.limitMb ?? availableMb() - 1024;
          process.stderr.write(`[${name}] peer: ${dtype} (limit ${Math.round(limitMb)} MB, load ${loadAverage()[0]}) ...\n`);
          rows.push(await peerRow(name, m, dtype, opts, limitMb));
          process.stderr.write(`${JSON.stringify(rows[rows.length - 1])}\n`);
          save();
        }
      }
    } finally {
      if (m.streamed && !opts.keepModels) {
        fs.rmSync(dir, { recursive: true, force: true });
        process.stderr.write(`[${name}] deleted ${dir} (--keep-models keeps it)\n`);
      }
    }
  }
  save();
  process.stdout.write(formatMemoryTable(report()) + '\n');
  process.stdout.write(`\nwritten: ${path.relative(process.cwd(), opts.out)}\n`);
}

main().catch((e) => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exit(1);
});
