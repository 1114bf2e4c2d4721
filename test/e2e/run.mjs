#!/usr/bin/env node
// End-to-end tests in a REAL VS Code (`npm run test:e2e`):
//   (a) the extension test suite (test/e2e/suite/, compiled to out/test/e2e/suite/) inside the
//       real extension host of a VS Code server;
//   (b) a UI scenario in the workbench, driven by Playwright (test/e2e/ui/).
// First makes sure of its prerequisites (harness/prerequisites.mjs): Chromium (installed by
// scripts/setup-system.sh when missing) and a current build (`npm run build` when out/ is missing
// or older than a source).
// Installs the VS Code server on first use (scripts/setup-vscode.mjs, cached in .vscode-test/),
// gives each part its own server on a free loopback port with throwaway data dirs and workspace,
// stops everything it started (also on failure, timeout, Ctrl-C), and ends with
// `N passed, N failed` over both parts; the exit code is non-zero on any failure.
//
// Options: --only=ext|ui   run one part       --self-check   prove the harness on a throwaway extension
//          --keep          keep the temp dir   --grep=TEXT    only extension tests whose title matches
//          --example=DIR   use DIR instead of examples/sentiment as the workspace's sentiment/ folder
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureVSCodeServer } from '../../scripts/setup-vscode.mjs';
import { launchBrowser } from './harness/browser.mjs';
import { runExtensionTests } from './harness/extensionTests.mjs';
import { ensurePrerequisites } from './harness/prerequisites.mjs';
import { cleanupAll, onCleanup, withTimeout } from './harness/processes.mjs';
import { SELF_CHECK_EXPECTATIONS, writeSelfCheckExtension } from './harness/selfCheck.mjs';
import { startServer } from './harness/server.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const artifacts = path.join(repoRoot, 'test-artifacts', 'e2e');
const args = process.argv.slice(2);
/** `--name` gives true, `--name=value` gives the value, absent gives undefined. */
function option(name) {
  for (const arg of args) {
    if (arg === `--${name}`) return true;
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
  }
  return undefined;
}
const only = option('only');
const started = Date.now();

// Budgets: generous for a loaded 2-core CI machine, far below "forever".
const EXTENSION_TESTS_TIMEOUT_MS = 8 * 60_000;
const UI_SCENARIO_TIMEOUT_MS = 6 * 60_000;

const print = (line) => process.stdout.write(`${line}\n`);
const elapsed = () => `${Math.round((Date.now() - started) / 1000)} s`;

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    print(`e2e: ${signal}: stopping everything started`);
    cleanupAll().finally(() => process.exit(130));
  });
}

/** A throwaway copy of the example workspace: the bundled demo plus the e2e fixtures. */
function prepareWorkspace(tmpRoot, name) {
  const dir = path.join(tmpRoot, name);
  mkdirSync(dir, { recursive: true });
  // --example=DIR replaces the bundled demo (to try the harness against another example).
  const example = option('example');
  const sentiment = typeof example === 'string' ? path.resolve(example) : path.join(repoRoot, 'examples', 'sentiment');
  if (existsSync(sentiment)) cpSync(sentiment, path.join(dir, 'sentiment'), { recursive: true });
  const fixtures = path.join(repoRoot, 'examples', 'workspace');
  if (existsSync(fixtures)) cpSync(fixtures, dir, { recursive: true });
  // The example's `$schema` is relative to its place in the repository (examples/sentiment/ ->
  // ../../schemas/); the same two levels up from workspace/sentiment/ is tmpRoot.
  const schemas = path.join(repoRoot, 'schemas');
  if (existsSync(schemas)) cpSync(schemas, path.join(tmpRoot, 'schemas'), { recursive: true });
  return dir;
}

function extensionIdOf(extensionRoot) {
  const { publisher, name } = JSON.parse(readFileSync(path.join(extensionRoot, 'package.json'), 'utf8'));
  return `${publisher}.${name}`;
}

/** One VS Code server + one extension-test run (used by part (a) and by --self-check). */
async function extensionTestRun({ label, browser, vscode, tmpRoot, extensionRoot, testsIndex, timeoutMs, extraEnv = {} }) {
  const partRoot = path.join(tmpRoot, label);
  mkdirSync(partRoot, { recursive: true });
  const workspace = prepareWorkspace(partRoot, 'workspace');
  const logFile = path.join(partRoot, 'suite.log');
  const resultsFile = path.join(partRoot, 'results.json');
  const env = {
    LILY_E2E_LOG: logFile,
    LILY_E2E_RESULTS: resultsFile,
    LILY_E2E_REPO: repoRoot,
    LILY_E2E_ARTIFACTS: artifacts,
    ...extraEnv,
  };
  const serverLog = [];
  const server = await startServer(vscode, partRoot, env, (line) => serverLog.push(line));
  try {
    print(`e2e: ${label}: VS Code server on port ${server.port} (${elapsed()})`);
    return await runExtensionTests({ label, extensionId: extensionIdOf(extensionRoot), browser, server, extensionRoot, testsIndex, workspace, logFile, resultsFile, timeoutMs, artifacts, print });
  } finally {
    server.child.kill('SIGTERM');
    await withTimeout(server.exitPromise, 5000, 'stopping the VS Code server').catch(() => process.kill(-server.child.pid, 'SIGKILL'));
  }
}

async function selfCheck(ctx) {
  const totals = { passed: 0, failed: 0, failures: [] };
  for (const [variant, expectation] of Object.entries(SELF_CHECK_EXPECTATIONS)) {
    const ext = writeSelfCheckExtension(ctx.tmpRoot, variant);
    const t0 = Date.now();
    const r = await extensionTestRun({ ...ctx, label: `selfcheck-${variant}`, ...ext, timeoutMs: 90_000 });
    const seconds = Math.round((Date.now() - t0) / 1000);
    const ok = expectation(r) && seconds < 80;
    print(`e2e: self-check ${variant}: ${ok ? 'as expected' : 'NOT as expected'} in ${seconds} s: ${r.passed} passed, ${r.failed} failed${r.failures.length ? `\n    ${r.failures.join('\n    ')}` : ''}`);
    if (ok) totals.passed++;
    else {
      totals.failed++;
      totals.failures.push(`self-check ${variant}: got ${JSON.stringify(r)}`);
    }
  }
  return totals;
}

async function extensionSuite(ctx) {
  const testsIndex = path.join(repoRoot, 'out', 'test', 'e2e', 'suite', 'index.js');
  const main = path.join(repoRoot, 'out', 'src', 'extension.js');
  const missing = [testsIndex, main].filter((f) => !existsSync(f));
  if (missing.length) {
    const msg = `not built: ${missing.map((f) => path.relative(repoRoot, f)).join(', ')}; run \`npm run build\` (tsc -p .) first`;
    print(`e2e: extension tests: ${msg}`);
    return { passed: 0, failed: 1, failures: [`extension tests: ${msg}`] };
  }
  const grep = option('grep');
  return extensionTestRun({
    ...ctx,
    label: 'extension-tests',
    extensionRoot: repoRoot,
    testsIndex,
    timeoutMs: EXTENSION_TESTS_TIMEOUT_MS,
    extraEnv: typeof grep === 'string' ? { LILY_E2E_GREP: grep } : {},
  });
}

async function uiScenario(ctx) {
  const { runUiScenario } = await import('./ui/scenario.mjs');
  const partRoot = path.join(ctx.tmpRoot, 'ui');
  mkdirSync(partRoot, { recursive: true });
  const workspace = prepareWorkspace(partRoot, 'workspace');
  const server = await startServer(ctx.vscode, partRoot, { LILY_E2E_REPO: repoRoot }, () => {});
  try {
    print(`e2e: ui: VS Code server on port ${server.port} (${elapsed()})`);
    return await withTimeout(
      runUiScenario({ browser: ctx.browser, server, extensionRoot: repoRoot, extensionId: extensionIdOf(repoRoot), workspace, artifacts, print }),
      UI_SCENARIO_TIMEOUT_MS,
      'the UI scenario',
    ).catch((err) => ({ passed: 0, failed: 1, failures: [`ui: ${err instanceof Error ? err.message : err}`] }));
  } finally {
    server.child.kill('SIGTERM');
    await withTimeout(server.exitPromise, 5000, 'stopping the VS Code server').catch(() => process.kill(-server.child.pid, 'SIGKILL'));
  }
}

async function main() {
  // Fresh artifacts: a screenshot left from an earlier run must not pass for this one's.
  rmSync(artifacts, { recursive: true, force: true });
  mkdirSync(artifacts, { recursive: true });
  ensurePrerequisites(repoRoot, print);
  const vscode = await ensureVSCodeServer();
  const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'lily-e2e-'));
  if (!option('keep')) onCleanup(() => rmSync(tmpRoot, { recursive: true, force: true }));
  else print(`e2e: keeping ${tmpRoot}`);
  const browser = await launchBrowser();
  onCleanup(() => browser.close());
  const ctx = { browser, vscode, tmpRoot };

  const parts = option('self-check')
    ? [['self-check', selfCheck]]
    : [['extension tests', extensionSuite], ['ui scenario', uiScenario]].filter(([name]) => !only || name.startsWith(only === 'ext' ? 'extension' : only));
  const totals = { passed: 0, failed: 0, failures: [] };
  for (const [name, part] of parts) {
    print(`e2e: === ${name} (${elapsed()}) ===`);
    let r;
    try {
      r = await part(ctx);
    } catch (err) {
      r = { passed: 0, failed: 1, failures: [`${name}: ${err instanceof Error ? err.stack ?? err.message : err}`] };
    }
    print(`e2e: ${name}: ${r.passed} passed, ${r.failed} failed (${elapsed()})`);
    totals.passed += r.passed;
    totals.failed += r.failed;
    totals.failures.push(...r.failures);
  }
  if (totals.failures.length) print(`e2e: failures:\n  ${totals.failures.join('\n  ')}`);
  print(`${totals.passed} passed, ${totals.failed} failed`);
  return totals.failed === 0 && totals.passed > 0 ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  print(`e2e: ${err instanceof Error ? err.stack ?? err.message : err}`);
  print('0 passed, 1 failed');
} finally {
  await cleanupAll();
}
process.exit(code);
