// What the host posts to the dashboard for one run: a full snapshot on `init`, then only what
// changed (new metric/router lines, a new status, new router statistics or spectrum). Runs on
// file reads, so it serves runs started from the CLI exactly like runs started here.
// No vscode import: tested in Node on real run directories.
import * as fs from 'fs';
import * as path from 'path';
import type { HostToWebview, RunSnapshot } from '../native-runtime/protocol';
import { RUN_FILES, type MetricLine, type RouterLine, type RouterStats, type RunStatus, type SpectrumReport } from '../native-runtime/runFiles';
import { JsonlTail } from './jsonlTail';

export type SnapshotReader = (runDir: string) => RunSnapshot;

function mtimeOf(file: string): number {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    // Missing, or caught between writes (the trainer renames atomically, but be safe).
    return undefined;
  }
}

export class RunFeed {
  private readonly metrics: JsonlTail<MetricLine>;
  private readonly router: JsonlTail<RouterLine>;
  private statusText = '';
  private statsMtime = 0;
  private spectrumMtime = 0;

  constructor(readonly runDir: string, private readonly read: SnapshotReader) {
    this.metrics = new JsonlTail(path.join(runDir, RUN_FILES.metrics));
    this.router = new JsonlTail(path.join(runDir, RUN_FILES.router));
  }

  /** The whole run; what follows from poll() is relative to it. */
  snapshot(): RunSnapshot {
    const statsMtime = mtimeOf(path.join(this.runDir, RUN_FILES.routerStats));
    const spectrumMtime = mtimeOf(path.join(this.runDir, RUN_FILES.spectrum));
    const snap = this.read(this.runDir);
    this.metrics.skipLines(snap.metrics.length);
    this.router.skipLines(snap.router.length);
    this.statusText = JSON.stringify(snap.status);
    this.statsMtime = statsMtime;
    this.spectrumMtime = spectrumMtime;
    return snap;
  }

  /** Messages for what changed since the snapshot or the last poll. */
  poll(): HostToWebview[] {
    const out: HostToWebview[] = [];
    const metrics = this.metrics.readNew();
    const router = this.router.readNew();
    if (metrics.length || router.length) out.push({ type: 'append', runDir: this.runDir, metrics, router });
    const status = readJson<RunStatus>(path.join(this.runDir, RUN_FILES.status));
    if (status) {
      const text = JSON.stringify(status);
      if (text !== this.statusText) {
        this.statusText = text;
        out.push({ type: 'status', runDir: this.runDir, status });
      }
    }
    const statsFile = path.join(this.runDir, RUN_FILES.routerStats);
    const statsMtime = mtimeOf(statsFile);
    if (statsMtime !== this.statsMtime) {
      const routerStats = readJson<RouterStats>(statsFile);
      if (routerStats) {
        this.statsMtime = statsMtime;
        out.push({ type: 'routerStats', runDir: this.runDir, routerStats });
      }
    }
    const spectrumFile = path.join(this.runDir, RUN_FILES.spectrum);
    const spectrumMtime = mtimeOf(spectrumFile);
    if (spectrumMtime !== this.spectrumMtime) {
      const spectrum = readJson<SpectrumReport>(spectrumFile);
      if (spectrum) {
        this.spectrumMtime = spectrumMtime;
        out.push({ type: 'spectrum', runDir: this.runDir, spectrum });
      }
    }
    return out;
  }
}

/** The dashboard's run and optional comparison run. */
export class DashboardFeed {
  private main: RunFeed;
  private compare: RunFeed | undefined;

  constructor(runDir: string, private readonly read: SnapshotReader) {
    this.main = new RunFeed(runDir, read);
  }

  get runDir(): string {
    return this.main.runDir;
  }

  get compareDir(): string | undefined {
    return this.compare?.runDir;
  }

  select(runDir: string): void {
    this.main = new RunFeed(runDir, this.read);
    if (this.compare?.runDir === runDir) this.compare = undefined;
  }

  selectCompare(runDir: string | null): void {
    this.compare = runDir && runDir !== this.main.runDir ? new RunFeed(runDir, this.read) : undefined;
  }

  init(theme?: 'light' | 'dark' | 'high-contrast'): HostToWebview {
    return {
      type: 'init',
      run: this.main.snapshot(),
      ...(this.compare ? { compare: this.compare.snapshot() } : {}),
      ...(theme ? { theme } : {}),
    };
  }

  poll(): HostToWebview[] {
    return [...this.main.poll(), ...(this.compare?.poll() ?? [])];
  }
}
