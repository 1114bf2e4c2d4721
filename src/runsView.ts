// The Runs view (activity bar "Lily" > "Runs"): a TreeDataProvider over the RunsModel. Rows and
// their children are computed by runsModel.ts (tested without VS Code); this maps them to
// TreeItems and refreshes only the rows that changed, at a bounded rate (viewRefreshThrottle.ts).
import * as path from 'path';
import * as vscode from 'vscode';
import { ViewRefreshThrottle } from './viewRefreshThrottle';
import { rootEntries, runChildren, runItemView, sweepItemView, type ChildView, type RunsModel } from './runsModel';

export type RunsNode =
  | { kind: 'run'; runDir: string }
  | { kind: 'sweep'; sweepId: string; runDir?: undefined }
  | { kind: 'detail'; runDir: string; view: ChildView; id: string };

export class RunsTreeProvider implements vscode.TreeDataProvider<RunsNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RunsNode[] | undefined>();
  // A training run changes its row tens of times a second: fired at a bounded rate (see the file).
  private readonly refresh = new ViewRefreshThrottle<RunsNode>((nodes) => this.changed.fire(nodes));
  readonly onDidChangeTreeData = this.changed.event;
  private readonly nodes = new Map<string, RunsNode>();
  private readonly sweepNodes = new Map<string, RunsNode>();
  private readonly sub: { dispose(): void };

  constructor(private readonly model: RunsModel) {
    this.sub = model.onDidChange((which) => {
      if (which === 'all') return this.refresh.add(undefined);
      for (const runDir of which) {
        const node = this.nodes.get(runDir);
        const rec = model.get(runDir);
        // A new run changes the root's children; a known one only its own row (and its sweep's).
        this.refresh.add(node && rec ? node : undefined);
        const sweepNode = rec?.sweep ? this.sweepNodes.get(rec.sweep.sweep_id) : undefined;
        if (node && sweepNode) this.refresh.add(sweepNode);
      }
    });
  }

  getChildren(node?: RunsNode): RunsNode[] {
    const runNode = (runDir: string): RunsNode => {
      let n = this.nodes.get(runDir);
      if (!n) this.nodes.set(runDir, (n = { kind: 'run', runDir }));
      return n;
    };
    if (!node) {
      // The runs of one `lily sweep` sit under one row.
      return rootEntries(this.model.list()).map((e) => {
        if (e.kind === 'run') return runNode(e.run.runDir);
        let n = this.sweepNodes.get(e.group.id);
        if (!n) this.sweepNodes.set(e.group.id, (n = { kind: 'sweep', sweepId: e.group.id }));
        return n;
      });
    }
    if (node.kind === 'sweep') {
      const group = rootEntries(this.model.list()).find((e) => e.kind === 'sweep' && e.group.id === node.sweepId);
      return group?.kind === 'sweep' ? group.group.runs.map((r) => runNode(r.runDir)) : [];
    }
    if (node.kind === 'run') {
      const rec = this.model.get(node.runDir);
      return rec ? runChildren(rec, path.join).map((view) => ({ kind: 'detail', runDir: node.runDir, view, id: `${node.runDir}#${view.label}` })) : [];
    }
    return (node.view.children ?? []).map((view) => ({ kind: 'detail', runDir: node.runDir, view, id: `${node.id}/${view.label}` }));
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    if (node.kind === 'sweep') {
      const group = rootEntries(this.model.list()).find((e) => e.kind === 'sweep' && e.group.id === node.sweepId);
      if (group?.kind !== 'sweep') return new vscode.TreeItem(node.sweepId);
      const v = sweepItemView(group.group);
      const item = new vscode.TreeItem(v.label, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `sweep:${node.sweepId}`;
      item.description = v.description;
      item.tooltip = v.tooltip;
      item.iconPath = new vscode.ThemeIcon(v.running ? 'sync~spin' : 'layers');
      item.contextValue = 'lilySweep';
      return item;
    }
    if (node.kind === 'run') {
      const rec = this.model.get(node.runDir);
      if (!rec) return new vscode.TreeItem(path.basename(node.runDir));
      const v = runItemView(rec);
      const item = new vscode.TreeItem(v.label, vscode.TreeItemCollapsibleState.Collapsed);
      item.id = node.runDir;
      item.description = v.description;
      item.tooltip = v.tooltip;
      item.iconPath = new vscode.ThemeIcon(v.icon.id, v.icon.color ? new vscode.ThemeColor(v.icon.color) : undefined);
      item.contextValue = v.contextValue;
      item.resourceUri = vscode.Uri.file(node.runDir);
      item.command = { command: 'lily.openDashboard', title: 'Open Dashboard', arguments: [node.runDir] };
      return item;
    }
    const v = node.view;
    const item = new vscode.TreeItem(v.label, v.children?.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    item.id = node.id;
    item.description = v.description;
    item.tooltip = v.tooltip ?? (v.description ? `${v.label}: ${v.description}` : v.label);
    if (v.icon) item.iconPath = new vscode.ThemeIcon(v.icon);
    if (v.contextValue) item.contextValue = v.contextValue;
    if (v.path) {
      item.resourceUri = vscode.Uri.file(v.path);
      // Files open in an editor; folders (checkpoints) are revealed from their context menu.
      if (v.contextValue === 'lilyFile') item.command = { command: 'vscode.open', title: 'Open', arguments: [vscode.Uri.file(v.path)] };
    }
    return item;
  }

  dispose(): void {
    this.sub.dispose();
    this.refresh.dispose();
    this.changed.dispose();
  }
}

/** The run directory a command argument names: a tree node, a string, or a Uri. */
export function runDirOfArg(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (arg instanceof vscode.Uri) return arg.fsPath;
  if (arg && typeof arg === 'object' && 'runDir' in arg && typeof (arg as { runDir: unknown }).runDir === 'string') return (arg as { runDir: string }).runDir;
  return undefined;
}

/** The file or folder a Reveal command names: a detail row's path (checkpoint, adapter), else the run. */
export function revealPathOfArg(arg: unknown): string | undefined {
  if (arg && typeof arg === 'object' && (arg as RunsNode).kind === 'detail') {
    const node = arg as Extract<RunsNode, { kind: 'detail' }>;
    return node.view.path ?? node.runDir;
  }
  return runDirOfArg(arg);
}
