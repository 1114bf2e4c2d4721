// Workspace Trust: in an untrusted workspace (restricted mode) Lily refuses to train, with its
// untrusted reason, and starts nothing; the runs already in the workspace are still listed.
// The harness opens this workspace with trust enabled and never granted, after training one
// real run into it with the CLI (its directory is in LILY_E2E_EXISTING_RUN).
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { RUN_FILES } from '../../../native-runtime/runFiles';
import { UNTRUSTED_REASON, type CommandResult } from '../../../src/results';
import { RunsTreeProvider, type RunsNode } from '../../../src/runsView';
import { lilyApi, sentimentExample, waitFor, workspaceRoot } from '../suite/helpers';

function existingRun(): string {
  const runDir = process.env.LILY_E2E_EXISTING_RUN;
  if (!runDir || !fs.existsSync(path.join(runDir, RUN_FILES.status))) {
    throw new Error(`LILY_E2E_EXISTING_RUN (${runDir}) names no run directory with a status.json: the harness trains one into the workspace before opening it`);
  }
  return runDir;
}

function runDirsUnder(root: string): string[] {
  return fs.existsSync(root) ? fs.readdirSync(root).sort() : [];
}

describe('restricted mode (untrusted workspace)', () => {
  it('the workspace is open in restricted mode', () => {
    assert.strictEqual(vscode.workspace.isTrusted, false, 'the workspace is trusted: the harness must open it with security.workspace.trust.enabled and no trust granted');
  });

  it('Lily activates (it supports untrusted workspaces in a limited way)', async () => {
    await lilyApi();
  });

  for (const command of ['lily.train', 'lily.trainTorch', 'lily.compareLora']) {
    it(`${command} is refused with the untrusted reason and starts no run`, async () => {
      const example = sentimentExample();
      const runsRoot = path.dirname(existingRun());
      const before = runDirsUnder(runsRoot);
      const r = await vscode.commands.executeCommand<CommandResult<{ runDir: string }> | undefined>(command, vscode.Uri.file(example.config), { maxSteps: 2, processes: 1 });
      assert.ok(r, `${command} returned nothing (every Lily command returns { ok, ... })`);
      if (r.ok) assert.fail(`${command} started a run in an untrusted workspace: ${JSON.stringify(r)}`);
      assert.strictEqual(r.reason, UNTRUSTED_REASON);
      // Nothing may appear, also not a moment later (a backend started anyway would create it).
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.deepStrictEqual(runDirsUnder(runsRoot), before, `a run directory appeared under ${runsRoot} after the refusal`);
    });
  }

  it('the Runs view still lists the run that was already in the workspace', async () => {
    const runDir = existingRun();
    assert.ok(runDir.startsWith(workspaceRoot() + path.sep), `${runDir} is not inside the workspace ${workspaceRoot()}`);
    const api = await lilyApi();
    await waitFor(`the extension to list ${runDir} as completed`, () => api.model.get(runDir)?.status.state === 'completed' || undefined, 20_000);
    await vscode.commands.executeCommand('lily.runs.focus');
    const tree = new RunsTreeProvider(api.model);
    try {
      const nodes = tree.getChildren() as RunsNode[];
      const node = nodes.find((n) => n.runDir === runDir);
      assert.ok(node, `the Runs tree does not list ${runDir}; it lists: ${nodes.map((n) => n.runDir).join(', ') || 'nothing'}`);
      const status = JSON.parse(fs.readFileSync(path.join(runDir, RUN_FILES.status), 'utf8'));
      assert.strictEqual(tree.getTreeItem(node).label, status.name);
      assert.match(String(tree.getTreeItem(node).contextValue), /^lilyRun:completed/);
    } finally {
      tree.dispose();
    }
  });
});
