// Reads run directories into RunRecords for the Runs view, through the run-directory module
// (io/runDir.ts: a `running` run whose process is gone reads as failed, a torn status.json as a
// failed placeholder), plus the names under checkpoints/ and adapter/. The dashboard reads the
// full snapshot (metrics, router lines) itself; the tree needs only this much, often.
import * as fs from 'fs';
import * as path from 'path';
import { listRuns, readRunStatus } from '../native-runtime/io/runDir';
import { RUN_FILES, type RunStatus, type SweepMember } from '../native-runtime/runFiles';
import { sortCheckpoints, type RunRecord } from './runsModel';

/** A folder younger than this without status.json is a run being created, not a broken one. */
const CREATION_GRACE_MS = 30_000;

function listNames(dir: string, want: 'dir' | 'file'): string[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true })
      // Hidden names and *.tmp are writes in progress (atomic rename not done yet).
      .filter((e) => !e.name.startsWith('.') && !e.name.endsWith('.tmp') && (want === 'dir' ? e.isDirectory() : e.isFile()))
      .map((e) => e.name);
  } catch {
    return [];
  }
}

function beingCreated(runDir: string): boolean {
  if (fs.existsSync(path.join(runDir, RUN_FILES.status))) return false;
  try {
    return Date.now() - fs.statSync(runDir).mtimeMs < CREATION_GRACE_MS;
  } catch {
    return true;
  }
}

function record(runDir: string, status: RunStatus): RunRecord {
  const sweep = readSweepMember(runDir);
  return {
    runDir,
    status,
    checkpoints: sortCheckpoints(listNames(path.join(runDir, RUN_FILES.checkpoints), 'dir')),
    adapterFiles: listNames(path.join(runDir, RUN_FILES.adapter), 'file').sort(),
    ...(sweep ? { sweep } : {}),
  };
}

/** sweep.json of a run `lily sweep` started, or undefined (most runs; or not written yet). */
export function readSweepMember(runDir: string): SweepMember | undefined {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(runDir, RUN_FILES.sweep), 'utf8')) as SweepMember;
    return typeof m.sweep_id === 'string' && typeof m.index === 'number' ? m : undefined;
  } catch {
    return undefined;
  }
}

/** The run at `runDir`, or undefined when it is not (or not yet) a run directory. */
export function loadRunRecord(runDir: string): RunRecord | undefined {
  const isRun = fs.existsSync(path.join(runDir, RUN_FILES.status)) || fs.existsSync(path.join(runDir, RUN_FILES.config));
  if (!isRun || beingCreated(runDir)) return undefined;
  return record(runDir, readRunStatus(runDir));
}

/** Every run directly under `runsDir`. */
export function scanRuns(runsDir: string): RunRecord[] {
  return listRuns(runsDir).filter((r) => !beingCreated(r.runDir)).map((r) => record(r.runDir, r.status));
}

/** The run directory an event path under `runsDir` belongs to (`<runsDir>/<run>/...`). */
export function runDirOf(runsDir: string, changed: string): string | undefined {
  const rel = path.relative(runsDir, changed);
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  return path.join(runsDir, rel.split(path.sep)[0]);
}
