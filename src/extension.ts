// Entry point: only wiring. Each concern lives in its own file (see ARCHITECTURE.md).
import * as fs from 'fs';
import * as vscode from 'vscode';
import { Backend } from './backend';
import { AdapterCodeLens } from './codeLens';
import { registerCommands } from './commands';
import { ConfigDiagnostics } from './configDiagnostics';
import { ConfigPresence } from './configPresence';
import { trackContextKeys } from './contextKeys';
import { DashboardPanel } from './dashboardPanel';
import { RunManager } from './runManager';
import { RunsModel } from './runsModel';
import { RunsTreeProvider } from './runsView';
import { OUTSIDE_RUNS_KEY, RunWatcher } from './runWatcher';
import { runsDirectoryPath } from './settings';
import { LilyStatusBar } from './statusBar';
import { LilyTaskProvider, TASK_TYPE } from './taskProvider';

/** What activate() returns: handles for tests running inside a real VS Code. */
export interface LilyExtensionApi {
  model: RunsModel;
  backend: Backend;
  runs: RunManager;
  diagnostics: ConfigDiagnostics;
  /** The tree data provider registered for the Runs view (`lily.runs`). */
  tree: RunsTreeProvider;
  /** Whether the workspace has a *.lily.json (the `lily.hasConfig` context key of the welcome view). */
  configs: ConfigPresence;
}

let backend: Backend | undefined;

export function activate(context: vscode.ExtensionContext): LilyExtensionApi {
  const output = vscode.window.createOutputChannel('Lily');
  backend = new Backend(context, output);
  const model = new RunsModel();

  let watcher: RunWatcher | undefined;
  const watchRuns = () => {
    void watcher?.close();
    const dir = runsDirectoryPath();
    // Runs started from here into a config's own output.dir are not under `dir`: follow them too.
    const outsideRuns = context.workspaceState.get<string[]>(OUTSIDE_RUNS_KEY, []).filter((d) => fs.existsSync(d));
    watcher = dir ? new RunWatcher(dir, model, { outsideRuns }) : undefined;
  };
  watchRuns();

  const runs = new RunManager(backend, model, () => watcher, output, context.workspaceState);
  const tree = new RunsTreeProvider(model);
  const diagnostics = new ConfigDiagnostics(backend);
  const codeLens = new AdapterCodeLens(backend);
  const configs = new ConfigPresence();
  DashboardPanel.configure({ model, output });

  context.subscriptions.push(
    output, runs, tree, diagnostics, codeLens, configs,
    // canSelectMany: several runs (Ctrl/Shift-click) go to "Compare Runs" together.
    vscode.window.createTreeView('lily.runs', { treeDataProvider: tree, showCollapseAll: true, canSelectMany: true }),
    new LilyStatusBar(model, backend.onState.event, backend.onGaveUp.event),
    trackContextKeys(model),
    vscode.languages.registerCodeLensProvider({ pattern: '**/*.lily.json' }, codeLens),
    vscode.tasks.registerTaskProvider(TASK_TYPE, new LilyTaskProvider(context)),
    DashboardPanel.registerSerializer(context),
    ...registerCommands({ context, backend, runs, model, watcher: () => watcher, output }),
    vscode.workspace.onDidChangeConfiguration((e) => { if (e.affectsConfiguration('lily.runsDirectory')) watchRuns(); }),
    vscode.workspace.onDidChangeWorkspaceFolders(() => watchRuns()),
    { dispose: () => void watcher?.close() },
  );
  return { model, backend, runs, diagnostics, configs, tree };
}

/**
 * Awaited by VS Code: shuts the backend server down. Training runs go on in their own detached
 * processes (a window reload must not stop them); the next window finds them in the runs
 * directory and can stop them by pid.
 */
export async function deactivate(): Promise<void> {
  await backend?.dispose();
  backend = undefined;
}
