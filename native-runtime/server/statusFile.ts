// Reads and patches a run's status.json for the server. The trainer owns the file while it
// runs; the server writes it only when the trainer cannot any more (it died without saying
// so), so that the run directory, the source of truth, does not claim a dead run is running.
import * as fs from 'fs';
import * as path from 'path';
import { RunWriter } from '../io/runDir';
import { RUN_FILES, type RunStatus } from '../runFiles';

/** status.json as written (no liveness interpretation: `stop` needs the recorded pid and state). */
export function readStatus(runDir: string): RunStatus {
  const file = path.join(runDir, RUN_FILES.status);
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

/** Marks a run failed if its status still says running (an atomic rewrite). */
export function markFailedIfRunning(runDir: string, error: string): boolean {
  let status: RunStatus;
  try {
    status = readStatus(runDir);
  } catch {
    return false;
  }
  if (status.state !== 'running') return false;
  new RunWriter(runDir).updateStatus({ state: 'failed', error, ended_at: new Date().toISOString() });
  return true;
}
