#!/usr/bin/env node
// `npm test`: every suite in order — system packages, build, unit (mocha), dashboard in headless
// Chromium (mocha), the real VS Code (e2e) — with each suite's output streamed as it comes, and a
// last line that counts all of them ("total: N passed, N failed, N skipped"), so a reader of the
// log (or CI) sees the whole count, not only the last suite's. Later suites still run after a
// failure, so one run reports everything; the exit code is non-zero if anything failed.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Steps without counts must succeed before any suite can run. */
const SETUP = [
  ['system packages', 'bash', ['scripts/setup-system.sh']],
  ['python environment', 'bash', ['scripts/setup-python.sh']],
  ['build', npm, ['run', 'build']],
];
const SUITES = [
  ['unit', npm, ['run', 'test:unit']],
  ['webview', npm, ['run', 'test:webview']],
  ['e2e', npm, ['run', 'test:e2e']],
];

function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (c) => { process.stdout.write(c); text += c; });
    child.stderr.on('data', (c) => { process.stderr.write(c); text += c; });
    child.on('error', (e) => resolve({ code: 1, text: text + String(e) }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), text }));
  });
}

/** Mocha's summary ("12 passing", "1 failing", "2 pending") or the e2e line ("N passed, N failed"). */
export function countsOf(text) {
  // eslint-disable-next-line no-control-regex
  const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
  const last = (re) => {
    const all = [...plain.matchAll(re)];
    return all.length ? Number(all[all.length - 1][1]) : undefined;
  };
  const e2e = [...plain.matchAll(/^(\d+) passed, (\d+) failed\s*$/gm)].pop();
  if (e2e) return { passed: Number(e2e[1]), failed: Number(e2e[2]), skipped: 0 };
  return { passed: last(/^\s*(\d+) passing/gm) ?? 0, failed: last(/^\s*(\d+) failing/gm) ?? 0, skipped: last(/^\s*(\d+) pending/gm) ?? 0 };
}

async function main() {
  for (const [name, cmd, args] of SETUP) {
    const r = await run(cmd, args);
    if (r.code !== 0) {
      console.log(`\n${name} failed (exit ${r.code}); no suite was run`);
      console.log('total: 0 passed, 1 failed');
      process.exitCode = 1;
      return;
    }
  }
  const total = { passed: 0, failed: 0, skipped: 0 };
  const rows = [];
  for (const [name, cmd, args] of SUITES) {
    const r = await run(cmd, args);
    const c = countsOf(r.text);
    // A suite that exits non-zero without reporting a failure (a crash, a harness error) counts as one.
    if (r.code !== 0 && c.failed === 0) c.failed = 1;
    total.passed += c.passed;
    total.failed += c.failed;
    total.skipped += c.skipped;
    rows.push(`  ${name.padEnd(8)} ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped${r.code !== 0 ? ` (exit ${r.code})` : ''}`);
  }
  console.log('\nSuites:');
  for (const row of rows) console.log(row);
  console.log(`total: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
  if (total.failed > 0) process.exitCode = 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
