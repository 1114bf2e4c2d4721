// Reads and patches a run's status.json. The trainer owns the file while it runs; the server
// only writes it when the trainer cannot any more (it died without saying so), so that the
// run directory, the source of truth, does not claim a dead run is still running.
import * as fs from 'fs';
import * as path from 'path';
import { RUN_FILES, type RunStatus } from '../runFiles';

export function statusPath(runDir: string): string {
  return path.join(runDir, RUN_FILES.status);
}

export function readStatus(runDir: string): RunStatus {
  const file = statusPath(runDir);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read the run status (${(e as Error).message}); is ${runDir} a Lily run directory?`);
  }
  try {
    return JSON.parse(text) as RunStatus;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** Whether a process with this id exists (EPERM means it exists but belongs to someone else). */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Marks a run failed if its status still says running; atomic (write a temp file, rename). */
export function markFailedIfRunning(runDir: string, error: string): boolean {
  let status: RunStatus;
  try {
    status = readStatus(runDir);
  } catch {
    return false;
  }
  if (status.state !== 'running') return false;
  const now = new Date().toISOString();
  const next: RunStatus = { ...status, state: 'failed', error, updated_at: now, ended_at: now };
  const file = statusPath(runDir);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(next, null, 2));
  fs.renameSync(tmp, file);
  return true;
}
