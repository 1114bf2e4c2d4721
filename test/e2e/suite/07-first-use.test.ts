// What a new user hits first (issue #14), in the real VS Code: the example copied to a new
// folder keeps its schema (completion and checks through `jsonValidation`, no `$schema` path to
// break), is edited, trains and opens in the dashboard; a start that fails says why on the
// notification's line; a run started in a terminal that writes fast stays live in the Runs
// view; "Reveal" works where the OS file manager does not exist (this is a remote/web window).
import * as assert from 'assert';
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { RunsNode } from '../../../src/runsView';
import { REPO_ROOT, lilyApi, readStatus, runCommand, sentimentExample, waitFor, waitForState, workspaceRoot } from './helpers';

/** Diagnostics of a document from VS Code's JSON language features (not Lily's own). */
function jsonDiagnostics(uri: vscode.Uri): vscode.Diagnostic[] {
  return vscode.languages.getDiagnostics(uri).filter((d) => d.source !== 'lily');
}

/** Replaces the first match of `pattern` in the open document (as typing would), without saving. */
async function editText(doc: vscode.TextDocument, pattern: RegExp, replacement: string): Promise<void> {
  const text = doc.getText();
  const m = pattern.exec(text);
  assert.ok(m, `${pattern} not found in ${doc.uri.fsPath}`);
  const edit = new vscode.WorkspaceEdit();
  edit.replace(doc.uri, new vscode.Range(doc.positionAt(m.index), doc.positionAt(m.index + m[0].length)), replacement);
  assert.ok(await vscode.workspace.applyEdit(edit), 'the edit was not applied');
}

describe('first use: the copied example, failed starts, live runs, reveal', () => {
  let copiedRun = '';

  it('copy the example to a new folder → schema checks there → edit → train → dashboard', async function () {
    this.timeout(300_000);
    const api = await lilyApi();
    const example = sentimentExample();
    // Deeper than the repository's examples/sentiment/: a relative $schema would now miss.
    const dir = path.join(workspaceRoot(), 'my-projects', 'copied-demo');
    fs.mkdirSync(dir, { recursive: true });
    for (const f of ['model.onnx', 'tokenizer.json', 'train.jsonl', 'eval.jsonl', 'sentiment.lily.json']) fs.copyFileSync(path.join(example.dir, f), path.join(dir, f));
    const config = path.join(dir, 'sentiment.lily.json');
    const doc = await vscode.workspace.openTextDocument(config);
    await vscode.window.showTextDocument(doc);
    assert.strictEqual(doc.languageId, 'json', 'a *.lily.json opens as JSON');

    // The schema applies (by file name, from the installed extension): completion offers the
    // adapter's fields from the schema, and a wrong type is flagged by VS Code's JSON validation as you type.
    const adapterAt = doc.getText().indexOf('"adapter": {') + '"adapter": {'.length;
    const completions = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', doc.uri, doc.positionAt(adapterAt));
    const labels = completions.items.map((i) => (typeof i.label === 'string' ? i.label : i.label.label).replace(/"/g, ''));
    // (the fields the example does not set yet: completion leaves out those present)
    assert.ok(labels.includes('exclude_modules') && labels.includes('layers_to_transform'), `schema completion inside "adapter" offers: ${labels.join(', ')}`);
    await editText(doc, /"r": \d+/, '"r": "eight"');
    const typeError = await waitFor('VS Code\'s JSON validation to flag "r": "eight" from the schema', () =>
      jsonDiagnostics(doc.uri).find((d) => /integer|type/i.test(d.message)));
    assert.ok(typeError.range.start.line === doc.positionAt(doc.getText().indexOf('"eight"')).line, `the schema error is on the "r" line: ${typeError.message}`);
    const schemaTrouble = jsonDiagnostics(doc.uri).filter((d) => /schema/i.test(d.message));
    assert.deepStrictEqual(schemaTrouble.map((d) => d.message), [], 'the schema must load wherever the config is');

    // The user fixes it with a value of their own, and saves.
    await editText(doc, /"r": "eight"/, '"r": 8');
    assert.ok(await doc.save(), 'saving the edited config failed');
    await waitFor('the schema error to go after the fix', () => (jsonDiagnostics(doc.uri).length === 0 ? true : undefined));
    const lily = await api.diagnostics.validate(doc);
    assert.deepStrictEqual((lily ?? []).filter((d) => d.severity === vscode.DiagnosticSeverity.Error).map((d) => d.message), []);

    const r = await runCommand<{ runDir: string }>('lily.train', vscode.Uri.file(config), { maxSteps: 4 });
    copiedRun = r.runDir;
    await waitForState(r.runDir, ['completed'], 240_000);
    const resolved = JSON.parse(fs.readFileSync(path.join(r.runDir, 'config.json'), 'utf8'));
    assert.strictEqual(resolved.adapter.r, 8, 'the run trained the edited config');

    const shown = await runCommand<{ runDir: string }>('lily.openDashboard', r.runDir);
    assert.strictEqual(shown.runDir, r.runDir);
    await waitFor('the dashboard tab to open', () => vscode.window.tabGroups.all.flatMap((g) => g.tabs)
      .find((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('lily.dashboard')));
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('a start that fails says why on the first line (the notification), not "exit code 2:"', async function () {
    this.timeout(120_000);
    const example = sentimentExample();
    // A model and data without a tokenizer: the trainer refuses at its first record.
    const dir = path.join(workspaceRoot(), 'no-tokenizer');
    fs.mkdirSync(dir, { recursive: true });
    for (const f of ['model.onnx', 'train.jsonl']) fs.copyFileSync(path.join(example.dir, f), path.join(dir, f));
    const config = path.join(dir, 'plain.lily.json');
    fs.writeFileSync(config, JSON.stringify({
      model: { path: 'model.onnx', task: 'sequence-classification', num_labels: 2 },
      data: { train: 'train.jsonl' },
      adapter: { method: 'lily', target_modules: ['value'], r: 4 },
      training: { max_steps: 2 },
    }, null, 2));
    const api = await lilyApi();
    await waitFor('no run to be training (lily.maxConcurrentRuns is 1)', () => (api.model.running().length === 0 ? true : undefined), 120_000);
    const r = await vscode.commands.executeCommand<{ ok: boolean; reason?: string }>('lily.train', vscode.Uri.file(config));
    assert.strictEqual(r?.ok, false, 'training a config without a tokenizer must fail to start');
    const firstLine = (r.reason ?? '').split('\n')[0];
    assert.match(firstLine, /plain\.lily\.json \(exit code 2\): .*train\.jsonl:1: .*no input_ids and no tokenizer\.json was found/);
    assert.doesNotMatch(r.reason ?? '', /\n\s+at /, 'no stack trace for invalid input');
  });

  it('a fast run started in a terminal shows live progress in the Runs view', async function () {
    this.timeout(300_000);
    const api = await lilyApi();
    const example = sentimentExample();
    // Many fast steps (batch 4, 16 tokens, status written every step): at this rate a refresh
    // delay restarted by each file event never fired until the run ended.
    const base = JSON.parse(fs.readFileSync(example.config, 'utf8'));
    base.training = { ...base.training, batch_size: 4, max_steps: 600, log_every: 1, eval_every: 10_000, warmup_steps: 0 };
    base.data = { ...base.data, max_length: 16 };
    base.name = 'terminal-fast';
    const config = path.join(example.dir, 'terminal-fast.json');
    fs.writeFileSync(config, JSON.stringify(base, null, 2));
    let child: ChildProcess | undefined;
    try {
      child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'lily.js'), 'train', config, '--threads', '1', '--device', 'cpu'], { cwd: workspaceRoot(), stdio: 'ignore' });
      const runsDir = path.join(workspaceRoot(), '.lily', 'runs');
      const runDir = await waitFor('the terminal run to create its run directory', () => fs.readdirSync(runsDir).map((d) => path.join(runsDir, d))
        .find((d) => readStatus(d)?.name === 'terminal-fast'), 60_000, 100);
      const seen = new Set<number>();
      await waitFor('the Runs view to show two different steps while the run trains', () => {
        const onDisk = readStatus(runDir);
        if (onDisk?.state !== 'running') throw new Error(`the run ended (${onDisk?.state}) before the view showed live progress; steps shown: ${[...seen].join(', ') || 'none'}`);
        const rec = api.model.get(runDir);
        const step = rec?.status.step ?? 0;
        if (rec && rec.status.state === 'running' && step > 0 && step < 600) seen.add(step);
        return seen.size >= 2 ? true : undefined;
      }, 120_000, 100);
      await waitForState(runDir, ['completed'], 240_000);
      await waitFor('the view to show the run completed', () => (api.model.get(runDir)?.status.state === 'completed' ? true : undefined), 15_000);
    } finally {
      if (child && child.exitCode === null) child.kill('SIGTERM');
    }
  });

  it('"Reveal in File Manager" works without an OS file manager (remote/web): it reveals in the Explorer', async () => {
    assert.ok(copiedRun, 'no run from the first test');
    const commands = await vscode.commands.getCommands(true);
    const r = await runCommand<{ path: string; via: string }>('lily.revealRun', copiedRun);
    assert.strictEqual(r.path, copiedRun);
    assert.strictEqual(r.via, commands.includes('revealFileInOS') && vscode.env.remoteName === undefined && vscode.env.uiKind === vscode.UIKind.Desktop ? 'os' : 'explorer');
  });

  it('a lily task whose config has errors ends with the CLI\'s exit code 2 (not "failed to launch")', async function () {
    this.timeout(120_000);
    const dir = path.join(workspaceRoot(), 'no-tokenizer');
    const bad = path.join(dir, 'bad-task.lily.json');
    fs.writeFileSync(bad, JSON.stringify({ model: { path: 'model.onnx', task: 'sequence-classification' }, data: { train: 'train.jsonl' }, adapter: { method: 'lily', target_modules: ['value'], r: 0 } }));
    const tasks = await vscode.tasks.fetchTasks({ type: 'lily' });
    const task = tasks.find((t) => String(t.definition.config).endsWith('bad-task.lily.json'));
    assert.ok(task, `no lily task for bad-task.lily.json; tasks: ${tasks.map((t) => t.definition.config).join(', ')}`);
    const started = Date.now();
    const ended = new Promise<number | undefined>((resolve) => {
      const sub = vscode.tasks.onDidEndTaskProcess((e) => {
        if (e.execution.task.definition.config === task.definition.config) { sub.dispose(); resolve(e.exitCode); }
      });
    });
    await vscode.tasks.executeTask(task);
    const code = await Promise.race([ended, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 60_000))]);
    assert.strictEqual(code, 2, 'the task ends with the CLI\'s exit code');
    // VS Code calls a terminal that ends within 500 ms of launch "failed to launch".
    assert.ok(Date.now() - started >= 500, 'the task must not end inside the launch window');
    fs.rmSync(bad);
  });

  it('"Lily: Export Adapter" writes to the destination given', async function () {
    this.timeout(120_000);
    assert.ok(copiedRun, 'no run from the first test');
    const dest = path.join(workspaceRoot(), 'exported-adapter');
    const r = await runCommand<{ files: string[] }>('lily.export', copiedRun, 'peft', dest);
    assert.ok(r.files.length > 0 && r.files.every((f) => f.startsWith(dest + path.sep)), `files: ${r.files.join(', ')}`);
    assert.ok(fs.existsSync(path.join(dest, 'adapter_config.json')));
  });

  it('"Lily: Sweep..." trains the points of the grid 2 at a time, each a run, grouped under one row in the Runs view', async function () {
    this.timeout(300_000);
    const api = await lilyApi();
    const example = sentimentExample();
    await waitFor('no run to be training', () => (api.model.running().length === 0 ? true : undefined), 120_000);
    const r = await runCommand<{ args: string[] }>('lily.sweep', vscode.Uri.file(example.config), { grid: 'training.lr=0.001,0.01', maxSteps: 2, parallel: 2 });
    assert.ok(r.args.join(' ').includes('--parallel 2'), r.args.join(' '));
    const group = await waitFor('a sweep row with both runs completed', () => {
      const roots = api.tree.getChildren() as RunsNode[];
      const sweep = roots.find((n) => n.kind === 'sweep');
      if (!sweep) return undefined;
      const runs = api.tree.getChildren(sweep) as RunsNode[];
      const done = runs.filter((n) => n.runDir && api.model.get(n.runDir)?.status.state === 'completed');
      return runs.length === 2 && done.length === 2 ? { sweep, runs } : undefined;
    }, 240_000, 500);
    const item = api.tree.getTreeItem(group.sweep);
    assert.match(String(item.label), /^Sweep: /);
    assert.match(String(item.description), /^2\/2 done · best accuracy /);
    const lrs = group.runs.map((n) => JSON.parse(fs.readFileSync(path.join(n.runDir!, 'config.json'), 'utf8')).training.lr);
    assert.deepStrictEqual(lrs, [0.001, 0.01], 'grid order, each run with its own learning rate');
    const members = group.runs.map((n) => JSON.parse(fs.readFileSync(path.join(n.runDir!, 'sweep.json'), 'utf8')));
    // The workspace sets lily.threads 1: two runs at once still get one thread each (at least 1).
    assert.deepStrictEqual(members.map((m) => [m.parallel, m.threads]), [[2, 1], [2, 1]]);
    const pids = group.runs.map((n) => api.model.get(n.runDir!)!.status.pid);
    assert.notStrictEqual(pids[0], pids[1], 'each point trained in its own process');
  });

  it('"Lily: Compare Runs" on a sweep row and a run (a Runs view selection) shows those 3 runs in the dashboard', async function () {
    this.timeout(60_000);
    assert.ok(copiedRun, 'no run from the first test');
    const api = await lilyApi();
    const sweep = (api.tree.getChildren() as RunsNode[]).find((n) => n.kind === 'sweep');
    assert.ok(sweep, 'no sweep row from the sweep test');
    const sweepRuns = (api.tree.getChildren(sweep) as RunsNode[]).map((n) => n.runDir!);
    // A context-menu command on a multi-selection gets the clicked row, then every selected row.
    const runRow = (api.tree.getChildren() as RunsNode[]).find((n) => n.kind === 'run' && n.runDir === copiedRun) ?? { kind: 'run', runDir: copiedRun };
    const r = await runCommand<{ runDirs: string[] }>('lily.compareRuns', sweep, [sweep, runRow]);
    assert.deepStrictEqual(r.runDirs, [...sweepRuns, copiedRun], 'the sweep\'s runs in grid order, then the run');
    // The panel the extension opened (same module instance as the extension's).
    const { DashboardPanel } = await import('../../../src/dashboardPanel');
    const panel = await waitFor('the dashboard panel', () => DashboardPanel.currentPanel);
    assert.deepStrictEqual(panel.comparedRuns, r.runDirs);
    // One run alone is not a comparison: without a pick (none can be made here) the command refuses.
    const one = await vscode.commands.executeCommand<{ ok: boolean; reason?: string }>('lily.compareRuns', ['/nonexistent/run-a', '/nonexistent/run-b']);
    assert.strictEqual(one?.ok, false);
    assert.match(one?.reason ?? '', /not a Lily run directory/);
  });

  it('Stop on a sweep row stops the whole sweep: the training points checkpoint, the rest never start', async function () {
    this.timeout(300_000);
    const api = await lilyApi();
    const example = sentimentExample();
    await waitFor('no run to be training', () => (api.model.running().length === 0 ? true : undefined), 120_000);
    const before = new Set(api.model.list().map((r) => r.runDir));
    await runCommand('lily.sweep', vscode.Uri.file(example.config), { grid: 'training.lr=0.001,0.002,0.003', maxSteps: 100_000, parallel: 2 });
    const fresh = () => api.model.list().filter((r) => !before.has(r.runDir) && r.sweep);
    await waitFor('two points training past step 1', () => (fresh().filter((r) => r.status.state === 'running' && r.status.step >= 1).length === 2 ? true : undefined), 240_000, 250);
    const sweepId = fresh()[0].sweep!.sweep_id;
    const node = (api.tree.getChildren() as RunsNode[]).find((n) => n.kind === 'sweep' && n.sweepId === sweepId);
    assert.ok(node, 'the sweep has a row');
    await runCommand('lily.stop', node);
    await waitFor('both points stopped', () => {
      const runs = fresh().map((r) => readStatus(r.runDir));
      return runs.length === 2 && runs.every((st) => st?.state === 'stopped') ? true : undefined;
    }, 120_000, 500);
    const sweepPid = fresh()[0].sweep!.sweep_pid!;
    const alive = () => { try { process.kill(sweepPid, 0); return true; } catch { return false; } };
    await waitFor('the sweep process to end', () => (alive() ? undefined : true), 60_000, 250);
    assert.strictEqual(fresh().length, 2, 'the third point never started');
    assert.ok(fresh().every((r) => readStatus(r.runDir)?.last_checkpoint), 'each stopped point has a checkpoint to resume from');
  });
});
