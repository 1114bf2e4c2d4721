// What the progress notification of a run says, step by step: VS Code's Progress takes
// increments (they add up to 100), the model holds absolute steps, so this turns each record
// into the increment since the last report. No vscode import (progressNotification.ts shows
// it), so it is tested in plain Node.
import type { RunState } from '../native-runtime/runFiles';
import { effectiveState, formatDuration, formatNumber, percent, type RunRecord } from './runsModel';

export interface ProgressReport {
  /** Percent points since the previous report (VS Code adds them up). */
  increment: number;
  message: string;
}

export type ProgressStep =
  | { done: false; report?: ProgressReport }
  | { done: true; state: RunState | 'deleted' };

export class RunProgressTracker {
  private reportedPercent = 0;
  private lastMessage = '';

  /** The next thing to show for the run's current record (undefined: the run is gone). */
  next(rec: RunRecord | undefined): ProgressStep {
    if (!rec) return { done: true, state: 'deleted' };
    const state = effectiveState(rec);
    if (state !== 'running') return { done: true, state };
    const s = rec.status;
    const pct = percent(s.step, s.total_steps);
    const parts = [`step ${s.step}/${s.total_steps} (${pct}%)`];
    if (s.loss !== undefined) parts.push(`loss ${formatNumber(s.loss)}`);
    if (s.eta_s !== undefined) parts.push(`ETA ${formatDuration(s.eta_s)}`);
    const message = parts.join(' · ');
    // A resumed run starts above 0%, and files can lag behind notifications: never go back.
    const increment = Math.max(0, pct - this.reportedPercent);
    if (increment === 0 && message === this.lastMessage) return { done: false };
    this.reportedPercent += increment;
    this.lastMessage = message;
    return { done: false, report: { increment, message } };
  }
}
