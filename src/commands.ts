// Every command of the extension, in one table registered in one loop. Each returns what it
// did (a CommandResult), so tests in a real VS Code can run them through executeCommand and
// check; refusals and failures are also shown to the user here, once, in the same words.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { Methods, type ExportParams, type ExportResult, type InspectResult } from '../native-runtime/protocol';
import { RUN_FILES, type LayerSpectrum } from '../native-runtime/runFiles';
import type { Backend } from './backend';
import { DashboardPanel } from './dashboardPanel';
import { compareRunDirs, comparePickItems } from './compareArgsModel';
import { importHfModel, type ImportOptions } from './importModel';
import { estimateMemory } from './memoryEstimate';
import { newAdapterConfig, type NewConfigOptions } from './newConfig';
import { refuse, type CommandResult } from './results';
import { revealPath } from './reveal';
import type { RunManager } from './runManager';
import { effectiveState, isResumable, rootEntries, runItemView, sweepStopPlan, type RunRecord, type RunsModel } from './runsModel';
import { revealPathOfArg, runDirOfArg, type RunsNode } from './runsView';
import { isProcessAlive } from '../native-runtime/io/runDir';
import type { RunWatcher } from './runWatcher';
import { resolvePython } from './pythonInterpreter';
import { readSettings, workspaceRoot } from './settings';
import { gridProblem, gridSize, parallelChoices, sweepCliArgs } from './sweepChoices';
import { torchLaunchChoices, type TorchLaunch } from './torchLaunch';
import { LilyTaskProvider } from './taskProvider';
import { trustRefusal } from './trustGate';

export interface Services {
  context: vscode.ExtensionContext;
  backend: Backend;
  runs: RunManager;
  model: RunsModel;
  watcher(): RunWatcher | undefined;
  output: vscode.OutputChannel;
}

type Command = (s: Services, ...args: any[]) => Promise<CommandResult>;

const EXPORT_FORMATS: Array<{ label: ExportParams['format']; detail: string }> = [
  { label: 'peft', detail: 'adapter_config.json + adapter_model.safetensors, loadable by PEFT (>= 0.19)' },
  { label: 'adapted-onnx', detail: 'The model with the adapter inside (router kept: exact, a little slower)' },
  { label: 'merged-onnx', detail: 'ΔW folded into the weights with the router frozen to its mean on the eval set (zero overhead; the eval difference is reported)' },
];

/** The table. Ids match package.json `contributes.commands`. */
export const COMMANDS: Record<string, Command> = {
  'lily.newConfig': (s, uri?: vscode.Uri, opts?: NewConfigOptions) => newAdapterConfig(s.context, s.backend, uri, opts),

  'lily.estimateMemory': async (s, arg?: unknown) => {
    const config = await pickConfig(arg);
    if (!config.ok) return config;
    return estimateMemory(s.backend, config.configPath, s.output);
  },

  'lily.importModel': (s, source?: unknown, opts?: ImportOptions) => importHfModel(s.context, s.backend, s.output, source, opts),

  'lily.train': async (s, arg?: unknown, opts?: { maxSteps?: number }) => {
    const config = await pickConfig(arg);
    return config.ok ? s.runs.start(config.configPath, { maxSteps: opts?.maxSteps }) : config;
  },

  'lily.trainTorch': async (s, arg?: unknown, opts?: { maxSteps?: number; processes?: number; launch?: string }) => {
    const config = await pickConfig(arg);
    if (!config.ok) return config;
    const how = opts?.processes !== undefined || opts?.launch ? { processes: opts.processes, launch: opts.launch } : await pickTorchLaunch(config.configPath);
    if (!how) return refuse('cancelled: no launch picked');
    // Without lily.pythonPath or the Python extension, lily picks: $LILY_PYTHON, the workspace's .venv, python3.
    const { python, source } = await resolvePython(vscode.Uri.file(config.configPath));
    s.output.appendLine(`[lily] torch backend with ${source === 'default' ? 'the workspace .venv or python3' : `${python} (from ${source})`}`);
    return s.runs.start(config.configPath, { maxSteps: opts?.maxSteps, torch: { ...(source !== 'default' ? { python } : {}), ...how } });
  },

  'lily.compareLora': async (s, arg?: unknown, opts?: { maxSteps?: number }) => {
    const config = await pickConfig(arg);
    return config.ok ? s.runs.start(config.configPath, { compareWithLora: true, maxSteps: opts?.maxSteps }) : config;
  },

  'lily.sweep': async (s, arg?: unknown, opts?: { grid?: string; maxSteps?: number; parallel?: number }) => {
    const config = await pickConfig(arg);
    if (!config.ok) return config;
    const root = workspaceRoot();
    if (!root) return refuse('open the folder that holds the config first: the sweep writes its runs under the workspace folder');
    let grid = opts?.grid;
    if (grid === undefined) {
      grid = await vscode.window.showInputBox({
        title: `Sweep ${path.basename(config.configPath)}: the grid`,
        prompt: 'FIELD=V1,V2,... separated by spaces; every combination trains as its own run',
        value: 'training.lr=1e-3,3e-3,1e-2 adapter.scaling=1,2',
        validateInput: gridProblem,
      });
      if (!grid) return refuse('cancelled: no grid given');
    }
    const settings = readSettings();
    // The CLI splits these threads between the runs that train at once.
    const threads = settings.threads ?? os.availableParallelism();
    let parallel = opts?.parallel;
    if (parallel === undefined && opts?.grid === undefined) {
      const choices = parallelChoices(gridSize(grid), threads);
      const pick = choices.length === 1 ? choices[0] : await vscode.window.showQuickPick(choices, {
        title: `Sweep ${path.basename(config.configPath)}: how many runs at a time?`,
        placeHolder: 'Runs at once share the threads (lily.threads, else every core)',
      });
      if (!pick) return refuse('cancelled: no choice of runs at a time');
      parallel = pick.parallel;
    }
    const args = sweepCliArgs(config.configPath, grid, {
      parallel, maxSteps: opts?.maxSteps,
      ...(settings.threads !== undefined ? { threads: settings.threads } : {}),
      ...(settings.device !== 'auto' ? { device: settings.device } : {}),
    });
    const task = new LilyTaskProvider(s.context).cliTask(`sweep ${path.basename(config.configPath).replace(/\.lily\.json$/i, '')}`, args, root);
    await vscode.tasks.executeTask(task);
    // The runs appear in the Runs view (grouped under the sweep) as the watcher finds them.
    return { ok: true, configPath: config.configPath, args };
  },

  'lily.stop': async (s, arg?: unknown) => {
    if (arg && typeof arg === 'object' && (arg as RunsNode).kind === 'sweep') return stopSweep(s, (arg as Extract<RunsNode, { kind: 'sweep' }>).sweepId);
    const run = await pickRun(s, arg, (r) => effectiveState(r) === 'running', 'Stop which run?', 'no run is training');
    return run.ok ? s.runs.stop(run.runDir) : run;
  },

  'lily.resume': async (s, arg?: unknown) => {
    const run = await pickRun(s, arg, isResumable, 'Resume which run?', 'no stopped or failed run has a checkpoint to resume from');
    return run.ok ? s.runs.resume(run.runDir) : run;
  },

  'lily.openDashboard': async (s, arg?: unknown) => {
    const run = await pickRun(s, arg, () => true, 'Open the dashboard of which run?', 'there are no runs yet: train a config first');
    if (!run.ok) return run;
    DashboardPanel.createOrShow(s.context, run.runDir);
    return { ok: true, runDir: run.runDir };
  },

  // From the Runs view (a multi-selection, or a sweep row), with run directories, or from the palette (a multi-select pick).
  'lily.compareRuns': async (s, arg?: unknown, selected?: unknown, opts?: { preselect?: string[] }) => {
    let runDirs = compareRunDirs(s.model.list(), arg, selected).map((d) => path.resolve(workspaceRoot() ?? '', d));
    if (runDirs.length < 2) {
      const all = s.model.list();
      if (all.length < 2) return refuse('comparing needs at least two runs: train another config (or run a sweep) first');
      const picks = await vscode.window.showQuickPick(comparePickItems(all, opts?.preselect ?? runDirs), {
        canPickMany: true,
        title: 'Compare which runs?',
        placeHolder: 'Tick two or more runs: their curves are overlaid and their configs tabulated in the dashboard',
        matchOnDescription: true,
      });
      if (!picks) return refuse('cancelled: no runs picked');
      runDirs = picks.map((p) => p.runDir);
    }
    if (runDirs.length < 2) return refuse('pick at least two runs to compare');
    const notRuns = runDirs.filter((d) => !s.model.get(d) && !fs.existsSync(path.join(d, RUN_FILES.status)));
    if (notRuns.length) return refuse(`not a Lily run directory (no ${RUN_FILES.status}): ${notRuns.join(', ')}`);
    // An open dashboard keeps its run; the comparison opens in its Compare runs tab.
    const panel = DashboardPanel.createOrShow(s.context, DashboardPanel.currentPanel?.runDir ?? runDirs[0]);
    panel.compareRuns(runDirs);
    return { ok: true, runDirs };
  },

  'lily.inspect': async (s, arg?: unknown) => {
    const run = await pickRun(s, arg, (r) => r.adapterFiles.length > 0 || r.checkpoints.length > 0, 'Inspect which run?', 'no run has an adapter or checkpoint yet');
    if (!run.ok) return run;
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Inspecting ${path.basename(run.runDir)} (router statistics and ranks)`, cancellable: false },
      () => s.backend.request<InspectResult>(Methods.inspect, { path: run.runDir }),
    );
    const lines = result.spectrum.targets.map((t) => {
      // SpectrumReport's target type intersects TargetInfo.layers with LayerSpectrum[]: read the spectra.
      const layers: LayerSpectrum[] = t.layers;
      const mean = layers.reduce((a, l) => a + l.effective_rank, 0) / Math.max(1, layers.length);
      return `${t.target}: ${t.layers.length} layers, mean effective rank ${mean.toFixed(1)} of r=${t.r} (LoRA at this budget: r=${t.lora_rank_at_budget})`;
    });
    s.output.appendLine(`[inspect] ${run.runDir}\n  ${lines.join('\n  ')}`);
    void vscode.window.showInformationMessage(`Lily: ${lines[0] ?? 'no adapted targets'}${lines.length > 1 ? ` (+${lines.length - 1} more in the log)` : ''}`, 'Open Dashboard').then((c) => {
      if (c) DashboardPanel.createOrShow(s.context, run.runDir);
    });
    return { ok: true, runDir: run.runDir, result };
  },

  'lily.export': async (s, arg?: unknown, formatArg?: unknown, outArg?: unknown) => {
    // From the Runs view (canSelectMany) the second argument is the selected rows, not a format.
    const format = typeof formatArg === 'string' ? (formatArg as ExportParams['format']) : undefined;
    const out = typeof outArg === 'string' ? outArg : undefined;
    const run = await pickRun(s, arg, (r) => r.adapterFiles.length > 0 || r.checkpoints.length > 0, 'Export which run?', 'no run has an adapter or checkpoint yet');
    if (!run.ok) return run;
    let fmt = format;
    if (!fmt) {
      const pick = await vscode.window.showQuickPick(EXPORT_FORMATS, { title: 'Export as' });
      if (!pick) return refuse('cancelled: no format picked');
      fmt = pick.label;
    }
    let dest = out;
    if (!dest && !format) {
      // Asked only when the format was asked too (a caller passing a format wants the default).
      const defaultDir = path.join(run.runDir, 'export', fmt);
      const where = await vscode.window.showQuickPick([
        { label: '$(folder) Inside the run', description: vscode.workspace.asRelativePath(defaultDir), choose: false },
        { label: '$(folder-opened) Choose a folder…', description: 'e.g. beside your application, or a models folder', choose: true },
      ], { title: `Export ${fmt} to` });
      if (!where) return refuse('cancelled: no destination picked');
      if (where.choose) {
        const picked = await vscode.window.showOpenDialog({ title: `Export ${fmt} into this folder`, canSelectFolders: true, canSelectFiles: false, canSelectMany: false, openLabel: 'Export here', defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri });
        if (!picked?.[0]) return refuse('cancelled: no destination folder picked');
        dest = picked[0].fsPath;
      }
    }
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Exporting ${path.basename(run.runDir)} as ${fmt}` },
      () => s.backend.request<ExportResult>(Methods.export, { runDir: run.runDir, format: fmt, ...(dest ? { out: dest } : {}) }),
    );
    const delta = result.metricDelta ? ` (eval change from merging: ${Object.entries(result.metricDelta).map(([k, v]) => `${k} ${v >= 0 ? '+' : ''}${v.toPrecision(3)}`).join(', ')})` : '';
    s.output.appendLine(`[export] ${run.runDir} as ${fmt}:\n  ${result.files.join('\n  ')}${delta}`);
    void vscode.window.showInformationMessage(`Lily: exported ${result.files.length} file${result.files.length === 1 ? '' : 's'}${delta}`, 'Reveal').then((c) => {
      if (c && result.files[0]) void revealPath(result.files[0]);
    });
    return { ok: true, runDir: run.runDir, format: fmt, ...result };
  },

  'lily.revealRun': async (s, arg?: unknown) => {
    const run = await pickRun(s, revealPathOfArg(arg), () => true, 'Reveal which run?', 'there are no runs yet');
    if (!run.ok) return run;
    const via = await revealPath(run.runDir);
    return { ok: true, path: run.runDir, via };
  },

  'lily.deleteRun': async (s, arg?: unknown, opts?: { confirm?: boolean }) => {
    const run = await pickRun(s, arg, (r) => effectiveState(r) !== 'running', 'Delete which run?', 'no finished run to delete');
    if (!run.ok) return run;
    const rec = s.model.get(run.runDir);
    if (rec && effectiveState(rec) === 'running') return refuse(`${rec.status.name} is training; stop it first`);
    // Only ever delete a run directory, never whatever folder an argument named.
    if (!fs.existsSync(path.join(run.runDir, RUN_FILES.status))) return refuse(`${run.runDir} is not a Lily run directory (no ${RUN_FILES.status}); not deleting it`);
    if (opts?.confirm !== false) {
      const answer = await vscode.window.showWarningMessage(`Delete the run ${rec?.status.name ?? ''} at ${run.runDir}? Its checkpoints and adapter go too.`, { modal: true }, 'Delete');
      if (answer !== 'Delete') return refuse('cancelled');
    }
    const uri = vscode.Uri.file(run.runDir);
    try {
      await vscode.workspace.fs.delete(uri, { recursive: true, useTrash: true });
    } catch {
      // No trash on this system (remote, some Linux setups): delete for good, as confirmed.
      await vscode.workspace.fs.delete(uri, { recursive: true, useTrash: false });
    }
    s.model.remove(run.runDir);
    if (DashboardPanel.currentPanel?.runDir === run.runDir) DashboardPanel.currentPanel.dispose();
    return { ok: true, runDir: run.runDir };
  },

  'lily.refreshRuns': async (s) => {
    const w = s.watcher();
    if (!w) return refuse('open a folder to see its runs (the runs directory is relative to the workspace)');
    w.rescan();
    return { ok: true, runs: s.model.list().length };
  },

  'lily.restartBackend': async (s) => {
    const b = await s.backend.restart();
    return { ok: true, version: b.info.version, providers: b.info.providers };
  },

  'lily.showLog': async (s) => {
    s.output.show(true);
    return { ok: true };
  },

  'lily.openExample': async (s) => {
    const root = workspaceRoot();
    if (!root) return refuse('open a folder first: the example is copied into it, and runs are written under it');
    const src = s.context.asAbsolutePath(path.join('examples', 'sentiment'));
    if (!fs.existsSync(src)) return refuse(`the bundled example is missing from this installation (${src})`);
    const dest = path.join(root, 'lily-example');
    if (!fs.existsSync(dest)) fs.cpSync(src, dest, { recursive: true });
    const config = findConfigIn(dest);
    if (!config) return refuse(`no *.lily.json in ${dest}`);
    await vscode.window.showTextDocument(vscode.Uri.file(config));
    return { ok: true, configPath: config };
  },
};

export function registerCommands(s: Services): vscode.Disposable[] {
  return Object.entries(COMMANDS).map(([id, run]) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        const untrusted = trustRefusal(id, vscode.workspace.isTrusted);
        const result = untrusted ? refuse(untrusted) : await run(s, ...args);
        if (!result.ok && !result.reason.startsWith('cancelled')) void vscode.window.showWarningMessage(`Lily: ${result.reason}`);
        return result;
      } catch (e) {
        const reason = (e as Error).message ?? String(e);
        s.output.appendLine(`[${id}] ${reason}`);
        void vscode.window.showErrorMessage(`Lily: ${reason.split('\n')[0]}`, 'Show Log').then((c) => { if (c) s.output.show(true); });
        return refuse(reason);
      }
    }));
}

function findConfigIn(dir: string): string | undefined {
  const direct = fs.readdirSync(dir).filter((f) => f.endsWith('.lily.json')).sort();
  return direct.length ? path.join(dir, direct[0]) : undefined;
}

/** The config a command acts on: its argument, the active editor, the only one, or a pick. */
async function pickConfig(arg: unknown): Promise<CommandResult<{ configPath: string }>> {
  const fromArg = arg instanceof vscode.Uri ? arg.fsPath : typeof arg === 'string' ? arg : undefined;
  if (fromArg) return /\.lily\.json$/i.test(fromArg) ? { ok: true, configPath: path.resolve(workspaceRoot() ?? '', fromArg) } : refuse(`${fromArg} is not a *.lily.json config`);
  const active = vscode.window.activeTextEditor?.document;
  if (active && /\.lily\.json$/i.test(active.uri.fsPath)) return { ok: true, configPath: active.uri.fsPath };
  const files = await vscode.workspace.findFiles('**/*.lily.json', '**/node_modules/**', 100);
  if (files.length === 0) return refuse('no *.lily.json config in this workspace: create one with "Lily: New Adapter Config"');
  if (files.length === 1) return { ok: true, configPath: files[0].fsPath };
  const pick = await vscode.window.showQuickPick(files.map((f) => ({ label: path.basename(f.fsPath), description: vscode.workspace.asRelativePath(f), uri: f })), { title: 'Train which config?' });
  return pick ? { ok: true, configPath: pick.uri.fsPath } : refuse('cancelled: no config picked');
}

/** Local processes or the launch template from settings (lily.torch.launch). */
async function pickTorchLaunch(configPath: string): Promise<TorchLaunch | undefined> {
  const choices = torchLaunchChoices(os.cpus().length, readSettings().torchLaunch, configuredProcesses(configPath));
  const pick = await vscode.window.showQuickPick(choices.map((c) => ({ label: c.label, description: c.description, detail: c.detail, choice: c })), {
    title: `Train ${path.basename(configPath)} on PyTorch`,
    placeHolder: 'Where to run: processes on this machine, or the launch template (lily.torch.launch)',
  });
  if (pick?.choice.openSettings) {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'lily.torch.launch');
    return undefined;
  }
  return pick?.choice.launch;
}

function configuredProcesses(configPath: string): number | undefined {
  try {
    const p = (JSON.parse(fs.readFileSync(configPath, 'utf8')) as { runtime?: { processes?: unknown } }).runtime?.processes;
    return typeof p === 'number' ? p : undefined;
  } catch {
    return undefined;
  }
}

/** Stop on a sweep row: the whole sweep (the points training now checkpoint; no more start). */
async function stopSweep(s: Services, sweepId: string): Promise<CommandResult<{ stopped: string }>> {
  const entry = rootEntries(s.model.list()).find((e) => e.kind === 'sweep' && e.group.id === sweepId);
  if (entry?.kind !== 'sweep') return refuse(`sweep ${sweepId} is not in the Runs view any more`);
  const plan = sweepStopPlan(entry.group, isProcessAlive);
  if (!plan) return refuse(`no run of sweep ${entry.group.name} is training`);
  if ('pid' in plan) {
    process.kill(plan.pid, 'SIGTERM');
    return { ok: true, stopped: `sweep process ${plan.pid}` };
  }
  for (const runDir of plan.runDirs) await s.runs.stop(runDir);
  return { ok: true, stopped: plan.runDirs.join(', ') };
}

/** The run a command acts on: its argument (tree item, path), the only candidate, or a pick. */
async function pickRun(s: Services, arg: unknown, filter: (r: RunRecord) => boolean, title: string, none: string): Promise<CommandResult<{ runDir: string }>> {
  const fromArg = runDirOfArg(arg);
  if (fromArg) return { ok: true, runDir: path.resolve(workspaceRoot() ?? '', fromArg) };
  const candidates = s.model.list().filter(filter);
  if (candidates.length === 0) return refuse(none);
  if (candidates.length === 1) return { ok: true, runDir: candidates[0].runDir };
  const pick = await vscode.window.showQuickPick(
    candidates.map((r) => { const v = runItemView(r); return { label: v.label, description: v.description, detail: r.runDir, runDir: r.runDir }; }),
    { title },
  );
  return pick ? { ok: true, runDir: pick.runDir } : refuse('cancelled: no run picked');
}

