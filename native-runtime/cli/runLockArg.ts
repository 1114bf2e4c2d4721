// `lily inspect` and `lily export` write into a run directory by default: like training, they
// then hold the run's one-writer lock for as long as they write. Writing elsewhere (--out
// outside the run) only reads the run and needs no lock.
import * as path from 'path';
import { acquireRunLock, type RunLock } from '../io/runLock';

export function lockIfInside(runDir: string, outDir: string, command: string, log: (m: string) => void): RunLock | undefined {
  const rel = path.relative(runDir, outDir);
  const inside = rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  return inside ? acquireRunLock(runDir, command, log) : undefined;
}
