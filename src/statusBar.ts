// The status bar item: progress of the run(s) in training, or a stopped backend. Hidden when
// there is nothing to say.
import * as vscode from 'vscode';
import type { BackendState } from './backendProcess';
import { statusBarSummary, type RunsModel } from './runsModel';

export class LilyStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('lily.status', vscode.StatusBarAlignment.Left, 10);
  private readonly subs: Array<{ dispose(): void }> = [];
  private backendGaveUp = false;

  constructor(private readonly model: RunsModel, onBackendState: vscode.Event<BackendState>, onBackendGaveUp: vscode.Event<string>) {
    this.item.name = 'Lily training';
    this.subs.push(
      model.onDidChange(() => this.update()),
      onBackendGaveUp(() => { this.backendGaveUp = true; this.update(); }),
      onBackendState((s) => { if (s === 'starting' || s === 'running') { this.backendGaveUp = false; this.update(); } }),
    );
    this.update();
  }

  update(): void {
    if (this.backendGaveUp) {
      this.item.text = '$(error) Lily backend stopped';
      this.item.tooltip = 'The Lily backend crashed repeatedly. Click to restart it (its log is in the "Lily" output).';
      this.item.command = 'lily.restartBackend';
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
      this.item.show();
      return;
    }
    this.item.backgroundColor = undefined;
    const s = statusBarSummary(this.model.running());
    if (!s) {
      this.item.hide();
      return;
    }
    this.item.text = s.text;
    this.item.tooltip = s.tooltip;
    this.item.command = { command: 'lily.openDashboard', title: 'Open Dashboard', arguments: [s.runDir] };
    this.item.show();
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
    this.item.dispose();
  }
}
