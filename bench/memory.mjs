#!/usr/bin/env node
// Memory bench: peak RSS, time to the first step and step time of causal-LM decoders (Lily on
// q_proj/v_proj, r 16, stride_A 2, num_B 4; random weights and batch) in our engine (one
// process per configuration: bench/memory/stepWorker.ts) beside transformers + PEFT on torch
// (scripts/memory/peer_step.py, float32 and bfloat16). Configurations run one at a time.
//
//   node bench/memory.mjs [--models small,qwen05b] [--steps 3] [--threads 2] [--no-peer] [--out FILE]
//
// Models are exported once by scripts/memory/hf_decoder.py into $TMPDIR/lily-bench-models/.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fileURLToPath } from 'url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PY = path.join(ROOT, '.venv/bin/python');

const QWEN05B = { vocab_size: 151936, hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, max_position_embeddings: 32768, tie_word_embeddings: true, rope_theta: 1000000.0 };
const MODELS = {
  small: { arch: 'qwen2', batch: 8, seq: 128, config: { vocab_size: 8000, hidden_size: 256, intermediate_size: 1024, num_hidden_layers: 2, num_attention_heads: 8, num_key_value_heads: 2, max_position_embeddings: 1024 } },
  qwen05b: { arch: 'qwen2', batch: 4, seq: 512, config: QWEN05B },
};

function opt(name, dflt) {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? process.argv[k + 1] : dflt;
}

function exportModel(name, m) {
  const dir = path.join(os.tmpdir(), 'lily-bench-models', `memory-${name}-${m.batch}x${m.seq}`);
  if (fs.existsSync(path.join(dir, 'model.onnx'))) return dir;
  console.error(`exporting ${name} ...`);
  const r = spawnSync(PY, [path.join(ROOT, 'scripts/memory/hf_decoder.py'), '--arch', m.arch, '--out', dir, '--batch', String(m.batch), '--seq', String(m.seq), '--config', JSON.stringify(m.config), '--external-data'], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, OMP_NUM_THREADS: '2' } });
  if (r.status !== 0) throw new Error(`export of ${name} failed`);
  return dir;
}

function lastJson(r, what) {
  if (r.status !== 0) return { error: `${what} exited ${r.status}: ${(r.stderr || '').trim().split('\n').slice(-2).join(' ')}` };
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const steps = opt('steps', '3');
const threads = opt('threads', '2');
const rows = [];
for (const name of opt('models', 'small').split(',')) {
  const m = MODELS[name];
  if (!m) throw new Error(`unknown model ${name}; have ${Object.keys(MODELS).join(', ')}`);
  const dir = exportModel(name, m);
  const variants = [
    { label: 'ours fp32, chunked loss', options: { shareFrozenWeights: true } },
    { label: 'ours fp32, plain loss', options: { shareFrozenWeights: true, lossChunks: 'off' } },
  ];
  for (const v of variants) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/memory/stepWorker.ts'), dir, '--batch', String(m.batch), '--seq', String(m.seq), '--steps', steps, '--threads', threads, '--options', JSON.stringify(v.options)], { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 26 });
    rows.push({ model: name, shape: `${m.batch}x${m.seq}`, who: v.label, load: os.loadavg()[0].toFixed(1), ...lastJson(r, v.label) });
    console.error(JSON.stringify(rows[rows.length - 1]));
  }
  if (!process.argv.includes('--no-peer')) {
    for (const dtype of ['float32', 'bfloat16']) {
      const r = spawnSync(PY, [path.join(ROOT, 'scripts/memory/peer_step.py'), '--arch', m.arch, '--config', JSON.stringify(m.config), '--dtype', dtype, '--batch', String(m.batch), '--seq', String(m.seq), '--steps', steps, '--threads', threads], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: threads } });
      rows.push({ model: name, shape: `${m.batch}x${m.seq}`, who: `peer ${dtype}`, load: os.loadavg()[0].toFixed(1), ...lastJson(r, `peer ${dtype}`) });
      console.error(JSON.stringify(rows[rows.length - 1]));
    }
  }
}

console.log('| model | batch | run | peak RSS MB | estimate MB | to first step done s | step s | load avg |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  const first = r.first_step_done_ms ?? (r.first_step_ms !== undefined ? r.first_step_ms + r.first_run_ms : undefined);
  const cell = (v, f = (x) => x) => (v === undefined || v === null ? '-' : f(v));
  console.log(`| ${r.model} | ${r.shape} | ${r.who} | ${r.error ? r.error : cell(r.peak_rss_mb)} | ${cell(r.estimate_mb?.total)} | ${cell(first, (x) => (x / 1000).toFixed(1))} | ${cell(r.step_ms, (x) => (x / 1000).toFixed(1))} | ${r.load} |`);
}
const out = opt('out', path.join(ROOT, 'bench/results/memory.json'));
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), cpus: os.cpus().length, rows }, null, 2));
