#!/usr/bin/env node
// End-to-end tests in a REAL VS Code (`npm run test:e2e`), in four parts:
//   self-check  the harness proves itself on throwaway extensions (harness/selfCheck.mjs): a
//               passing and a failing test counted, an activation error and a command throwing
//               at runtime failing fast with their messages;
//   restricted  Workspace Trust: Lily's tests in an untrusted workspace (test/e2e/restricted/);
//   (a)         the extension test suite (test/e2e/suite/, compiled to out/test/e2e/suite/) inside
//               the real extension host of a VS Code server;
//   (b)         a UI scenario in the workbench, driven by Playwright (test/e2e/ui/).
// First makes sure of its prerequisites (harness/prerequisites.mjs): Chromium (installed by
// scripts/setup-system.sh when missing) and a current build (`npm run build` when out/ is missing
// or older than a source). Installs the VS Code server on first use (scripts/setup-vscode.mjs,
// cached in .vscode-test/). The self-check and restricted parts share one server with workspace
// trust on; (a) and (b) get their own (trust off). Every server listens on a free loopback port
// with throwaway data dirs and workspace. Stops everything it started (also on failure, timeout,
// Ctrl-C), and ends with `N passed, N failed` over all parts; the exit code is non-zero on any failure.
//
// Options: --only=self|restricted|ext|ui   run one part   --self-check   the self-check part only
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
import { cleanupAll, onCleanup, spawnTracked, withTimeout } from './harness/processes.mjs';
import { inProcessChecks, SELF_CHECK_EXPECTATIONS, writeSelfCheckExtension } from './harness/selfCheck.mjs';
import { RESTRICTED_MODE_SETTINGS, startServer } from './harness/server.mjs';

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
const RESTRICTED_TIMEOUT_MS = 3 * 60_000;
const SELF_CHECK_TIMEOUT_MS = 90_000;
/** A failing self-check variant must end well before its timeout: that is what "fast" means. */
const SELF_CHECK_FAST_S = 60;
/** Steps of the run trained into the restricted-mode workspace before it opens. */
const EXISTING_RUN_STEPS = 5;

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
  return dir;
}

function extensionIdOf(extensionRoot) {
  const { publisher, name } = JSON.parse(readFileSync(path.join(extensionRoot, 'package.json'), 'utf8'));
  return `${publisher}.${name}`;
}

async function stopServer(server) {
  server.child.kill('SIGTERM');
  await withTimeout(server.exitPromise, 5000, 'stopping the VS Code server').catch(() => process.kill(-server.child.pid, 'SIGKILL'));
}

/** One VS Code server + one extension-test run (used by part (a)). */
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
    await stopServer(server);
  }
}

/**
 * The server shared by the self-check and the restricted-mode run: workspace trust on, never
 * granted. Its environment (inherited by every extension host it starts) carries the
 * restricted-mode suite's report files and the run trained into that workspace beforehand;
 * the self-check extensions report next to their own tests instead. Started on first use.
 */
function trustServer(ctx) {
  const root = path.join(ctx.tmpRoot, 'trust-server');
  const restrictedRoot = path.join(ctx.tmpRoot, 'restricted');
  mkdirSync(restrictedRoot, { recursive: true });
  const restricted = {
    workspace: prepareWorkspace(restrictedRoot, 'workspace'),
    logFile: path.join(restrictedRoot, 'suite.log'),
    resultsFile: path.join(restrictedRoot, 'results.json'),
  };
  restricted.existingRun = path.join(restricted.workspace, '.lily', 'runs', 'trained-before-opening');
  let started;
  return {
    restricted,
    get: () => {
      started ??= (async () => {
        mkdirSync(root, { recursive: true });
        const env = {
          LILY_E2E_LOG: restricted.logFile,
          LILY_E2E_RESULTS: restricted.resultsFile,
          LILY_E2E_EXISTING_RUN: restricted.existingRun,
          LILY_E2E_REPO: repoRoot,
          LILY_E2E_ARTIFACTS: artifacts,
        };
        const server = await startServer(ctx.vscode, root, env, () => {}, RESTRICTED_MODE_SETTINGS);
        onCleanup(() => stopServer(server));
        print(`e2e: VS Code server with workspace trust on, port ${server.port} (${elapsed()})`);
        return server;
      })();
      return started;
    },
    async stop() {
      if (started) await stopServer(await started);
      started = undefined;
    },
  };
}

/** Trains the workspace's config with the real CLI into `runDir` (an existing run for the restricted-mode tests). */
function trainExistingRun(workspace, runDir) {
  const config = path.join(workspace, 'sentiment', 'sentiment.lily.json');
  const args = [path.join(repoRoot, 'bin', 'lily.js'), 'train', config, '--max-steps', String(EXISTING_RUN_STEPS), '--run-dir', runDir, '--device', 'cpu', '--threads', '1'];
  const child = spawnTracked(process.execPath, args, { cwd: workspace, env: { ...process.env, OMP_NUM_THREADS: '1' } });
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk.toString()).slice(-6000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return new Promise((resolve, reject) => {
    child.on('error', (err) => reject(new Error(`could not start the CLI to train ${runDir}: ${err.message}`)));
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(runDir);
      else reject(new Error(`\`node bin/lily.js ${args.slice(1).join(' ')}\` ended with ${signal ?? `exit code ${code}`}:\n${output}`));
    });
  });
}

async function selfCheck(ctx) {
  const totals = { passed: 0, failed: 0, failures: [] };
  const count = (name, problem) => {
    print(`e2e: self-check ${name}: ${problem ? `NOT as expected: ${problem}` : 'as expected'}`);
    if (problem) {
      totals.failed++;
      totals.failures.push(`self-check ${name}: ${problem}`);
    } else totals.passed++;
  };
  for (const { name, problem } of inProcessChecks()) count(name, problem);
  const server = await ctx.trust.get();
  const workspace = path.join(ctx.tmpRoot, 'selfcheck-workspace');
  mkdirSync(workspace, { recursive: true });
  for (const [variant, expectation] of Object.entries(SELF_CHECK_EXPECTATIONS)) {
    const ext = writeSelfCheckExtension(ctx.tmpRoot, variant);
    const t0 = Date.now();
    const r = await runExtensionTests({ label: `selfcheck-${variant}`, extensionId: extensionIdOf(ext.extensionRoot), browser: ctx.browser, server, workspace, timeoutMs: SELF_CHECK_TIMEOUT_MS, artifacts, print, ...ext });
    const seconds = Math.round((Date.now() - t0) / 1000);
    const ok = expectation(r) && seconds < SELF_CHECK_FAST_S;
    const got = `${r.passed} passed, ${r.failed} failed in ${seconds} s`;
    // Expected failures in one line each; an unexpected outcome in full.
    const failures = r.failures.map((f) => (ok ? f.split('\n').slice(0, 2).join(' ') : f));
    count(variant, ok ? null : `got ${got}${failures.length ? `:\n    ${failures.join('\n    ')}` : ''}`);
    if (ok) print(`    ${got}${failures.length ? `: ${failures.join('; ')}` : ''}`);
  }
  return totals;
}

async function restrictedMode(ctx) {
  const { restricted } = ctx.trust;
  const testsIndex = path.join(repoRoot, 'out', 'test', 'e2e', 'restricted', 'index.js');
  if (!existsSync(testsIndex)) return { passed: 0, failed: 1, failures: [`restricted mode: ${path.relative(repoRoot, testsIndex)} is not built; run \`npm run build\``] };
  try {
    await ctx.existingRun;
  } catch (err) {
    return { passed: 0, failed: 1, failures: [`restricted mode: could not train the run that must already be in the workspace: ${err instanceof Error ? err.message : err}`] };
  }
  const server = await ctx.trust.get();
  return runExtensionTests({
    label: 'restricted',
    extensionId: extensionIdOf(repoRoot),
    browser: ctx.browser,
    server,
    extensionRoot: repoRoot,
    testsIndex,
    workspace: restricted.workspace,
    logFile: restricted.logFile,
    resultsFile: restricted.resultsFile,
    timeoutMs: RESTRICTED_TIMEOUT_MS,
    artifacts,
    print,
  });
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
    await stopServer(server);
  }
}

/** Every part, in the order run; `trust` marks those on the shared trust-on server. */
const PARTS = [
  { name: 'self-check', key: 'self', run: selfCheck, trust: true },
  { name: 'restricted mode', key: 'restricted', run: restrictedMode, trust: true },
  { name: 'extension tests', key: 'ext', run: extensionSuite },
  { name: 'ui scenario', key: 'ui', run: uiScenario },
];

function selectedParts() {
  if (option('self-check')) return PARTS.filter((p) => p.key === 'self');
  if (typeof only !== 'string') return PARTS;
  const chosen = PARTS.filter((p) => p.key === only);
  if (!chosen.length) throw new Error(`e2e: --only=${only}: expected one of ${PARTS.map((p) => p.key).join(', ')}`);
  return chosen;
}

async function main() {
  // Fresh artifacts: a screenshot left from an earlier run must not pass for this one's.
  rmSync(artifacts, { recursive: true, force: true });
  mkdirSync(artifacts, { recursive: true });
  const parts = selectedParts();
  ensurePrerequisites(repoRoot, print);
  const vscode = await ensureVSCodeServer();
  const tmpRoot = mkdtempSync(path.join(os.tmpdir(), 'lily-e2e-'));
  if (!option('keep')) onCleanup(() => rmSync(tmpRoot, { recursive: true, force: true }));
  else print(`e2e: keeping ${tmpRoot}`);
  const browser = await launchBrowser();
  onCleanup(() => browser.close());
  const ctx = { browser, vscode, tmpRoot };
  ctx.trust = trustServer(ctx);
  if (parts.some((p) => p.key === 'restricted')) {
    // Trains while the self-check runs; awaited by the restricted part. Handled there.
    ctx.existingRun = trainExistingRun(ctx.trust.restricted.workspace, ctx.trust.restricted.existingRun);
    ctx.existingRun.catch(() => {});
  }

  const totals = { passed: 0, failed: 0, failures: [] };
  for (const [i, { name, run }] of parts.entries()) {
    print(`e2e: === ${name} (${elapsed()}) ===`);
    let r;
    try {
      r = await run(ctx);
    } catch (err) {
      r = { passed: 0, failed: 1, failures: [`${name}: ${err instanceof Error ? err.stack ?? err.message : err}`] };
    }
    // The trust-on server's memory goes back before the parts that do not use it.
    if (!parts.slice(i + 1).some((p) => p.trust)) await ctx.trust.stop();
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
