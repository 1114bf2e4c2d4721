// Context keys for `when` clauses in package.json (command palette, menus): which run commands
// make sense right now. Set only when a value changes.
import * as vscode from 'vscode';
import { effectiveState, isResumable, type RunsModel } from './runsModel';

export function trackContextKeys(model: RunsModel): vscode.Disposable {
  const last = new Map<string, boolean>();
  const set = (key: string, value: boolean) => {
    if (last.get(key) === value) return;
    last.set(key, value);
    void vscode.commands.executeCommand('setContext', key, value);
  };
  const update = () => {
    const runs = model.list();
    set('lily.hasRuns', runs.length > 0);
    set('lily.hasRunningRuns', runs.some((r) => effectiveState(r) === 'running'));
    set('lily.hasResumableRuns', runs.some(isResumable));
    set('lily.hasFinishedRuns', runs.some((r) => r.adapterFiles.length > 0 || r.checkpoints.length > 0));
  };
  update();
  const sub = model.onDidChange(update);
  return { dispose: () => sub.dispose() };
}
