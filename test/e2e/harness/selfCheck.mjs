// Proves the harness itself, independent of the Lily extension: a throwaway extension in a temp
// dir, run through the same machinery as the real suite, in three variants whose outcome is
// known: a passing test, a failing test, and an extension whose activation throws (which must
// fail fast with its message, not time out). `node test/e2e/run.mjs --self-check`.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const EXTENSION_ID = 'lily-e2e.selfcheck';

function extensionSource(activationThrows) {
  return `
const vscode = require('vscode');
exports.activate = function activate(context) {
  ${activationThrows ? "throw new Error('self-check: activation exploded on purpose');" : ''}
  context.subscriptions.push(vscode.commands.registerCommand('selfcheck.hello', () => 'hello from the extension host'));
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
  const expectPass = variant === 'pass';
  return `
const fs = require('fs');
const vscode = require('vscode');
const log = (line) => fs.appendFileSync(process.env.LILY_E2E_LOG, line + '\\n');
exports.run = async function run() {
  const ext = vscode.extensions.getExtension('${EXTENSION_ID}');
  const results = { passed: 0, failed: 0, pending: 0, failures: [] };
  try {
    await ext.activate();
    const reply = await vscode.commands.executeCommand('selfcheck.hello');
    const expected = ${expectPass ? "'hello from the extension host'" : "'something else'"};
    if (reply !== expected) throw new Error('command returned ' + JSON.stringify(reply) + ', expected ' + JSON.stringify(expected));
    results.passed++;
    log('  ✓ the command answers (node ' + process.version + ', vscode ' + vscode.version + ')');
  } catch (err) {
    results.failed++;
    results.failures.push({ title: 'the command answers', message: err.message });
    log('  ✗ the command answers: ' + err.message);
  }
  fs.writeFileSync(process.env.LILY_E2E_RESULTS, JSON.stringify(results));
  if (results.failed) throw new Error(results.failed + ' failed');
};
`;
}

/** Writes one variant's extension; returns the paths the harness needs. */
export function writeSelfCheckExtension(root, variant) {
  const dir = path.join(root, `selfcheck-extension-${variant}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({
    name: 'selfcheck',
    publisher: 'lily-e2e',
    version: '0.0.1',
    engines: { vscode: '^1.90.0' },
    main: './extension.js',
    activationEvents: ['onStartupFinished'],
    contributes: { commands: [{ command: 'selfcheck.hello', title: 'Self-check: Hello' }] },
  }, null, 2));
  writeFileSync(path.join(dir, 'extension.js'), extensionSource(variant === 'activation-error'));
  writeFileSync(path.join(dir, 'tests.js'), testsSource(variant));
  return { extensionRoot: dir, testsIndex: path.join(dir, 'tests.js') };
}

/** What each variant must produce for the harness to be trusted. */
export const SELF_CHECK_EXPECTATIONS = {
  pass: (r) => r.passed === 1 && r.failed === 0,
  fail: (r) => r.passed === 0 && r.failed === 1 && /something else/.test(r.failures.join('\n')),
  'activation-error': (r) => r.failed >= 1 && /activation exploded on purpose/.test(r.failures.join('\n')),
};
