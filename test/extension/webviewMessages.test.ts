// What the host accepts from the dashboard webview, the files it will open for it, and the
// CSP of the page it serves.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { dashboardHtml, makeNonce } from '../../src/dashboardHtml';
import { isRunDirectory, parseWebviewMessage, resolveInside, restoredRunDir } from '../../src/webviewMessages';
import { tempDir, writeRunStatus } from './fixtures';

describe('webview -> host messages', () => {
  it('accepts the four known messages', () => {
    for (const m of [{ type: 'ready' }, { type: 'selectRun', runDir: '/r/a' }, { type: 'selectCompare', runDir: null }, { type: 'selectCompare', runDir: '/r/b' }, { type: 'openFile', path: 'metrics.jsonl' }]) {
      const r = parseWebviewMessage(m);
      assert.ok(r.ok, JSON.stringify(m));
      assert.deepStrictEqual(r.message, m);
    }
  });

  it('rejects unknown and malformed messages with a reason', () => {
    const bad: unknown[] = [null, 'ready', 42, [], { type: 'runCommand', command: 'rm -rf' }, { type: 'selectRun' }, { type: 'selectRun', runDir: 7 },
      { type: 'selectCompare' }, { type: 'openFile', path: '' }, { type: 'openFile', path: { toString: () => 'x' } }];
    for (const m of bad) {
      const r = parseWebviewMessage(m);
      assert.strictEqual(r.ok, false, JSON.stringify(m));
      if (!r.ok) assert.ok(r.reason.length > 0);
    }
  });

  it('drops extra fields (only the typed shape reaches the handlers)', () => {
    const r = parseWebviewMessage({ type: 'openFile', path: 'a.json', command: 'evil' });
    assert.deepStrictEqual(r, { ok: true, message: { type: 'openFile', path: 'a.json' } });
  });
});

describe('resolveInside (openFile only inside the run dir)', () => {
  const root = tempDir('inside');
  const run = path.join(root, 'run-1');
  fs.mkdirSync(path.join(run, 'adapter'), { recursive: true });
  fs.writeFileSync(path.join(run, 'adapter', 'adapter_config.json'), '{}');
  fs.mkdirSync(path.join(root, 'run-10'));
  fs.writeFileSync(path.join(root, 'secret.txt'), 'x');
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('allows relative and absolute paths inside', () => {
    assert.strictEqual(resolveInside(run, 'adapter/adapter_config.json'), path.join(run, 'adapter', 'adapter_config.json'));
    assert.strictEqual(resolveInside(run, path.join(run, 'adapter')), path.join(run, 'adapter'));
  });

  it('rejects escapes: .., absolute paths elsewhere, prefix siblings, NUL', () => {
    assert.strictEqual(resolveInside(run, '../secret.txt'), undefined);
    assert.strictEqual(resolveInside(run, 'adapter/../../secret.txt'), undefined);
    assert.strictEqual(resolveInside(run, '/etc/passwd'), undefined);
    assert.strictEqual(resolveInside(run, path.join(root, 'run-10')), undefined);
    assert.strictEqual(resolveInside(run, 'adapter\0/x'), undefined);
  });

  it('rejects a symlink inside that points outside', function () {
    const link = path.join(run, 'link.txt');
    try {
      fs.symlinkSync(path.join(root, 'secret.txt'), link);
    } catch {
      this.skip(); // no symlink permission (Windows without developer mode)
    }
    assert.strictEqual(resolveInside(run, 'link.txt'), undefined);
  });
});

describe('dashboard panel restore', () => {
  const root = tempDir('restore');
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('trusts a saved runDir only when it is a run directory (status.json inside), like selectRun', () => {
    const run = writeRunStatus(root, 'run-a');
    const last = writeRunStatus(root, 'run-b');
    const plain = path.join(root, 'not-a-run');
    fs.mkdirSync(plain);
    fs.writeFileSync(path.join(plain, 'notes.txt'), 'x');

    assert.ok(isRunDirectory(run));
    for (const bad of [plain, path.join(plain, 'notes.txt'), path.join(root, 'gone'), 'run-a', '', 42, null, `${run}\0`]) {
      assert.strictEqual(isRunDirectory(bad), false, JSON.stringify(bad));
    }
    assert.deepStrictEqual(restoredRunDir({ runDir: run }, last), { runDir: run });
    assert.deepStrictEqual(restoredRunDir(undefined, last), { runDir: last }, 'no saved state: the run the window showed last');
    assert.deepStrictEqual(restoredRunDir({ runDir: 7 }, last), { runDir: last }, 'a malformed state is ignored');
    // A saved folder that is not a run is refused, not replaced by another run.
    assert.deepStrictEqual(restoredRunDir({ runDir: plain }, last), { missing: plain });
    assert.deepStrictEqual(restoredRunDir({ runDir: path.join(root, 'gone') }, undefined), { missing: path.join(root, 'gone') });
    assert.deepStrictEqual(restoredRunDir(null, undefined), { missing: undefined });
  });
});

describe('dashboard HTML', () => {
  it('has a CSP allowing only the nonce script and resources from the webview origin', () => {
    const nonce = makeNonce();
    const html = dashboardHtml({ cspSource: 'https://file+.vscode-resource.vscode-cdn.net', nonce, scriptUri: 'https://x/out/webview/dashboard.js', styleUri: 'https://x/out/webview/dashboard.css', title: 'Lily <run>' });
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)![1];
    assert.match(csp, /default-src 'none'/);
    assert.match(html, new RegExp(`<meta property="csp-nonce" content="${nonce}">`));
    assert.match(csp, new RegExp(`script-src 'nonce-${nonce}'(;|$)`));
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1]);
    assert.strictEqual(scripts.length, 1);
    assert.match(scripts[0], new RegExp(`nonce="${nonce}" src="https://x/out/webview/dashboard.js"`));
    assert.match(html, /<title>Lily &lt;run(&gt;|>)<\/title>/);
  });

  it('makes unguessable nonces', () => {
    const a = makeNonce();
    assert.match(a, /^[A-Za-z0-9]{32}$/);
    assert.notStrictEqual(a, makeNonce());
  });
});
