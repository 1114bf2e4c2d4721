// The run directory: written by the training process (RunWriter, every write atomic or an
// fsynced append), read by the extension, the dashboard and `lily` commands (readRunSnapshot,
// listRuns), which must cope with a run in progress, a crashed run and half-written logs.
// The layout is documented in runFiles.ts.
import * as fs from 'fs';
import * as path from 'path';
import type { LilyConfig } from '../config/types';
import type { RunSnapshot } from '../protocol';
import { RUN_FILES, type MetricLine, type RouterLine, type RouterStats, type RunStatus, type SpectrumReport } from '../runFiles';
import type { AdapterWeights } from './adapterWeights';
import { appendLine, fsyncDir, readJsonIfValid, readJsonl, writeJsonAtomic } from './atomic';
import { COMPACT_ADAPTER_FILE, writeCompactAdapter } from './compactAdapter';
import { type PeftWriteInfo, writePeftAdapter } from './peft';

/** `Sentiment (RoBERTa)!` -> `sentiment-roberta`: safe in a folder name on every OS. */
export function slugify(name: string): string {
  const slug = name.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '').slice(0, 40).replace(/-$/, '');
  return slug || 'run';
}

/** `20261129-101500` in local time (what the user saw on the clock when the run started). */
function timestamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/**
 * Creates a new, empty run folder `<outputDir>/<YYYYMMDD-HHMMSS>-<slug>`; when that exists (two
 * runs in one second) a `-2`, `-3`, ... suffix makes it unique. mkdir without `recursive` is the
 * atomic claim, so two processes never get the same folder.
 */
export function createRunDir(outputDir: string, name: string, now: Date = new Date()): { runId: string; runDir: string } {
  fs.mkdirSync(outputDir, { recursive: true });
  const base = `${timestamp(now)}-${slugify(name)}`;
  for (let n = 1; n < 1000; n++) {
    const runId = n === 1 ? base : `${base}-${n}`;
    const runDir = path.join(outputDir, runId);
    try {
      fs.mkdirSync(runDir);
      return { runId, runDir };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  throw new Error(`${outputDir}: could not create a unique run folder for "${base}" (999 exist); clean up old runs`);
}

/** Writes one run's files. One writer per run (the training process). */
export class RunWriter {
  constructor(readonly runDir: string) {
    fs.mkdirSync(runDir, { recursive: true });
  }

  file(kind: keyof typeof RUN_FILES): string {
    return path.join(this.runDir, RUN_FILES[kind]);
  }

  /** The resolved config (defaults filled, paths absolute), for reproducing and inspecting the run. */
  writeConfig(config: object): void {
    writeJsonAtomic(this.file('config'), config);
  }

  /**
   * Merges `partial` into status.json (re-read first, so fields set elsewhere survive) and sets
   * `updated_at`. The first call must carry every required RunStatus field.
   */
  updateStatus(partial: Partial<RunStatus>): RunStatus {
    const current = readJsonIfValid<RunStatus>(this.file('status')) ?? {};
    const next = { ...current, ...partial, updated_at: new Date().toISOString() } as RunStatus;
    for (const [k, v] of Object.entries(partial)) if (v === undefined) delete (next as unknown as Record<string, unknown>)[k];
    writeJsonAtomic(this.file('status'), next);
    return next;
  }

  appendMetric(line: MetricLine): void {
    appendLine(this.file('metrics'), line);
  }

  appendRouter(line: RouterLine): void {
    appendLine(this.file('router'), line);
  }

  writeRouterStats(stats: RouterStats): void {
    writeJsonAtomic(this.file('routerStats'), stats);
  }

  writeSpectrum(report: SpectrumReport): void {
    writeJsonAtomic(this.file('spectrum'), report);
  }

  /** The final adapter: PEFT folder files plus the compact adapter.lily.safetensors, in `adapter/`. */
  writeAdapter(weights: AdapterWeights, info: PeftWriteInfo = {}): string[] {
    // Written as a whole: into a temp folder, then renamed, so `adapter/` is complete or absent
    // (a full disk used to leave 2 of its 3 files). A previous adapter is replaced only then.
    const dir = this.file('adapter');
    const tmp = path.join(this.runDir, `.adapter.tmp-${process.pid}-${Date.now()}`);
    try {
      const names = writePeftAdapter(tmp, weights, info).map((f) => path.basename(f));
      writeCompactAdapter(path.join(tmp, COMPACT_ADAPTER_FILE), weights);
      fsyncDir(tmp);
      replaceDir(tmp, dir);
      return [...names, COMPACT_ADAPTER_FILE].map((n) => path.join(dir, n));
    } catch (e) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }
}

/** Renames folder `from` to `to`, replacing an existing `to` (moved aside first: rename cannot replace a non-empty folder). */
function replaceDir(from: string, to: string): void {
  if (fs.existsSync(to)) {
    const old = `${to}.old-${process.pid}-${Date.now()}`;
    fs.renameSync(to, old);
    fs.renameSync(from, to);
    fs.rmSync(old, { recursive: true, force: true });
  } else {
    fs.renameSync(from, to);
  }
  fsyncDir(path.dirname(to));
}

/** True while a process with this id exists (EPERM: it exists but belongs to someone else). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * status.json as the reader should show it: a `running` run whose process is gone is reported as
 * failed (the process crashed or was killed before it could record an end state); a missing or
 * unreadable status.json gives a failed placeholder built from what else is there.
 */
export function readRunStatus(runDir: string): RunStatus {
  const status = readJsonIfValid<RunStatus>(path.join(runDir, RUN_FILES.status));
  if (!status || typeof status !== 'object' || typeof status.state !== 'string') return placeholderStatus(runDir);
  if (status.state === 'running' && !isProcessAlive(status.pid)) {
    return {
      ...status,
      state: 'failed',
      error: `the training process (pid ${status.pid}) is no longer running but the run never recorded an end; it crashed or was killed at step ${status.step}. ` +
        (status.last_checkpoint ? `Resume from ${status.last_checkpoint}.` : 'No checkpoint was written; start the run again.'),
    };
  }
  return status;
}

function placeholderStatus(runDir: string): RunStatus {
  const config = readJsonIfValid<Record<string, any>>(path.join(runDir, RUN_FILES.config)); // eslint-disable-line @typescript-eslint/no-explicit-any
  let mtime = new Date(0).toISOString();
  try { mtime = fs.statSync(runDir).mtime.toISOString(); } catch { /* folder gone: keep epoch */ }
  return {
    run_id: path.basename(runDir),
    name: typeof config?.name === 'string' ? config.name : path.basename(runDir),
    state: 'failed',
    pid: 0,
    method: config?.adapter?.method === 'lora' ? 'lora' : 'lily',
    task: typeof config?.model?.task === 'string' ? config.model.task : '',
    step: 0,
    total_steps: 0,
    epoch: 0,
    started_at: mtime,
    updated_at: mtime,
    error: `${path.join(runDir, RUN_FILES.status)} is missing or unreadable: the run stopped before it recorded its state`,
    device: '',
    config_path: typeof config?.configPath === 'string' ? config.configPath : '',
    trainable_params: 0,
  };
}

/** Everything the dashboard draws, read tolerantly (missing files are empty, a torn log line is skipped). */
export function readRunSnapshot(runDir: string): RunSnapshot {
  const routerStats = readJsonIfValid<RouterStats>(path.join(runDir, RUN_FILES.routerStats));
  const spectrum = readJsonIfValid<SpectrumReport>(path.join(runDir, RUN_FILES.spectrum));
  return {
    runDir,
    status: readRunStatus(runDir),
    config: readJsonIfValid<LilyConfig>(path.join(runDir, RUN_FILES.config)),
    metrics: readJsonl<MetricLine>(path.join(runDir, RUN_FILES.metrics)),
    router: readJsonl<RouterLine>(path.join(runDir, RUN_FILES.router)),
    ...(routerStats ? { routerStats } : {}),
    ...(spectrum ? { spectrum } : {}),
  };
}

/** The runs under an output folder, newest first. Folders with neither status.json nor config.json are not runs. */
export function listRuns(outputDir: string): Array<{ runDir: string; status: RunStatus }> {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(outputDir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const runs: Array<{ runDir: string; status: RunStatus }> = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const runDir = path.join(outputDir, e.name);
    if (!fs.existsSync(path.join(runDir, RUN_FILES.status)) && !fs.existsSync(path.join(runDir, RUN_FILES.config))) continue;
    runs.push({ runDir, status: readRunStatus(runDir) });
  }
  return runs.sort((a, b) => (b.status.started_at ?? '').localeCompare(a.status.started_at ?? '') || b.runDir.localeCompare(a.runDir));
}
