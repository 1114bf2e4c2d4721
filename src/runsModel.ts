// The Runs view's model: one record per run directory, fed from files (runWatcher) and from
// the backend's notifications, and the pure functions that turn a record into what the tree
// shows. No vscode import (runsView.ts maps these to TreeItems), so it is tested in plain Node.
import { sep } from 'path';
import type { ProgressParams, RunStateParams, MetricsParams } from '../native-runtime/protocol';
import type { RunStatus, SweepMember } from '../native-runtime/runFiles';

export interface RunRecord {
  runDir: string;
  status: RunStatus;
  /** Checkpoint folders under checkpoints/, oldest first (e.g. `step-100`). */
  checkpoints: string[];
  /** Files under adapter/ (present once training finished). */
  adapterFiles: string[];
  /** Set when status.json says running but the process is gone: shown as failed. */
  processGone?: boolean;
  /** The sweep this run is a point of (sweep.json). */
  sweep?: SweepMember;
}

export type Listener = (changed: string[] | 'all') => void;

export class RunsModel {
  private readonly runs = new Map<string, RunRecord>();
  private readonly listeners = new Set<Listener>();

  onDidChange(listener: Listener): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  get(runDir: string): RunRecord | undefined {
    return this.runs.get(runDir);
  }

  /** Newest first. */
  list(): RunRecord[] {
    return [...this.runs.values()].sort((a, b) => (b.status.started_at ?? '').localeCompare(a.status.started_at ?? '') || a.runDir.localeCompare(b.runDir));
  }

  running(): RunRecord[] {
    return this.list().filter((r) => effectiveState(r) === 'running');
  }

  /** A fresh read of a run directory replaces what notifications had patched in. */
  upsert(record: RunRecord): void {
    const prev = this.runs.get(record.runDir);
    // Files can lag behind notifications (the trainer rewrites status.json less often than it
    // reports progress): never move a running run's step backwards.
    if (prev && prev.status.state === 'running' && record.status.state === 'running' && prev.status.step > record.status.step) {
      record = { ...record, status: { ...record.status, step: prev.status.step, loss: prev.status.loss, eta_s: prev.status.eta_s, samples_per_s: prev.status.samples_per_s } };
    }
    this.runs.set(record.runDir, record);
    this.fire([record.runDir]);
  }

  remove(runDir: string): void {
    if (this.runs.delete(runDir)) this.fire([runDir]);
  }

  /**
   * Replaces the runs under `runsDir` (a rescan of it); runs elsewhere (a config's own
   * output.dir, tracked from notifications) stay.
   */
  replaceUnder(runsDir: string, records: RunRecord[]): void {
    const prefix = runsDir.endsWith(sep) ? runsDir : runsDir + sep;
    for (const key of [...this.runs.keys()]) if (key.startsWith(prefix)) this.runs.delete(key);
    for (const r of records) this.runs.set(r.runDir, r);
    this.fire('all');
  }

  applyProgress(p: ProgressParams): boolean {
    const r = this.runs.get(p.runDir);
    if (!r) return false;
    r.status = {
      ...r.status, state: 'running', step: p.step, total_steps: p.totalSteps, epoch: p.epoch,
      loss: p.loss, samples_per_s: p.samplesPerSec, eta_s: p.etaSeconds, updated_at: new Date().toISOString(),
    };
    r.processGone = false;
    this.fire([p.runDir]);
    return true;
  }

  applyRunState(p: RunStateParams): boolean {
    const r = this.runs.get(p.runDir);
    if (!r) return false;
    r.status = { ...r.status, state: p.state, ...(p.error !== undefined ? { error: p.error } : {}) };
    if (p.state !== 'running') r.status.ended_at ??= new Date().toISOString();
    r.processGone = false;
    this.fire([p.runDir]);
    return true;
  }

  applyMetrics(p: MetricsParams): boolean {
    const r = this.runs.get(p.runDir);
    if (!r) return false;
    if (p.line.type === 'eval') r.status = { ...r.status, eval: { ...p.line.metrics } };
    else r.status = { ...r.status, loss: p.line.loss };
    this.fire([p.runDir]);
    return true;
  }

  /** Marks running runs whose process no longer exists; returns the run dirs that changed. */
  markDeadProcesses(isAlive: (pid: number) => boolean): string[] {
    const changed: string[] = [];
    for (const r of this.runs.values()) {
      if (r.status.state !== 'running') continue;
      const gone = !isAlive(r.status.pid);
      if (gone !== !!r.processGone) {
        r.processGone = gone;
        changed.push(r.runDir);
      }
    }
    if (changed.length) this.fire(changed);
    return changed;
  }

  private fire(changed: string[] | 'all'): void {
    for (const l of this.listeners) l(changed);
  }
}

/** The state to show: a "running" run whose process died is failed. */
export function effectiveState(r: RunRecord): RunStatus['state'] {
  return r.status.state === 'running' && r.processGone ? 'failed' : r.status.state;
}

/** Whether the run can be resumed: it is not running and has a complete checkpoint. */
export function isResumable(r: RunRecord): boolean {
  const state = effectiveState(r);
  return state !== 'running' && state !== 'completed' && (r.checkpoints.length > 0 || !!r.status.last_checkpoint);
}

// ---------------------------------------------------------------------------
// Presentation

export interface RunItemView {
  label: string;
  description: string;
  tooltip: string;
  /** A codicon id (ThemeIcon) and an optional theme color id. */
  icon: { id: string; color?: string };
  /** For view/item/context menus: `lilyRun:<state>` plus `:resumable` when a checkpoint exists. */
  contextValue: string;
}

export interface ChildView {
  label: string;
  description?: string;
  tooltip?: string;
  icon?: string;
  /** A file or folder the item opens or reveals. */
  path?: string;
  contextValue?: string;
  children?: ChildView[];
}

const STATE_ICONS: Record<RunStatus['state'], { id: string; color?: string }> = {
  running: { id: 'sync~spin' },
  completed: { id: 'pass', color: 'testing.iconPassed' },
  failed: { id: 'error', color: 'testing.iconFailed' },
  stopped: { id: 'debug-pause', color: 'disabledForeground' },
};

export function percent(step: number, total: number): number {
  if (!total || total <= 0) return 0;
  return Math.max(0, Math.min(100, Math.floor((100 * step) / total)));
}

/** 3725 -> "1h 2m", 125 -> "2m 5s", 7 -> "7s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** Loss-like numbers with 4 significant digits; large counts with separators. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x) && Math.abs(x) >= 1000) return x.toLocaleString('en-US');
  return Number(x.toPrecision(4)).toString();
}

export function formatParams(n: number): string {
  if (n >= 1e6) return `${Number((n / 1e6).toPrecision(3))}M`;
  if (n >= 1e3) return `${Number((n / 1e3).toPrecision(3))}K`;
  return String(n);
}

function evalSummary(ev: Record<string, number> | undefined): string {
  if (!ev) return '';
  const keys = ['accuracy', 'f1', 'pearson', 'perplexity', 'mse', 'loss'].filter((k) => k in ev);
  const k = keys[0] ?? Object.keys(ev)[0];
  return k === undefined ? '' : `${k} ${formatNumber(ev[k])}`;
}

/** Whether the latest eval is the one before training (no eval since): say so, not pass it off as the result. */
function evalIsBeforeTraining(s: RunStatus): boolean {
  return !!s.eval && !!s.eval_before && JSON.stringify(s.eval) === JSON.stringify(s.eval_before) && s.step > 0;
}

/** The Metrics row: the latest eval (marked when it is the before-training one), else the loss. */
function metricsSummary(s: RunStatus): string {
  const ev = evalSummary(s.eval);
  if (ev && evalIsBeforeTraining(s)) return `${ev} before training${s.loss !== undefined ? ` · loss ${formatNumber(s.loss)}` : ''}`;
  if (ev && s.eval_before) {
    const k = ev.split(' ')[0];
    const before = s.eval_before[k];
    return before !== undefined ? `${ev} (before ${formatNumber(before)})` : ev;
  }
  return ev || (s.loss !== undefined ? `loss ${formatNumber(s.loss)}` : '');
}

export function runItemView(r: RunRecord): RunItemView {
  const s = r.status;
  const state = effectiveState(r);
  const progress = `${s.step}/${s.total_steps}`;
  const parts: string[] = [];
  if (state === 'running') {
    // Short enough for the default sidebar width; percent and ETA are in the tooltip. The
    // status bar shows this same text, so the two never disagree.
    parts.push(progress);
    if (s.loss !== undefined) parts.push(`loss ${formatNumber(s.loss)}`);
  } else if (state === 'completed') {
    parts.push(`${s.step} steps`);
    const ev = evalSummary(s.eval);
    if (ev && !evalIsBeforeTraining(s)) parts.push(ev);
    else if (s.loss !== undefined) parts.push(`loss ${formatNumber(s.loss)}`);
  } else {
    parts.push(`${state} at ${progress}`);
    if (s.loss !== undefined) parts.push(`loss ${formatNumber(s.loss)}`);
  }
  const error = r.processGone
    ? `The training process (pid ${s.pid}) is no longer running, but the run never recorded an end: it was killed or crashed.`
    : s.error;
  const tooltip = [
    `${s.name} (${s.method}, ${s.task})`,
    `State: ${state}${state === 'running' ? ` — step ${progress} (${percent(s.step, s.total_steps)}%)${s.eta_s !== undefined ? `, ETA ${formatDuration(s.eta_s)}` : ''}` : ''}`,
    ...(s.loss !== undefined ? [`Training loss: ${formatNumber(s.loss)}`] : []),
    ...(s.eval ? [`Eval: ${evalSummary(s.eval)}${evalIsBeforeTraining(s) ? ' (before training)' : ''}`] : []),
    `Device: ${s.device}${s.device_note ? ` (${s.device_note})` : ''}`,
    `Trainable parameters: ${formatNumber(s.trainable_params)}`,
    `Started: ${s.started_at}`,
    ...(s.ended_at ? [`Ended: ${s.ended_at}`] : []),
    ...(error ? [`Error: ${error}`] : []),
    r.runDir,
  ].join('\n');
  return {
    label: s.name || s.run_id,
    description: parts.join(' · '),
    tooltip,
    icon: STATE_ICONS[state],
    contextValue: `lilyRun:${state}${isResumable(r) ? ':resumable' : ''}`,
  };
}

function checkpointStep(name: string): number {
  const m = /(\d+)$/.exec(name);
  return m ? Number(m[1]) : -1;
}

/** Sorts checkpoint folder names by step (`step-100` after `step-20`). */
export function sortCheckpoints(names: string[]): string[] {
  return [...names].sort((a, b) => checkpointStep(a) - checkpointStep(b) || a.localeCompare(b));
}

export function runChildren(r: RunRecord, join: (...p: string[]) => string): ChildView[] {
  const s = r.status;
  const metrics: ChildView[] = [];
  if (s.loss !== undefined) metrics.push({ label: 'Training loss', description: formatNumber(s.loss), icon: 'graph-line' });
  if (s.samples_per_s !== undefined) metrics.push({ label: 'Throughput', description: `${formatNumber(s.samples_per_s)} samples/s`, icon: 'dashboard' });
  for (const [k, v] of Object.entries(s.eval ?? {})) {
    const before = s.eval_before?.[k];
    metrics.push({ label: `Eval ${k}`, description: before !== undefined ? `${formatNumber(v)} (before ${formatNumber(before)})` : formatNumber(v), icon: 'beaker' });
  }
  metrics.push({ label: 'Trainable parameters', description: formatNumber(s.trainable_params), icon: 'symbol-numeric' });
  metrics.push({ label: 'Device', description: s.device, tooltip: s.device_note, icon: 'chip' });
  const error = r.processGone ? `process ${s.pid} is gone` : s.error;
  const state = effectiveState(r);
  const out: ChildView[] = [];
  // A stop the user asked for is not an error ("stopped (SIGTERM)" read as a failure).
  if (error && state === 'stopped') out.push({ label: 'Stopped', description: `at step ${s.step}${r.checkpoints.length ? ' · resumable' : ''}`, tooltip: error, icon: 'debug-pause' });
  else if (error && state !== 'running') out.push({ label: 'Error', description: error.split('\n')[0], tooltip: error, icon: 'warning' });
  out.push({ label: 'Metrics', description: metricsSummary(s), icon: 'graph', children: metrics });
  if (r.checkpoints.length > 0) {
    out.push({
      label: 'Checkpoints', description: String(r.checkpoints.length), icon: 'save-all',
      path: join(r.runDir, 'checkpoints'),
      children: r.checkpoints.map((c) => ({ label: c, icon: 'save', path: join(r.runDir, 'checkpoints', c), contextValue: 'lilyCheckpoint' })),
    });
  }
  if (r.adapterFiles.length > 0) {
    out.push({
      label: 'Adapter', description: `${r.adapterFiles.length} files`, icon: 'package', path: join(r.runDir, 'adapter'), contextValue: 'lilyAdapter',
      children: r.adapterFiles.map((f) => ({ label: f, icon: 'file', path: join(r.runDir, 'adapter', f), contextValue: 'lilyFile' })),
    });
  }
  return out;
}

/** The status bar's text for the runs in progress, or undefined when none is. */
export function statusBarSummary(running: RunRecord[]): { text: string; tooltip: string; runDir: string } | undefined {
  if (running.length === 0) return undefined;
  const r = running[0];
  const s = r.status;
  if (running.length === 1) {
    // The Runs row's own text: both read the same record through the same function.
    const v = runItemView(r);
    return {
      text: `$(sync~spin) Lily ${s.name}: ${v.description}`,
      tooltip: `${v.tooltip}\nClick to open the dashboard`,
      runDir: r.runDir,
    };
  }
  return {
    text: `$(sync~spin) Lily: ${running.length} runs`,
    tooltip: running.map((x) => `${x.status.name}: ${runItemView(x).description}`).join('\n') + '\nClick to open the newest run\'s dashboard',
    runDir: r.runDir,
  };
}

// ---------------------------------------------------------------------------
// Sweeps: the runs of one `lily sweep` grouped under one row

export interface SweepGroup {
  id: string;
  name: string;
  /** Grid size, and the runs seen so far in grid order. */
  total: number;
  runs: RunRecord[];
}

export type RootEntry = { kind: 'run'; run: RunRecord } | { kind: 'sweep'; group: SweepGroup };

/** The top level of the Runs view: single runs, and one entry per sweep where its newest run would be. */
export function rootEntries(runs: RunRecord[]): RootEntry[] {
  const out: RootEntry[] = [];
  const groups = new Map<string, SweepGroup>();
  for (const run of runs) {
    if (!run.sweep) {
      out.push({ kind: 'run', run });
      continue;
    }
    let g = groups.get(run.sweep.sweep_id);
    if (!g) {
      g = { id: run.sweep.sweep_id, name: run.sweep.name, total: run.sweep.total, runs: [] };
      groups.set(g.id, g);
      out.push({ kind: 'sweep', group: g });
    }
    g.runs.push(run);
  }
  for (const g of groups.values()) g.runs.sort((a, b) => a.sweep!.index - b.sweep!.index);
  return out;
}

/** The sweep row: progress over the grid and its best point by the final eval metric. */
export function sweepItemView(g: SweepGroup): { label: string; description: string; tooltip: string; running: boolean } {
  const states = g.runs.map(effectiveState);
  const done = states.filter((s) => s === 'completed').length;
  const running = states.includes('running');
  const scored = g.runs.map((r) => ({ r, ev: evalSummary(r.status.eval) })).filter((x) => x.ev && !evalIsBeforeTraining(x.r.status) && effectiveState(x.r) === 'completed');
  const key = scored[0]?.ev.split(' ')[0];
  const lowerIsBetter = key === 'loss' || key === 'mse' || key === 'perplexity';
  const best = key === undefined ? undefined : scored.reduce((a, b) => {
    const va = a.r.status.eval![key];
    const vb = b.r.status.eval![key];
    return (lowerIsBetter ? vb < va : vb > va) ? b : a;
  });
  const point = (r: RunRecord) => Object.entries(r.sweep!.overrides).map(([k, v]) => `${k.split('.').pop()}=${v}`).join(' ');
  return {
    label: `Sweep: ${g.name}`,
    description: `${done}/${g.total} done${best ? ` · best ${best.ev} (${point(best.r)})` : ''}`,
    tooltip: [
      `Sweep ${g.id}: ${g.total} runs over ${Object.keys(g.runs[0]?.sweep?.overrides ?? {}).join(', ')}`,
      ...g.runs.map((r) => `${point(r)}: ${effectiveState(r)}${r.status.eval && !evalIsBeforeTraining(r.status) ? ` · ${evalSummary(r.status.eval)}` : ''}`),
    ].join('\n'),
    running,
  };
}

/**
 * What "Stop" on a sweep row signals: the `lily sweep` process while it lives (it stops its running
 * points with a checkpoint and starts no more), else each running point. Undefined when none runs.
 */
export function sweepStopPlan(g: SweepGroup, isAlive: (pid: number) => boolean): { pid: number } | { runDirs: string[] } | undefined {
  const running = g.runs.filter((r) => effectiveState(r) === 'running');
  if (running.length === 0) return undefined;
  const pid = g.runs.map((r) => r.sweep?.sweep_pid).find((p): p is number => typeof p === 'number');
  return pid !== undefined && isAlive(pid) ? { pid } : { runDirs: running.map((r) => r.runDir) };
}
