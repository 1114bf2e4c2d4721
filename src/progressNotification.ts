// The progress notification of a run started from VS Code: step, loss and ETA as the run goes
// (fed by the runs model, which the backend's progress notifications and the run's files both
// update), with a Cancel button that stops the run the gentle way (SIGTERM: the trainer writes
// a checkpoint, so the run can be resumed). Closes by itself when the run ends.
import * as path from 'path';
import * as vscode from 'vscode';
import type { CommandResult } from './results';
import { RunProgressTracker } from './runProgress';
import type { RunsModel } from './runsModel';

export function showRunProgress(model: RunsModel, runDir: string, stop: (runDir: string) => Promise<CommandResult>): Thenable<void> {
  const name = model.get(runDir)?.status.name ?? path.basename(runDir);
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Lily: training ${name}`, cancellable: true },
    (progress, token) => new Promise<void>((resolve) => {
      const tracker = new RunProgressTracker();
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        sub.dispose();
        cancel.dispose();
        resolve();
      };
      const update = () => {
        const step = tracker.next(model.get(runDir));
        if (step.done) return finish();
        if (step.report) progress.report(step.report);
      };
      const sub = model.onDidChange((changed) => { if (changed === 'all' || changed.includes(runDir)) update(); });
      const cancel = token.onCancellationRequested(() => {
        finish();
        void stop(runDir).then(
          (r) => { if (!r.ok) void vscode.window.showWarningMessage(`Lily: could not stop ${name}: ${r.reason}`); },
          (e: Error) => void vscode.window.showErrorMessage(`Lily: could not stop ${name}: ${e.message}`),
        );
      });
      update();
    }),
  );
}
