#!/usr/bin/env node
// The frozen-weight matrix products of the clm-1024 training step (bench/gemm/shapes.json), timed
// on onnxruntime-node's CPU kernels (MLAS, what our step runs) and on PyTorch's (MKL, what the
// peer runs), same shapes, same threads: how fast each side's dense products are, apart from
// everything else in a step. Each side runs in its own process, twice, alternating; the best
// time per product is kept. Prints a table; writes bench/results/gemm.json.
//
//   node bench/gemm.mjs [--threads 2] [--repeats 5] [--out bench/results/gemm.json]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadAverage, machineInfo } from './lib/machine.mjs';
import { projectPython } from '../scripts/projectPython.cjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PYTHON = projectPython();

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

const lines = (text) => text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));

function main() {
  const threads = Number(arg('--threads', '2')), repeats = Number(arg('--repeats', '5'));
  const out = path.resolve(arg('--out', path.join(ROOT, 'bench/results/gemm.json')));
  const settings = JSON.stringify({ threads, repeats });
  const { products, about } = JSON.parse(fs.readFileSync(path.join(ROOT, 'bench/gemm/shapes.json'), 'utf8'));
  const loadStart = loadAverage();
  const best = {};
  const keep = (key, ms) => { best[key] = Math.min(best[key] ?? Infinity, ms); };
  for (let pass = 0; pass < 2; pass++) {
    const ours = execFileSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/gemm/ortSide.ts'), settings], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 });
    for (const r of lines(ours)) keep(`ours ${r.mode} ${r.name}`, r.ms);
    const peer = execFileSync(PYTHON, [path.join(ROOT, 'bench/gemm/torch_side.py'), settings], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
    for (const r of lines(peer)) keep(`peer ${r.name}`, r.ms);
  }
  const rows = products.map((p) => {
    const gflop = (2 * p.m * p.k * p.n) / 1e9;
    const shared = best[`ours shared ${p.name}`], packed = best[`ours packed ${p.name}`], torch = best[`peer ${p.name}`];
    const rate = (ms) => Math.round(gflop / (ms / 1000));
    return {
      product: p.name, m: p.m, k: p.k, n: p.n, count: p.count,
      ours_shared_ms: shared, ours_packed_ms: packed, pytorch_ms: torch,
      gflops: { ours_shared: rate(shared), ours_packed: rate(packed), pytorch: rate(torch) },
    };
  });
  const perStep = (key) => rows.reduce((s, r) => s + r.count * r[key], 0);
  const totals = { ours_shared_ms: perStep('ours_shared_ms'), ours_packed_ms: perStep('ours_packed_ms'), pytorch_ms: perStep('pytorch_ms') };
  const report = {
    generated_at: new Date().toISOString(), command: `node bench/gemm.mjs ${process.argv.slice(2).join(' ')}`.trim(),
    machine: machineInfo(PYTHON, threads), threads, repeats, about,
    load_average: { start: loadStart, end: loadAverage() }, rows, per_step: totals,
  };
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  const f = (x) => x.toFixed(1);
  const table = [
    '| product (m x k x n) | per step | ours, W shared: ms (GFLOP/s) | ours, W packed: ms (GFLOP/s) | PyTorch: ms (GFLOP/s) |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.product} (${r.m} x ${r.k} x ${r.n}) | ${r.count} | ${f(r.ours_shared_ms)} (${r.gflops.ours_shared}) | ${f(r.ours_packed_ms)} (${r.gflops.ours_packed}) | ${f(r.pytorch_ms)} (${r.gflops.pytorch}) |`),
    `| **one step's products** | | **${Math.round(totals.ours_shared_ms)}** | **${Math.round(totals.ours_packed_ms)}** | **${Math.round(totals.pytorch_ms)}** |`,
  ];
  process.stdout.write(`${table.join('\n')}\n\n${threads} threads; load ${loadStart.join(' ')} at start, ${report.load_average.end.join(' ')} at end.\nwritten: ${path.relative(process.cwd(), out)}\n`);
}

main();
