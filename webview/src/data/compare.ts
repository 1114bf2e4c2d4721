// The "Compare runs" tab's data, without the DOM: the runs table (hyperparameters, trainable
// parameters, final and best eval metrics, time, sweep group) and its sorting, the diff of two
// resolved configs, each chart's series on a step / training-time / wall-clock x-axis, and the
// CSV of a chart. Tested in plain Node (test/webview/compareData.test.ts).
import type { LilyConfig } from '../../../native-runtime/config/types';
import type { EvalMetricLine, RunStatus, SweepMember, TrainMetricLine } from '../../../native-runtime/runFiles';

/** What a compared run offers (the store's RunModel has these fields). */
export interface ComparedRun {
  readonly runDir: string;
  readonly name: string;
  readonly status: RunStatus;
  readonly config: LilyConfig | undefined;
  readonly sweep?: SweepMember;
  readonly train: readonly TrainMetricLine[];
  readonly evals: readonly EvalMetricLine[];
}

// ---------------------------------------------------------------------------
// Metrics

/** Metrics where a smaller value is better; every other eval metric is better larger. */
const LOWER_IS_BETTER = new Set(['loss', 'mse', 'perplexity']);

export function lowerIsBetter(metric: string): boolean {
  return LOWER_IS_BETTER.has(metric);
}

/** Eval metric names over all runs, the task's headline metric first (as the Runs view orders them). */
export function evalMetricKeys(runs: readonly ComparedRun[]): string[] {
  const keys = new Set<string>();
  for (const run of runs) for (const e of run.evals) for (const k of Object.keys(e.metrics)) keys.add(k);
  const order = ['accuracy', 'f1', 'pearson', 'perplexity', 'mse', 'loss'];
  return [...keys].sort((a, b) => rank(a, order) - rank(b, order) || a.localeCompare(b));
}

function rank(key: string, order: string[]): number {
  const i = order.indexOf(key);
  return i < 0 ? order.length : i;
}

/** Evaluations after training started: the step-0 evaluation is the "before" value, not a result. */
function trainedEvals(run: ComparedRun, metric: string): EvalMetricLine[] {
  return run.evals.filter((e) => e.step > 0 && Number.isFinite(e.metrics[metric]));
}

/** The last evaluation's value of `metric` (undefined before the first one after step 0). */
export function finalEval(run: ComparedRun, metric: string): number | undefined {
  const evals = trainedEvals(run, metric);
  return evals.length ? evals[evals.length - 1].metrics[metric] : undefined;
}

/** The best value of `metric` over the run's evaluations after step 0, and its step. */
export function bestEval(run: ComparedRun, metric: string): { value: number; step: number } | undefined {
  const lower = lowerIsBetter(metric);
  let best: { value: number; step: number } | undefined;
  for (const e of trainedEvals(run, metric)) {
    const v = e.metrics[metric];
    if (!best || (lower ? v < best.value : v > best.value)) best = { value: v, step: e.step };
  }
  return best;
}

/**
 * Seconds the run trained: from its metric lines' `time_s` (seconds since its process started;
 * a resumed run restarts it, so segments are added up), else from status.json's times.
 */
export function trainingSeconds(run: ComparedRun): number | undefined {
  const times = timeline(run);
  if (times.total > 0) return times.total;
  const start = Date.parse(run.status.started_at);
  const end = Date.parse(run.status.ended_at ?? run.status.updated_at);
  return Number.isFinite(start) && Number.isFinite(end) && end >= start ? (end - start) / 1000 : undefined;
}

// ---------------------------------------------------------------------------
// Time: metric lines carry seconds since their process started; a resume starts a new process

interface Timeline {
  /** Cumulative training seconds of each train line and each eval line (same order as the run's). */
  train: number[];
  evals: number[];
  total: number;
}

const timelines = new WeakMap<ComparedRun, { key: string; value: Timeline }>();

/** Lines in file order, their `time_s` made cumulative across resumes (a drop starts a new segment). */
function timeline(run: ComparedRun): Timeline {
  const key = `${run.train.length}:${run.evals.length}`;
  const cached = timelines.get(run);
  if (cached?.key === key) return cached.value;
  // Merge train and eval lines by step (evaluations happen after that step's training line).
  const events: Array<{ kind: 'train' | 'eval'; i: number; step: number; t: number }> = [
    ...run.train.map((l, i) => ({ kind: 'train' as const, i, step: l.step, t: l.time_s })),
    ...run.evals.map((l, i) => ({ kind: 'eval' as const, i, step: l.step, t: l.time_s })),
  ].sort((a, b) => a.step - b.step || (a.kind === b.kind ? a.i - b.i : a.kind === 'train' ? -1 : 1));
  const value: Timeline = { train: new Array(run.train.length).fill(NaN), evals: new Array(run.evals.length).fill(NaN), total: 0 };
  let offset = 0;
  let last = 0;
  for (const e of events) {
    if (!Number.isFinite(e.t)) continue;
    if (e.t < last) offset += last;
    last = e.t;
    const t = offset + e.t;
    (e.kind === 'train' ? value.train : value.evals)[e.i] = t;
    value.total = Math.max(value.total, t);
  }
  timelines.set(run, { key, value });
  return value;
}

export type XMode = 'step' | 'time' | 'wall';
export const X_MODES: ReadonlyArray<{ id: XMode; label: string }> = [
  { id: 'step', label: 'Step' },
  { id: 'time', label: 'Training time' },
  { id: 'wall', label: 'Wall clock' },
];

export interface SeriesPoint {
  step: number;
  /** Cumulative training seconds. */
  time_s: number;
  /** Wall-clock time, ms since the epoch: the run's started_at plus its training seconds. */
  wall_ms: number;
  value: number;
}

/** A chart's metric: a training column or an eval metric. */
export type MetricId = `train:${'loss' | 'lr' | 'grad_norm' | 'samples_per_s'}` | `eval:${string}`;

export function metricTitle(id: MetricId): string {
  const [kind, key] = splitMetric(id);
  if (kind === 'train') return { loss: 'Training loss', lr: 'Learning rate', grad_norm: 'Gradient norm', samples_per_s: 'Throughput (samples/s)' }[key] ?? key;
  return `Eval ${key}`;
}

function splitMetric(id: MetricId): ['train' | 'eval', string] {
  const i = id.indexOf(':');
  return [id.slice(0, i) as 'train' | 'eval', id.slice(i + 1)];
}

/** One run's points of a metric, in step order, with all three x values. */
export function seriesOf(run: ComparedRun, id: MetricId): SeriesPoint[] {
  const [kind, key] = splitMetric(id);
  const times = timeline(run);
  const start = Date.parse(run.status.started_at);
  const point = (step: number, t: number, value: number): SeriesPoint => ({ step, time_s: t, wall_ms: start + t * 1000, value });
  if (kind === 'train') {
    const col = key as keyof TrainMetricLine;
    return run.train.map((l, i) => point(l.step, times.train[i], l[col] as number)).filter((p) => Number.isFinite(p.value));
  }
  return run.evals.map((e, i) => point(e.step, times.evals[i], e.metrics[key])).filter((p) => Number.isFinite(p.value));
}

export function xOf(p: SeriesPoint, mode: XMode): number | Date {
  return mode === 'step' ? p.step : mode === 'time' ? p.time_s : new Date(p.wall_ms);
}

// ---------------------------------------------------------------------------
// Config leaves and the diff of two configs

/** A resolved config as `path -> JSON text of the value` (arrays are one leaf: ["query","value"]). */
export function flattenConfig(config: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (config && typeof config === 'object' && !Array.isArray(config)) {
    for (const [k, v] of Object.entries(config as Record<string, unknown>)) flattenConfig(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out.set(prefix, JSON.stringify(config));
  }
  return out;
}

export interface DiffRow {
  path: string;
  /** JSON text; undefined when that config lacks the field. */
  a: string | undefined;
  b: string | undefined;
}

/** Fields whose values differ between two configs (or exist in one only), in path order; plus how many agree. */
export function diffConfigs(a: LilyConfig | undefined, b: LilyConfig | undefined): { rows: DiffRow[]; same: number } {
  const fa = flattenConfig(a ?? {});
  const fb = flattenConfig(b ?? {});
  const paths = [...new Set([...fa.keys(), ...fb.keys()])].sort();
  const rows: DiffRow[] = [];
  let same = 0;
  for (const p of paths) {
    if (fa.get(p) === fb.get(p)) same++;
    else rows.push({ path: p, a: fa.get(p), b: fb.get(p) });
  }
  return { rows, same };
}

// ---------------------------------------------------------------------------
// The runs table

export type CellValue = string | number | undefined;

export interface Column {
  id: string;
  label: string;
  /** Numbers sort numerically and align right. */
  numeric: boolean;
  /** What the column holds, for its header tooltip. */
  title: string;
}

export interface TableRow {
  runDir: string;
  cells: Record<string, CellValue>;
}

/** Shown for every run even when all runs agree: what users compare first. */
const CORE_HYPERPARAMETERS: ReadonlyArray<{ path: string; label: string }> = [
  { path: 'adapter.method', label: 'method' },
  { path: 'training.lr', label: 'lr' },
  { path: 'training.batch_size', label: 'batch' },
  { path: 'adapter.r', label: 'r' },
];

/** Fields that differ between every pair of runs by nature, or are paths of no interest in a table. */
const NOT_HYPERPARAMETERS = [/^name$/, /^output\./, /^\$schema$/];

/** Config fields (beyond the core ones) whose values differ among the runs: the sweep axes, typically. */
export function varyingFields(runs: readonly ComparedRun[]): string[] {
  const flat = runs.map((r) => flattenConfig(r.config ?? {}));
  const paths = new Set<string>();
  for (const f of flat) for (const p of f.keys()) paths.add(p);
  const core = new Set(CORE_HYPERPARAMETERS.map((c) => c.path));
  return [...paths]
    .filter((p) => !core.has(p) && !NOT_HYPERPARAMETERS.some((re) => re.test(p)))
    .filter((p) => new Set(flat.map((f) => f.get(p))).size > 1)
    .sort();
}

/** The value in a table cell: numbers stay numbers (sortable), strings lose their JSON quotes. */
function cellOf(json: string | undefined): CellValue {
  if (json === undefined) return undefined;
  const v = JSON.parse(json) as unknown;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return v;
  return json;
}

/** "training.lr" -> "lr"; two varying fields with the same last name keep their section. */
function shortLabels(paths: readonly string[]): string[] {
  const last = paths.map((p) => p.split('.').pop()!);
  return paths.map((p, i) => (last.filter((l) => l === last[i]).length > 1 ? p : last[i]));
}

/** A sweep's cell: its name and the point's position in the grid. */
export function sweepLabel(sweep: SweepMember | undefined): string | undefined {
  return sweep ? `${sweep.name} · ${sweep.index + 1}/${sweep.total}` : undefined;
}

/** Columns and one row per run: name, sweep, state, hyperparameters, parameters, eval results, time. */
export function runsTable(runs: readonly ComparedRun[]): { columns: Column[]; rows: TableRow[] } {
  const varying = varyingFields(runs);
  const metrics = evalMetricKeys(runs);
  const hyper = [...CORE_HYPERPARAMETERS.map((c) => ({ path: c.path, label: c.label })), ...varying.map((p, i) => ({ path: p, label: shortLabels(varying)[i] }))];
  const columns: Column[] = [
    { id: 'name', label: 'run', numeric: false, title: 'The run (status.json name)' },
    { id: 'sweep', label: 'sweep', numeric: false, title: 'The sweep (lily sweep) the run is a point of: its name and position in the grid' },
    { id: 'state', label: 'state', numeric: false, title: 'completed, running, stopped or failed' },
    ...hyper.map((h) => ({ id: `config:${h.path}`, label: h.label, numeric: false, title: `${h.path} in the run's resolved config` })),
    { id: 'trainable_params', label: 'trainable params', numeric: true, title: 'Trainable parameters (adapter, routers, modules_to_save)' },
    { id: 'steps', label: 'steps', numeric: true, title: 'Steps trained' },
    { id: 'final_loss', label: 'final train loss', numeric: true, title: 'The last logged training loss' },
    ...metrics.flatMap((m): Column[] => [
      { id: `final:${m}`, label: `final ${m}`, numeric: true, title: `Eval ${m} at the last evaluation` },
      { id: `best:${m}`, label: `best ${m}`, numeric: true, title: `Best eval ${m} (${lowerIsBetter(m) ? 'lowest' : 'highest'}) over evaluations after step 0` },
    ]),
    { id: 'time_s', label: 'time (s)', numeric: true, title: 'Seconds spent training (resumed runs: the sum of their sessions)' },
    { id: 'started', label: 'started', numeric: false, title: 'When the run started (status.json started_at)' },
  ];
  const rows = runs.map((run): TableRow => {
    const flat = flattenConfig(run.config ?? {});
    const cells: Record<string, CellValue> = {
      name: run.name,
      sweep: sweepLabel(run.sweep),
      state: run.status.state,
      trainable_params: run.status.trainable_params,
      steps: run.status.step,
      final_loss: run.train.length ? run.train[run.train.length - 1].loss : undefined,
      time_s: trainingSeconds(run),
      started: run.status.started_at,
    };
    for (const h of hyper) cells[`config:${h.path}`] = cellOf(flat.get(h.path));
    for (const m of metrics) {
      cells[`final:${m}`] = finalEval(run, m);
      cells[`best:${m}`] = bestEval(run, m)?.value;
    }
    return { runDir: run.runDir, cells };
  });
  // Numeric hyperparameter columns (lr, r, ...) sort and align as numbers.
  for (const c of columns) if (c.id.startsWith('config:')) c.numeric = rows.every((r) => r.cells[c.id] === undefined || typeof r.cells[c.id] === 'number');
  return { columns, rows };
}

export type SortDir = 'asc' | 'desc';

/**
 * Rows sorted by one column (stable: ties keep their order). Empty cells go last either way;
 * the sweep column sorts by sweep, then grid position.
 */
export function sortRows(rows: readonly TableRow[], column: string, dir: SortDir, sweeps?: ReadonlyMap<string, SweepMember | undefined>): TableRow[] {
  const sign = dir === 'asc' ? 1 : -1;
  const key = (r: TableRow): CellValue => {
    if (column === 'sweep' && sweeps) {
      const s = sweeps.get(r.runDir);
      return s ? `${s.sweep_id}\u0000${String(s.index).padStart(6, '0')}` : undefined;
    }
    return r.cells[column];
  };
  return rows
    .map((r, i) => ({ r, i, k: key(r) }))
    .sort((x, y) => {
      if (x.k === undefined || y.k === undefined) return (x.k === undefined ? 1 : 0) - (y.k === undefined ? 1 : 0) || x.i - y.i;
      const c = typeof x.k === 'number' && typeof y.k === 'number' ? x.k - y.k : String(x.k).localeCompare(String(y.k), 'en', { numeric: true });
      return c * sign || x.i - y.i;
    })
    .map((x) => x.r);
}

/** Names that tell runs apart in a legend: a name shared by several runs gets " (2)", " (3)"... */
export function distinctNames(runs: readonly ComparedRun[]): string[] {
  const seen = new Map<string, number>();
  return runs.map((r) => {
    const n = (seen.get(r.name) ?? 0) + 1;
    seen.set(r.name, n);
    return n === 1 ? r.name : `${r.name} (${n})`;
  });
}

// ---------------------------------------------------------------------------
// CSV (RFC 4180: comma separated, CRLF line ends, fields with a comma, quote or line break quoted)

export const CSV_HEADER = ['run', 'run_dir', 'sweep_id', 'metric', 'step', 'time_s', 'wall_clock', 'value'] as const;

function csvField(value: string | number): string {
  const text = typeof value === 'number' ? (Number.isFinite(value) ? String(value) : '') : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A chart's data in long form: one line per run and point, with every x value (exact numbers). */
export function chartCsv(metric: MetricId, runs: readonly ComparedRun[], names: readonly string[] = distinctNames(runs)): string {
  const lines = [CSV_HEADER.join(',')];
  runs.forEach((run, k) => {
    for (const p of seriesOf(run, metric)) {
      const wall = Number.isFinite(p.wall_ms) ? new Date(p.wall_ms).toISOString() : '';
      lines.push([names[k], run.runDir, run.sweep?.sweep_id ?? '', metric, p.step, p.time_s, wall, p.value].map(csvField).join(','));
    }
  });
  return lines.join('\r\n') + '\r\n';
}

/** A file name for an export: the metric and the number of runs, safe on every OS. */
export function exportFileName(metric: MetricId, runs: number, ext: 'png' | 'csv'): string {
  return `lily-compare-${metric.replace(/[^A-Za-z0-9_-]+/g, '-')}-${runs}-runs.${ext}`;
}
