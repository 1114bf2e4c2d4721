// The dashboard webview panel (one, reused): loads the webview engineer's bundle
// (out/webview/dashboard.js + .css) under a strict CSP with a nonce, waits for the page's
// `ready` before sending `init`, then streams what changes in the run directory. Every message
// from the page is validated (webviewMessages.ts); files open only from inside the run shown.
// Restored after a window reload through registerWebviewPanelSerializer.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { readRunSnapshot } from '../native-runtime/io/runDir';
import type { HostToWebview } from '../native-runtime/protocol';
import { CompareFeed } from './compareFeed';
import { DashboardFeed } from './dashboardFeed';
import { dashboardHtml, makeNonce, missingBundleHtml } from './dashboardHtml';
import type { RunsModel } from './runsModel';
import { effectiveState } from './runsModel';
import { decodeExport } from './savedExportModel';
import { workspaceRoot } from './settings';
import { isRunDirectory, parseWebviewMessage, resolveInside, restoredCompareDirs, restoredRunDir } from './webviewMessages';

const VIEW_TYPE = 'lily.dashboard';
/** workspaceState key: the run last shown, for restoring a panel whose page saved no run. */
const LAST_RUN_KEY = 'lily.dashboard.runDir';
const BUNDLE = ['out/webview/dashboard.js', 'out/webview/dashboard.css'];

interface Deps {
  model: RunsModel;
  output: vscode.OutputChannel;
}

export class DashboardPanel implements vscode.Disposable {
  private static current: DashboardPanel | undefined;
  private static deps: Deps | undefined;

  private readonly feed: DashboardFeed;
  /** The runs of the "Compare runs" tab, when the user picked some. */
  private compareFeed: CompareFeed | undefined;
  /** Switch to the Compare runs tab when the set is first sent (the page was not ready yet). */
  private focusCompare = false;
  private ready = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private runsKey = '';
  private readonly subs: vscode.Disposable[] = [];

  /** Called once at activation: what panels need besides their run. */
  static configure(deps: Deps): void {
    DashboardPanel.deps = deps;
  }

  static get currentPanel(): DashboardPanel | undefined {
    return DashboardPanel.current;
  }

  static createOrShow(context: vscode.ExtensionContext, runDir: string): DashboardPanel {
    const column = vscode.window.activeTextEditor?.viewColumn ?? vscode.ViewColumn.One;
    const existing = DashboardPanel.current;
    if (existing) {
      existing.panel.reveal(column);
      if (existing.feed.runDir !== runDir) existing.show(runDir);
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(VIEW_TYPE, 'Lily dashboard', column, webviewOptions(context));
    return (DashboardPanel.current = new DashboardPanel(panel, context, runDir));
  }

  static registerSerializer(context: vscode.ExtensionContext): vscode.Disposable {
    return vscode.window.registerWebviewPanelSerializer(VIEW_TYPE, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
        const restored = restoredRunDir(state, context.workspaceState.get<string>(LAST_RUN_KEY));
        panel.webview.options = webviewOptions(context);
        if ('missing' in restored) {
          panel.webview.html = missingRunHtml(restored.missing);
          return;
        }
        DashboardPanel.current?.dispose();
        DashboardPanel.current = new DashboardPanel(panel, context, restored.runDir);
        const compared = restoredCompareDirs(state);
        if (compared.length) DashboardPanel.current.compareRuns(compared, false);
      },
    });
  }

  private constructor(private readonly panel: vscode.WebviewPanel, private readonly context: vscode.ExtensionContext, runDir: string) {
    this.feed = new DashboardFeed(runDir, readRunSnapshot);
    this.panel.webview.html = this.html();
    this.setTitle();
    void context.workspaceState.update(LAST_RUN_KEY, runDir);
    this.subs.push(
      panel.webview.onDidReceiveMessage((m) => this.onMessage(m)),
      panel.onDidDispose(() => this.dispose()),
      panel.onDidChangeViewState(() => { if (panel.visible) this.schedulePoll(); }),
    );
    const model = DashboardPanel.deps?.model;
    if (model) {
      const sub = model.onDidChange((changed) => {
        const watched = [this.feed.runDir, this.feed.compareDir, ...(this.compareFeed?.runDirs ?? [])];
        if (changed === 'all' || changed.some((d) => watched.includes(d))) this.schedulePoll();
        this.postRuns();
      });
      this.subs.push({ dispose: () => sub.dispose() });
    }
  }

  get runDir(): string {
    return this.feed.runDir;
  }

  /** Switches the panel to another run (a fresh init, as if newly opened). */
  show(runDir: string): void {
    this.feed.select(runDir);
    this.setTitle();
    void this.context.workspaceState.update(LAST_RUN_KEY, runDir);
    if (this.ready) this.sendInit();
  }

  /** The runs shown in the Compare runs tab, in the order picked. */
  get comparedRuns(): string[] {
    return this.compareFeed?.runDirs ?? [];
  }

  /** Shows `runDirs` overlaid in the Compare runs tab (replacing an earlier set); `focus` switches to that tab. */
  compareRuns(runDirs: string[], focus = true): void {
    this.compareFeed = new CompareFeed(runDirs);
    this.focusCompare = focus;
    if (this.ready) this.sendCompareSet();
  }

  private sendCompareSet(): void {
    if (!this.compareFeed) return;
    this.post(this.compareFeed.snapshot(this.focusCompare));
    this.focusCompare = false;
    this.schedulePoll();
  }

  dispose(): void {
    if (DashboardPanel.current === this) DashboardPanel.current = undefined;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    for (const s of this.subs.splice(0)) s.dispose();
    this.panel.dispose();
  }

  private html(): string {
    const webview = this.panel.webview;
    const missing = BUNDLE.filter((f) => !fs.existsSync(this.context.asAbsolutePath(f)));
    if (missing.length > 0) return missingBundleHtml(missing.map((m) => this.context.asAbsolutePath(m)), webview.cspSource);
    const uri = (f: string) => webview.asWebviewUri(vscode.Uri.file(this.context.asAbsolutePath(f))).toString();
    return dashboardHtml({ cspSource: webview.cspSource, nonce: makeNonce(), scriptUri: uri(BUNDLE[0]), styleUri: uri(BUNDLE[1]), title: 'Lily dashboard' });
  }

  private setTitle(): void {
    const rec = DashboardPanel.deps?.model.get(this.feed.runDir);
    this.panel.title = `Lily: ${rec?.status.name ?? path.basename(this.feed.runDir)}`;
  }

  private onMessage(raw: unknown): void {
    const parsed = parseWebviewMessage(raw);
    if (!parsed.ok) {
      DashboardPanel.deps?.output.appendLine(`[dashboard] ignored a message from the webview: ${parsed.reason}`);
      return;
    }
    const m = parsed.message;
    switch (m.type) {
      case 'ready':
        // The page (re)loaded: it has no state yet, whatever was sent before.
        this.ready = true;
        this.sendInit();
        return;
      case 'selectRun':
        if (!this.isKnownRun(m.runDir)) return this.logIgnored(`selectRun for an unknown run ${m.runDir}`);
        this.show(m.runDir);
        return;
      case 'selectCompare':
        if (m.runDir !== null && !this.isKnownRun(m.runDir)) return this.logIgnored(`selectCompare for an unknown run ${m.runDir}`);
        this.feed.selectCompare(m.runDir);
        this.sendInit();
        return;
      case 'pickCompareRuns':
        void vscode.commands.executeCommand('lily.compareRuns', undefined, undefined, { preselect: this.comparedRuns });
        return;
      case 'removeCompareRun':
        if (this.compareFeed?.remove(m.runDir)) this.sendCompareSet();
        return;
      case 'saveFile':
        void this.saveExport(m.kind, m.name, m.data);
        return;
      case 'openFile': {
        const roots = [this.feed.runDir, this.feed.compareDir].filter((d): d is string => !!d);
        const file = roots.map((r) => resolveInside(r, m.path)).find((f) => f !== undefined);
        if (!file) return this.logIgnored(`openFile outside the run directory: ${m.path}`);
        void vscode.commands.executeCommand('vscode.open', vscode.Uri.file(file));
        return;
      }
    }
  }

  /** Saves a chart export from the page where the user says (webviews cannot download). */
  private async saveExport(kind: 'png' | 'csv', name: string, data: string): Promise<void> {
    const file = decodeExport(kind, name, data);
    if (!file.ok) return this.logIgnored(`saveFile: ${file.reason}`);
    const folder = workspaceRoot() ?? path.dirname(this.feed.runDir);
    const target = await vscode.window.showSaveDialog({
      title: `Save the chart as ${kind.toUpperCase()}`,
      defaultUri: vscode.Uri.file(path.join(folder, file.name)),
      filters: { [file.filterName]: [kind] },
    });
    if (!target) return;
    await vscode.workspace.fs.writeFile(target, file.bytes);
    DashboardPanel.deps?.output.appendLine(`[dashboard] saved ${target.fsPath} (${file.bytes.length} bytes)`);
    void vscode.window.showInformationMessage(`Lily: saved ${path.basename(target.fsPath)}`);
  }

  /** Only runs the Runs view knows (or folders that hold a status.json) can be selected. */
  private isKnownRun(runDir: string): boolean {
    return !!DashboardPanel.deps?.model.get(runDir) || isRunDirectory(runDir);
  }

  private logIgnored(what: string): void {
    DashboardPanel.deps?.output.appendLine(`[dashboard] ignored: ${what}`);
  }

  private sendInit(): void {
    try {
      this.post(this.feed.init(themeKind()));
    } catch (e) {
      DashboardPanel.deps?.output.appendLine(`[dashboard] cannot read ${this.feed.runDir}: ${(e as Error).message}`);
      void vscode.window.showErrorMessage(`Lily dashboard: cannot read the run at ${this.feed.runDir}: ${(e as Error).message}`);
      return;
    }
    this.postRuns(true);
    // The page reloaded (or was just created): it has no comparison set either.
    if (this.compareFeed) this.sendCompareSet();
    this.schedulePoll();
  }

  /** The run list for the page's run pickers, sent when runs or their states change. */
  private postRuns(force = false): void {
    const model = DashboardPanel.deps?.model;
    if (!this.ready || !model) return;
    const runs = model.list().map((r) => ({ runDir: r.runDir, name: r.status.name, method: r.status.method, state: effectiveState(r) }));
    const key = JSON.stringify(runs);
    if (!force && key === this.runsKey) return;
    this.runsKey = key;
    this.post({ type: 'runs', runs });
  }

  /** Polls the run's files soon (coalescing bursts of changes), and keeps polling while it trains. */
  private schedulePoll(): void {
    if (!this.ready || this.pollTimer) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      for (const msg of this.feed.poll()) this.post(msg);
      for (const msg of this.compareFeed?.poll() ?? []) this.post(msg);
      const rec = DashboardPanel.deps?.model.get(this.feed.runDir);
      // Runs outside the watched folder get no file events: keep polling while one trains.
      if (!rec || effectiveState(rec) === 'running' || this.compareFeed?.anyRunning) this.schedulePoll();
    }, 500);
  }

  private post(msg: HostToWebview): void {
    void this.panel.webview.postMessage(msg);
  }
}

function webviewOptions(context: vscode.ExtensionContext): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    // Keeps the charts' state while the panel is hidden; the page is small.
    retainContextWhenHidden: true,
    localResourceRoots: [vscode.Uri.file(context.asAbsolutePath('out/webview'))],
  };
}

function themeKind(): 'light' | 'dark' | 'high-contrast' {
  switch (vscode.window.activeColorTheme.kind) {
    case vscode.ColorThemeKind.Light: return 'light';
    case vscode.ColorThemeKind.HighContrast:
    case vscode.ColorThemeKind.HighContrastLight: return 'high-contrast';
    default: return 'dark';
  }
}

function missingRunHtml(runDir: string | undefined): string {
  const what = runDir ? `<code>${runDir.replace(/[&<>"]/g, '')}</code> is not (or no longer) a Lily run directory: it holds no status.json.` : 'No run was recorded for this panel.';
  return `<!DOCTYPE html><html><head><meta charset="UTF-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'"></head><body><p>${what} Open a run's dashboard from the Lily Runs view.</p></body></html>`;
}
