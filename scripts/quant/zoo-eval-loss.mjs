#!/usr/bin/env node
// Eval-loss change from model.weights_dtype on the HF zoo (test/hf: transformers models with
// random weights, exported to ONNX by torchscript at opset 17) and on the bundled demo: each
// model's base (no adapter) eval loss through `lily eval` with float32, bfloat16, int8 and
// int4 frozen weights. Models are copied to a scratch folder first (the weights cache is
// written beside the model). Prints a Markdown table (README "Frozen weights in smaller types").
//
//   node scripts/quant/zoo-eval-loss.mjs [--zoo DIR] [--demo-run]
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fileURLToPath } from 'url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DTYPES = ['float32', 'bfloat16', 'int8', 'int4'];
const zooArg = process.argv.indexOf('--zoo');
const zooRoot = zooArg > 0 ? process.argv[zooArg + 1] : path.join(ROOT, '.cache/hf-zoo');
const manifestDir = fs.existsSync(path.join(zooRoot, 'manifest.json')) ? zooRoot
  : fs.readdirSync(zooRoot).map((d) => path.join(zooRoot, d)).find((d) => fs.existsSync(path.join(d, 'manifest.json')) && fs.existsSync(path.join(d, 'bert')));
if (!manifestDir) throw new Error(`no HF zoo under ${zooRoot}; build it with the test/hf tests first`);
const manifest = JSON.parse(fs.readFileSync(path.join(manifestDir, 'manifest.json'), 'utf8'));
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'lily-zoo-dtype-'));

function evalLoss(configFile) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/lily.js'), 'eval', configFile, '--json'], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  if (r.status !== 0) return { error: (r.stderr || r.stdout).trim().split('\n').slice(-1)[0] };
  const line = r.stdout.trim().split('\n').map((l) => { try { return JSON.parse(l); } catch { return undefined; } }).filter((j) => j && j.metrics).pop();
  return { loss: line.metrics.loss };
}

const rows = [];
for (const name of manifest.entries) {
  const entry = JSON.parse(fs.readFileSync(path.join(manifestDir, name, 'entry.json'), 'utf8'));
  if (!entry.exports['torchscript-17']?.ok) continue;
  const dir = path.join(scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(manifestDir, name, 'onnx/torchscript-17/model.onnx'), path.join(dir, 'model.onnx'));
  fs.copyFileSync(path.join(manifestDir, name, 'eval.jsonl'), path.join(dir, 'eval.jsonl'));
  const row = { model: name, task: entry.task };
  for (const dtype of DTYPES) {
    const cfg = {
      model: { path: 'model.onnx', task: entry.task, ...(entry.num_labels ? { num_labels: entry.num_labels } : {}), weights_dtype: dtype },
      data: { train: 'eval.jsonl', eval: 'eval.jsonl', max_length: entry.seq, ...(entry.kind === 'image' ? {} : {}) },
      adapter: { method: 'lily', target_modules: entry.targets, r: 4, num_B: 2 },
      training: { batch_size: entry.batch },
    };
    const file = path.join(dir, `${dtype}.lily.json`);
    fs.writeFileSync(file, JSON.stringify(cfg, null, 1));
    row[dtype] = evalLoss(file);
  }
  rows.push(row);
  process.stderr.write(`${JSON.stringify(row)}\n`);
}

const cell = (r, d) => (r[d]?.error ? `error: ${r[d].error}` : r[d]?.loss === undefined ? '-' : r[d].loss.toFixed(5));
const delta = (r, d) => (r[d]?.loss === undefined || r.float32?.loss === undefined ? '-' : `${((r[d].loss - r.float32.loss) / r.float32.loss * 100).toFixed(2)}%`);
console.log('| model | task | float32 | bfloat16 (Δ) | int8 (Δ) | int4 (Δ) |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.model} | ${r.task} | ${cell(r, 'float32')} | ${cell(r, 'bfloat16')} (${delta(r, 'bfloat16')}) | ${cell(r, 'int8')} (${delta(r, 'int8')}) | ${cell(r, 'int4')} (${delta(r, 'int4')}) |`);
fs.rmSync(scratch, { recursive: true, force: true });
