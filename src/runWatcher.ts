// Keeps the RunsModel in step with the runs directory, so runs started from the CLI (or by
// another window) appear and update live, and a window reload loses nothing. chokidar 4 (runs
// on Node 20 and in VS Code's Node 22), rate-bounded per run: a training step rewrites several
// files at once. Also notices runs whose process died without saying so. No vscode import.
import * as fs from 'fs';
import { watch, type FSWatcher } from 'chokidar';
import { isProcessAlive } from '../native-runtime/io/runDir';
import { loadRunRecord, runDirOf, scanRuns } from './runRecords';
import type { RunsModel } from './runsModel';

/** workspaceState key: runs started from this workspace outside the runs directory. */
export const OUTSIDE_RUNS_KEY = 'lily.runsOutsideRunsDirectory';

export interface RunWatcherOptions {
  debounceMs?: number;
  /** How often to look for a missing runs directory, and for dead training processes. */
  pollMs?: number;
  isAlive?: (pid: number) => boolean;
  /** Runs outside `runsDir` to follow from the start (see `track`). */
  outsideRuns?: string[];
}

export class RunWatcher {
  private watcher: FSWatcher | undefined;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly poll: NodeJS.Timeout;
  private readonly debounceMs: number;
  private readonly isAlive: (pid: number) => boolean;
  private closed = false;
  /** Runs outside the runs directory (a config's own output.dir), re-read on every poll. */
  private readonly outside = new Set<string>();
  /** Resolves when chokidar has finished its first scan (tests wait on it). */
  ready: Promise<void> = Promise.resolve();

  constructor(private readonly runsDir: string, private readonly model: RunsModel, opts: RunWatcherOptions = {}) {
    this.debounceMs = opts.debounceMs ?? 250;
    this.isAlive = opts.isAlive ?? isProcessAlive;
    for (const runDir of opts.outsideRuns ?? []) this.track(runDir);
    this.rescan();
    this.startWatching();
    // chokidar 4 cannot watch a folder that does not exist yet (before the first run): look
    // for it now and then, and watch it once it appears.
    this.poll = setInterval(() => {
      if (!this.watcher) this.startWatching();
      this.pollOutsideRuns();
      this.pollRunningRuns();
      this.model.markDeadProcesses(this.isAlive);
    }, opts.pollMs ?? 3000);
  }

  /**
   * Follows a run that lives outside the runs directory, where chokidar does not look: it is
   * read now and re-read on every poll while it trains. Returns false for a run inside the
   * runs directory (watched anyway).
   */
  track(runDir: string): boolean {
    if (runDirOf(this.runsDir, runDir) !== undefined) return false;
    this.outside.add(runDir);
    this.refresh(runDir);
    return true;
  }

  /** The runs outside the runs directory being followed (to remember across a reload). */
  outsideRuns(): string[] {
    return [...this.outside];
  }

  /** Re-reads every run (e.g. after the user changed lily.runsDirectory, or on demand). */
  rescan(): void {
    const records = scanRuns(this.runsDir);
    this.model.replaceUnder(this.runsDir, records);
    for (const runDir of this.outside) this.refresh(runDir);
    this.model.markDeadProcesses(this.isAlive);
  }

  /** Re-reads one run now (after the run manager started it, before any file event). */
  refresh(runDir: string): void {
    const rec = loadRunRecord(runDir);
    if (rec) this.model.upsert(rec);
    else if (!fs.existsSync(runDir)) this.model.remove(runDir);
    this.model.markDeadProcesses(this.isAlive);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.poll);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await this.watcher?.close();
  }

  /**
   * Re-reads the running runs inside the runs directory on every poll as well. chokidar's events
   * are the fast path, but a run that starts before the watcher is ready (the runs folder appears
   * with the first run, and the watcher only starts on the next poll) can have its events missed;
   * a short run then stayed at step 0 in the view until it ended. The poll bounds that staleness.
   */
  private pollRunningRuns(): void {
    for (const rec of this.model.running()) {
      if (runDirOf(this.runsDir, rec.runDir) !== undefined) this.refresh(rec.runDir);
    }
  }

  private pollOutsideRuns(): void {
    for (const runDir of this.outside) {
      if (!fs.existsSync(runDir)) {
        this.outside.delete(runDir);
        this.model.remove(runDir);
        continue;
      }
      const rec = this.model.get(runDir);
      if (!rec || rec.status.state === 'running') this.refresh(runDir); // a finished run's files no longer change
    }
  }

  private startWatching(): void {
    if (this.closed || this.watcher || !fs.existsSync(this.runsDir)) return;
    // depth 2 reaches <run>/checkpoints/<step> and <run>/adapter/<file>; deeper files (tensor
    // files inside checkpoints) would only add noise.
    const w = watch(this.runsDir, { ignoreInitial: true, depth: 2, ignored: (p) => p.endsWith('.tmp') });
    this.watcher = w;
    this.ready = new Promise((resolve) => w.once('ready', () => resolve()));
    w.on('all', (_event, changed) => {
      const runDir = runDirOf(this.runsDir, changed);
      if (runDir) this.schedule(runDir);
      else if (changed === this.runsDir && !fs.existsSync(this.runsDir)) void this.restartWatching();
    });
    w.on('error', () => void this.restartWatching());
    // Runs created between the first scan and the watcher being ready would be missed.
    void this.ready.then(() => { if (!this.closed) this.rescan(); });
  }

  private async restartWatching(): Promise<void> {
    const w = this.watcher;
    this.watcher = undefined;
    await w?.close();
    this.rescan();
  }

  /**
   * Re-reads a run at most once per `debounceMs` while its files keep changing. A refresh
   * already pending is left alone (not restarted): restarting it on every event starved the
   * view while a fast run (~60 steps/s) rewrote its files more often than the delay, so no row
   * appeared for seconds and it froze until the run ended. The pending refresh reads the files
   * when it fires, so it sees every event that came before it.
   */
  private schedule(runDir: string): void {
    if (this.timers.has(runDir)) return;
    this.timers.set(runDir, setTimeout(() => {
      this.timers.delete(runDir);
      if (!this.closed) this.refresh(runDir);
    }, this.debounceMs));
  }
}
