// "Lily: Train" on the bundled default config runs a short training through the real backend
// (server + training process + onnxruntime), the run completes with its files, and the Runs
// view shows it.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { RUN_FILES, type MetricLine } from '../../../native-runtime/runFiles';
import type { RunsNode } from '../../../src/runsView';
import { lilyApi, runCommand, sentimentExample, waitFor, waitForState } from './helpers';

const STEPS = 4;

describe('Lily: Train', () => {
  let runDir = '';

  it('sees the workspace\'s config, so the Runs view welcome offers Train rather than New Config', async () => {
    const api = await lilyApi();
    sentimentExample();
    assert.strictEqual(await api.configs.ready, true, 'lily.hasConfig is not set although the workspace holds sentiment/sentiment.lily.json');
    assert.strictEqual(api.configs.hasConfig, true);
  });

  it(`trains the bundled default config for ${STEPS} steps and the run completes`, async function () {
    this.timeout(300_000);
    const api = await lilyApi();
    const example = sentimentExample();
    const r = await runCommand<{ runId: string; runDir: string; pid: number }>('lily.train', vscode.Uri.file(example.config), { maxSteps: STEPS });
    runDir = r.runDir;
    assert.ok(fs.existsSync(runDir), `lily.train answered with run dir ${runDir}, which does not exist`);

    const status = await waitForState(runDir, ['completed'], 240_000);
    assert.strictEqual(status.step, STEPS);
    assert.strictEqual(status.total_steps, STEPS);
    assert.strictEqual(status.config_path, example.config);
    assert.ok(Number.isFinite(status.loss), `status.json has no finite loss: ${status.loss}`);

    const metrics = fs.readFileSync(path.join(runDir, RUN_FILES.metrics), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as MetricLine);
    const train = metrics.filter((m) => m.type === 'train');
    assert.ok(train.length > 0, 'metrics.jsonl has no training lines');
    assert.ok(train.every((m) => Number.isFinite(m.loss)), 'a training loss is not finite');
    assert.ok(metrics.some((m) => m.type === 'eval'), 'metrics.jsonl has no evaluation (the run evaluates at the end)');

    const peft = JSON.parse(fs.readFileSync(path.join(runDir, RUN_FILES.adapter, 'adapter_config.json'), 'utf8'));
    assert.strictEqual(peft.peft_type, 'LILY');
    assert.ok(fs.statSync(path.join(runDir, RUN_FILES.adapter, 'adapter_model.safetensors')).size > 0);

    // The extension's model of the run catches up with the files.
    await waitFor('the extension to see the run as completed', () => api.model.get(runDir)?.status.state === 'completed' || undefined, 15_000);
  });

  it('the Runs view lists the run with its final state', async () => {
    assert.ok(runDir, 'no run from the previous test');
    const api = await lilyApi();
    // The registered view exists (focusing it fails for an unknown view id).
    await vscode.commands.executeCommand('lily.runs.focus');
    // The provider registered for the view, as the view asks it.
    const tree = api.tree;
    const node = (tree.getChildren() as RunsNode[]).find((n) => n.runDir === runDir);
    assert.ok(node, `the Runs tree does not list ${runDir}; it lists: ${(tree.getChildren() as RunsNode[]).map((n) => n.runDir).join(', ')}`);
    const item = tree.getTreeItem(node);
    const status = JSON.parse(fs.readFileSync(path.join(runDir, RUN_FILES.status), 'utf8'));
    assert.strictEqual(item.label, status.name);
    assert.match(String(item.description), new RegExp(`${STEPS} steps`));
    assert.match(String(item.contextValue), /^lilyRun:completed/);
    const children = tree.getChildren(node) as RunsNode[];
    assert.ok(children.length > 0, 'a completed run shows its details (metrics, checkpoints, adapter) as children');
    const labels = children.map((c) => String(tree.getTreeItem(c).label));
    assert.ok(labels.includes('Metrics') && labels.includes('Adapter'), `children: ${labels.join(', ')}`);
  });
});
