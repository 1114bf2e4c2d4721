// Workspace Trust: an untrusted workspace refuses every command that runs a `lily` process
// writing files (train, train on PyTorch, compare with LoRA, resume, inspect, export, import) with a reason that says how
// to trust it, and lets the read-only ones through; a trusted workspace refuses nothing.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { TRUST_REQUIRED, trustRefusal } from '../../src/trustGate';
import { REPO } from './fixtures';

const contributed: string[] = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).contributes.commands.map((c: { command: string }) => c.command);
const WRITING = ['lily.train', 'lily.trainTorch', 'lily.compareLora', 'lily.sweep', 'lily.resume', 'lily.inspect', 'lily.export', 'lily.importModel'];

describe('workspace trust gate', () => {
  it('refuses the commands that run lily processes writing files, saying how to trust the workspace', () => {
    for (const id of WRITING) {
      const reason = trustRefusal(id, false);
      assert.ok(reason, `${id} runs in an untrusted workspace`);
      assert.match(reason, /untrusted workspace/);
      assert.match(reason, /Manage Workspace Trust/);
    }
    assert.match(trustRefusal('lily.inspect', false)!, /writes router_stats\.json and spectrum\.json/);
    assert.match(trustRefusal('lily.importModel', false)!, /runs a Python interpreter/);
  });

  it('lets every other contributed command run untrusted (showing runs, dashboards, logs), and nothing is refused when trusted', () => {
    const allowed = contributed.filter((id) => !WRITING.includes(id));
    assert.ok(allowed.includes('lily.openDashboard') && allowed.includes('lily.refreshRuns'), `contributed: ${contributed.join(', ')}`);
    for (const id of allowed) assert.strictEqual(trustRefusal(id, false), undefined, id);
    for (const id of contributed) assert.strictEqual(trustRefusal(id, true), undefined, id);
  });

  it('gates only command ids the extension contributes (a typo would leave a command ungated)', () => {
    assert.deepStrictEqual(Object.keys(TRUST_REQUIRED).sort(), [...WRITING].sort());
    for (const id of Object.keys(TRUST_REQUIRED)) assert.ok(contributed.includes(id), `${id} is not in package.json contributes.commands`);
  });
});
