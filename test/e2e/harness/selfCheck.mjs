// Proves the harness itself, independent of the Lily extension, before the real tests run:
//  - throwaway extensions in a temp dir, run through the same machinery as the real suite, in
//    variants whose outcome is known: a passing and a failing test in one window (both counted),
//    an extension whose activation throws, and a command that throws at runtime while nothing
//    awaits it (both must fail fast with their message, not time out);
//  - in-process checks of the prerequisites logic (a stale or missing build is noticed).
// Each variant's tests write their report and counts next to their own tests.js, so the
// variants can share one VS Code server. `node test/e2e/run.mjs --self-check` runs only this.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUILD_OUTPUTS, staleBuildReason } from './prerequisites.mjs';

const EXTENSION_ID = 'lily-e2e.selfcheck';
const ACTIVATION_MESSAGE = 'self-check: activation exploded on purpose';
const COMMAND_MESSAGE = 'self-check: command exploded at runtime on purpose';

function extensionSource(activationThrows) {
  return `
const vscode = require('vscode');
exports.activate = function activate(context) {
  ${activationThrows ? `throw new Error('${ACTIVATION_MESSAGE}');` : ''}
  context.subscriptions.push(vscode.commands.registerCommand('selfcheck.hello', () => 'hello from the extension host'));
  // A command with a bug: it throws when run, as a broken command of a real extension would.
  context.subscriptions.push(vscode.commands.registerCommand('selfcheck.explode', () => {
    throw new Error('${COMMAND_MESSAGE}');
  }));
};
exports.deactivate = function deactivate() {};
`;
}

// A test runner without mocha, so the self-check depends on nothing but VS Code itself.
function testsSource(variant) {
  if (variant === 'activation-error') {
    // Never settles: only the harness's watchdog can end this run, which is what is checked.
    return 'exports.run = () => new Promise(() => {});\n';
  }
  if (variant === 'command-error') {
    // Runs the broken command the way a click in the UI does: nobody awaits its result. Then
    // never settles, so only the watchdog (which must see the error) can end the run.
    return `
const vscode = require('vscode');
exports.run = async function run() {
  await vscode.extensions.getExtension('${EXTENSION_ID}').activate();
  void vscode.commands.executeCommand('selfcheck.explode');
  return new Promise(() => {});
};
`;
  }
  return `
const fs = require('fs');
const path = require('path');
const vscode = require('vscode');
const log = (line) => fs.appendFileSync(path.join(__dirname, 'suite.log'), line + '\\n');
const results = { passed: 0, failed: 0, pending: 0, failures: [] };
async function test(title, body) {
  try {
    await body();
    results.passed++;
    log('  ✓ ' + title);
  } catch (err) {
    results.failed++;
    results.failures.push({ title, message: err.message });
    log('  ✗ ' + title + ': ' + err.message);
  }
}
async function expectReply(expected) {
  const reply = await vscode.commands.executeCommand('selfcheck.hello');
  if (reply !== expected) throw new Error('command returned ' + JSON.stringify(reply) + ', expected ' + JSON.stringify(expected));
}
exports.run = async function run() {
  await vscode.extensions.getExtension('${EXTENSION_ID}').activate();
  await test('the command answers (node ' + process.version + ', vscode ' + vscode.version + ')', () => expectReply('hello from the extension host'));
  await test('a wrong expectation fails', () => expectReply('something else'));
  fs.writeFileSync(path.join(__dirname, 'results.json'), JSON.stringify(results));
  if (results.failed) throw new Error(results.failed + ' failed');
};
`;
}

/** Writes one variant's extension; returns the paths the harness needs. */
export function writeSelfCheckExtension(root, variant) {
  const dir = path.join(root, `selfcheck-extension-${variant}`);
  mkdirSync(path.join(dir, 'out'), { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({
    name: 'selfcheck',
    publisher: 'lily-e2e',
    version: '0.0.1',
    engines: { vscode: '^1.90.0' },
    // Under out/, like a compiled extension: the watchdog counts errors from <root>/out/ as the extension's.
    main: './out/extension.js',
    activationEvents: ['onStartupFinished'],
    // The shared self-check server has workspace trust on (for the restricted-mode run).
    capabilities: { untrustedWorkspaces: { supported: true } },
    contributes: { commands: [{ command: 'selfcheck.hello', title: 'Self-check: Hello' }, { command: 'selfcheck.explode', title: 'Self-check: Explode' }] },
  }, null, 2));
  writeFileSync(path.join(dir, 'out', 'extension.js'), extensionSource(variant === 'activation-error'));
  writeFileSync(path.join(dir, 'tests.js'), testsSource(variant));
  return {
    extensionRoot: dir,
    testsIndex: path.join(dir, 'tests.js'),
    logFile: path.join(dir, 'suite.log'),
    resultsFile: path.join(dir, 'results.json'),
  };
}

/** What each variant must produce for the harness to be trusted. */
export const SELF_CHECK_EXPECTATIONS = {
  'pass-and-fail': (r) => r.passed === 1 && r.failed === 1 && /expected "something else"/.test(r.failures.join('\n')),
  'activation-error': (r) => r.failed >= 1 && r.failures.join('\n').includes(ACTIVATION_MESSAGE),
  'command-error': (r) => r.failed >= 1 && r.failures.join('\n').includes(COMMAND_MESSAGE),
};

/**
 * Checks of the harness's own logic that need no VS Code, on real files in a temp dir.
 * @returns {Array<{ name: string, problem: string | null }>}
 */
export function inProcessChecks() {
  const root = mkdtempSync(path.join(os.tmpdir(), 'lily-e2e-prereq-'));
  try {
    const touch = (rel, seconds) => {
      const file = path.join(root, rel);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, '');
      utimesSync(file, seconds, seconds);
    };
    const results = [];
    const check = (name, expect) => {
      const reason = staleBuildReason(root);
      results.push({ name, problem: expect(reason) ? null : `staleBuildReason gave ${JSON.stringify(reason)}` });
    };
    touch('src/extension.ts', 1000);
    check('prerequisites: a missing out/ means a build is needed', (r) => r !== null && r.includes('out/src/extension.js'));
    for (const f of BUILD_OUTPUTS) touch(f, 2000);
    touch('webview/styles/dashboard.css', 1500);
    check('prerequisites: outputs newer than every source need no build', (r) => r === null);
    touch('native-runtime/train/step.ts', 3000);
    check('prerequisites: a source newer than out/ means a build is needed, naming it', (r) => r !== null && r.includes(path.join('native-runtime', 'train', 'step.ts')));
    return results;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
