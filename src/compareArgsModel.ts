// Which runs "Lily: Compare Runs" compares, from how it was invoked: the Runs view passes the
// clicked row and every selected row (runs, and sweep rows standing for all their runs); tests
// and other callers pass run directories. No vscode import: tested in plain Node.
import { effectiveState, type RunRecord } from './runsModel';

/** A Runs view row as the tree passes it (runsView.ts RunsNode), or a run directory. */
type Arg = unknown;

function dirsOf(arg: Arg, runs: readonly RunRecord[]): string[] {
  if (typeof arg === 'string') return [arg];
  if (Array.isArray(arg)) return arg.flatMap((a) => dirsOf(a, runs));
  if (arg && typeof arg === 'object') {
    const node = arg as { kind?: unknown; runDir?: unknown; sweepId?: unknown };
    if (node.kind === 'sweep' && typeof node.sweepId === 'string') {
      return runs.filter((r) => r.sweep?.sweep_id === node.sweepId).sort((a, b) => a.sweep!.index - b.sweep!.index).map((r) => r.runDir);
    }
    if (typeof node.runDir === 'string') return [node.runDir];
  }
  return [];
}

/**
 * The runs to compare, in order, without repeats: the selection when the view passed one (VS Code
 * passes the clicked row first and the whole selection second), else the argument.
 */
export function compareRunDirs(runs: readonly RunRecord[], clicked: Arg, selected: Arg): string[] {
  const from = Array.isArray(selected) && selected.length > 0 ? selected : clicked;
  return [...new Set(dirsOf(from, runs))];
}

export interface ComparePickItem {
  label: string;
  description: string;
  detail: string;
  picked: boolean;
  runDir: string;
}

/** The multi-select quick pick's rows: every run, newest first, its sweep and state; the current set ticked. */
export function comparePickItems(runs: readonly RunRecord[], ticked: readonly string[]): ComparePickItem[] {
  return runs.map((r) => {
    const s = r.status;
    const parts = [
      r.sweep ? `sweep ${r.sweep.name} ${r.sweep.index + 1}/${r.sweep.total}` : '',
      s.method,
      effectiveState(r),
      `${s.step}/${s.total_steps} steps`,
    ].filter(Boolean);
    return { label: s.name || s.run_id, description: parts.join(' · '), detail: r.runDir, picked: ticked.includes(r.runDir), runDir: r.runDir };
  });
}
