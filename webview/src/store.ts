// The dashboard's data: the shown run and the optional comparison run, kept as the host sends
// them. `apply` folds one host message in and says which views must redraw, so an `append`
// touches the curves and the training replay and nothing else.
import type { CompareRunSnapshot, HostToWebview, RunSnapshot } from '../../native-runtime/protocol';
import type { EvalMetricLine, MetricLine, RouterLine, RouterStats, RunState, RunStatus, SpectrumReport, SweepMember, TrainMetricLine } from '../../native-runtime/runFiles';
import type { LilyConfig } from '../../native-runtime/config/types';
import { matrixMax } from './data/routing';
import { targetLayouts, type TargetLayout } from './data/targets';

export type ViewId = 'header' | 'router' | 'rank' | 'curves' | 'experts' | 'compare';
export const ALL_VIEWS: readonly ViewId[] = ['header', 'router', 'rank', 'curves', 'experts', 'compare'];

export const TRAIN_COLUMNS = ['step', 'loss', 'lr', 'grad_norm', 'samples_per_s'] as const;
export type TrainColumn = (typeof TRAIN_COLUMNS)[number];

export class RunModel {
  readonly runDir: string;
  status: RunStatus;
  config: LilyConfig | undefined;
  readonly train: TrainMetricLine[] = [];
  readonly evals: EvalMetricLine[] = [];
  readonly router: RouterLine[] = [];
  /** Training lines as columns, grown on append, so curves never re-map the whole history. */
  readonly trainColumns: Record<TrainColumn, number[]> = { step: [], loss: [], lr: [], grad_norm: [], samples_per_s: [] };
  routerStats: RouterStats | undefined;
  spectrum: SpectrumReport | undefined;
  /** sweep.json, for runs of a many-run comparison that `lily sweep` made. */
  readonly sweep: SweepMember | undefined;
  /** Largest router probability seen per target over all logged steps (stable replay colours). */
  readonly routerMax = new Map<string, number>();
  private layoutCache: TargetLayout[] | undefined;

  constructor(snapshot: RunSnapshot | CompareRunSnapshot) {
    this.runDir = snapshot.runDir;
    this.status = snapshot.status;
    this.config = snapshot.config;
    const full = 'router' in snapshot ? snapshot : undefined;
    this.routerStats = full?.routerStats;
    this.spectrum = full?.spectrum;
    this.sweep = 'sweep' in snapshot ? snapshot.sweep : undefined;
    this.appendMetrics(snapshot.metrics);
    this.appendRouter(full?.router ?? []);
  }

  appendMetrics(lines: readonly MetricLine[]): void {
    for (const line of lines) {
      if (line.type === 'train') {
        this.train.push(line);
        for (const key of TRAIN_COLUMNS) this.trainColumns[key].push(line[key]);
      }
      else if (line.type === 'eval') this.evals.push(line);
    }
  }

  appendRouter(lines: readonly RouterLine[]): void {
    for (const line of lines) {
      this.router.push(line);
      for (const [target, rows] of Object.entries(line.targets)) {
        this.routerMax.set(target, Math.max(this.routerMax.get(target) ?? 0, matrixMax(rows)));
      }
    }
    if (lines.length && this.router.length === lines.length) this.layoutCache = undefined;
  }

  setRouterStats(stats: RouterStats): void {
    this.routerStats = stats;
    this.layoutCache = undefined;
  }

  setSpectrum(spectrum: SpectrumReport): void {
    this.spectrum = spectrum;
    this.layoutCache = undefined;
  }

  get targets(): TargetLayout[] {
    this.layoutCache ??= targetLayouts(this.config, this.routerStats, this.spectrum, this.router);
    return this.layoutCache;
  }

  get name(): string {
    return this.status.name || this.runDir;
  }
}

export interface RunEntry {
  runDir: string;
  name: string;
  method: string;
  state: RunState;
}

export class DashboardStore {
  main: RunModel | undefined;
  compare: RunModel | undefined;
  /** The runs of the "Compare runs" tab, in the order the user picked them (own copies, fed by compareUpdate). */
  compareSet: RunModel[] = [];
  runs: RunEntry[] = [];
  theme: 'light' | 'dark' | 'high-contrast' | undefined;

  /** Folds a host message in; returns the views whose data changed. */
  apply(message: HostToWebview): ViewId[] {
    switch (message.type) {
      case 'init':
        this.main = new RunModel(message.run);
        this.compare = message.compare ? new RunModel(message.compare) : undefined;
        this.theme = message.theme;
        // The compare tab's runs are its own (compareSet): a new main run leaves them alone.
        return ALL_VIEWS.filter((v) => v !== 'compare');
      case 'append': {
        const run = this.find(message.runDir);
        if (!run) return [];
        const changed: ViewId[] = [];
        if (message.metrics.length) {
          run.appendMetrics(message.metrics);
          changed.push('curves');
        }
        if (message.router.length) {
          run.appendRouter(message.router);
          if (run === this.main) changed.push('router');
        }
        return changed;
      }
      case 'status': {
        const run = this.find(message.runDir);
        if (!run) return [];
        run.status = message.status;
        return run === this.main ? ['header'] : ['curves'];
      }
      case 'routerStats': {
        const run = this.find(message.runDir);
        if (!run) return [];
        run.setRouterStats(message.routerStats);
        return run === this.main ? ['router'] : [];
      }
      case 'spectrum': {
        const run = this.find(message.runDir);
        if (!run) return [];
        run.setSpectrum(message.spectrum);
        return run === this.main ? ['rank', 'experts'] : [];
      }
      case 'runs':
        this.runs = message.runs;
        return ['header'];
      case 'compareSet':
        this.compareSet = message.runs.map((r) => new RunModel(r));
        return ['compare'];
      case 'compareUpdate': {
        const run = this.compareSet.find((r) => r.runDir === message.runDir);
        if (!run) return [];
        run.appendMetrics(message.metrics);
        if (message.status) run.status = message.status;
        return ['compare'];
      }
      default:
        return [];
    }
  }

  private find(runDir: string): RunModel | undefined {
    if (this.main?.runDir === runDir) return this.main;
    if (this.compare?.runDir === runDir) return this.compare;
    return undefined;
  }
}

/** Narrows an unknown posted value to a host message (the host is trusted; this guards typos). */
export function isHostMessage(data: unknown): data is HostToWebview {
  if (typeof data !== 'object' || data === null) return false;
  const type = (data as { type?: unknown }).type;
  return type === 'init' || type === 'append' || type === 'status' || type === 'routerStats' || type === 'spectrum' || type === 'runs' || type === 'compareSet' || type === 'compareUpdate';
}
