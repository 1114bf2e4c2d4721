// "Lily: Train on PyTorch..." in the real extension host: a torch-backend run (PyTorch + PEFT
// through native-runtime/torch/, the project venv's Python chosen through lily.pythonPath), its
// launch picked in the command's quick pick, starts through the real backend server, completes,
// and the Runs view lists it like an engine run; when it completes the run also holds the
// router statistics and spectra the dashboard's router and rank tabs draw.
// The model is test/torch's tiny BERT classifier, written into the workspace as a Hugging Face folder.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { RUN_FILES } from '../../../native-runtime/runFiles';
import type { RunsNode } from '../../../src/runsView';
import { acceptingPicks, lilyApi, REPO_ROOT, runCommand, waitFor, waitForState, workspaceRoot } from './helpers';

const PYTHON = path.join(REPO_ROOT, '.venv', 'bin', 'python');
const STEPS = 4;

describe('Lily: Train on PyTorch...', () => {
  it(`trains a Hugging Face model on the torch backend for ${STEPS} steps and the Runs view shows it completed`, async function () {
    this.timeout(420_000);
    if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: scripts/setup-python.sh makes the project venv (npm test runs it)`);
    const api = await lilyApi();
    const dir = path.join(workspaceRoot(), 'torch-model');
    const made = spawnSync(PYTHON, [path.join(REPO_ROOT, 'test', 'torch', 'make_fixture.py'), dir, path.join(REPO_ROOT, 'examples', 'sentiment', 'tokenizer.json')], {
      encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONWARNINGS: 'ignore' },
    });
    assert.strictEqual(made.status, 0, `make_fixture.py failed: ${made.stderr}`);
    const head = (f: string, n: number) => fs.readFileSync(path.join(REPO_ROOT, 'examples', 'sentiment', f), 'utf8').split('\n').slice(0, n).join('\n') + '\n';
    fs.writeFileSync(path.join(dir, 'train.jsonl'), head('train.jsonl', 64));
    fs.writeFileSync(path.join(dir, 'eval.jsonl'), head('eval.jsonl', 16));
    const config = path.join(dir, 'torch.lily.json');
    fs.writeFileSync(config, JSON.stringify({
      name: 'torch e2e',
      model: { path: 'hf', task: 'sequence-classification', labels: ['negative', 'positive'] },
      data: { train: 'train.jsonl', eval: 'eval.jsonl', max_length: 16 },
      adapter: { method: 'lily', target_modules: ['query', 'value'], r: 4, stride_A: 2, num_B: 2, modules_to_save: ['classifier'] },
      training: { batch_size: 16, lr: 0.01, log_every: 1, seed: 3 },
      runtime: { device: 'cpu', threads: 1 },
    }, null, 2));
    await vscode.workspace.getConfiguration('lily').update('pythonPath', PYTHON, vscode.ConfigurationTarget.Workspace);

    // No launch in the arguments: the command asks with its quick pick (local processes / the
    // launch template), answered in the workbench with Enter: the first item, "1 local process".
    const r = await acceptingPicks(runCommand<{ runDir: string; pid: number }>('lily.trainTorch', vscode.Uri.file(config), { maxSteps: STEPS }));
    const status = await waitForState(r.runDir, ['completed'], 360_000);
    assert.strictEqual(status.step, STEPS);
    assert.match(String(status.device_note), /torch backend, 1 process/);
    const peft = JSON.parse(fs.readFileSync(path.join(r.runDir, RUN_FILES.adapter, 'adapter_config.json'), 'utf8'));
    assert.strictEqual(peft.peft_type, 'LILY');
    // Written after the trainer ends (the ONNX export of the folder, then the engine's inspection).
    await waitFor('router_stats.json and spectrum.json of the torch run', () => (fs.existsSync(path.join(r.runDir, RUN_FILES.routerStats)) && fs.existsSync(path.join(r.runDir, RUN_FILES.spectrum))) || undefined, 180_000);

    await waitFor('the extension to see the torch run as completed', () => api.model.get(r.runDir)?.status.state === 'completed' || undefined, 30_000);
    await vscode.commands.executeCommand('lily.runs.focus');
    const node = (api.tree.getChildren() as RunsNode[]).find((n) => n.runDir === r.runDir);
    assert.ok(node, `the Runs tree does not list ${r.runDir}`);
    const item = api.tree.getTreeItem(node);
    assert.strictEqual(item.label, 'torch e2e');
    assert.match(String(item.contextValue), /^lilyRun:completed/);
  });
});
