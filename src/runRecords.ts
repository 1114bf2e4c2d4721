// Reads run directories into RunRecords for the Runs view: status.json (small, rewritten
// atomically by the trainer) and the names under checkpoints/ and adapter/. The dashboard reads
// the full snapshot (metrics, router lines) itself; the tree needs only this much, often.
import * as fs from 'fs';
import * as path from 'path';
import { RUN_FILES } from '../native-runtime/runFiles';
import { readStatus } from '../native-runtime/server/statusFile';
import { sortCheckpoints, type RunRecord } from './runsModel';

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

/** The run at `runDir`, or undefined when it has no readable status.json (yet). */
export function loadRunRecord(runDir: string): RunRecord | undefined {
  let status;
  try {
    status = readStatus(runDir);
  } catch {
    return undefined;
  }
  return {
    runDir,
    status,
    checkpoints: sortCheckpoints(listNames(path.join(runDir, RUN_FILES.checkpoints), 'dir')),
    adapterFiles: listNames(path.join(runDir, RUN_FILES.adapter), 'file').sort(),
  };
}

/** Every run directly under `runsDir`. */
export function scanRuns(runsDir: string): RunRecord[] {
  return listNames(runsDir, 'dir')
    .map((name) => loadRunRecord(path.join(runsDir, name)))
    .filter((r): r is RunRecord => !!r);
}

/** The run directory an event path under `runsDir` belongs to (`<runsDir>/<run>/...`). */
export function runDirOf(runsDir: string, changed: string): string | undefined {
  const rel = path.relative(runsDir, changed);
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  return path.join(runsDir, rel.split(path.sep)[0]);
}
