// One writer per run directory. A process that writes a run (`lily train`, a resume, `lily
// inspect` or `lily export` writing into it) first creates `<run>/.lock` with O_CREAT|O_EXCL:
// the file system makes that atomic, so of two processes racing for the same run exactly one
// gets it, before either has written anything else. The lock holds the owner's pid and process
// start time; a lock whose owner is gone (kill -9, power loss) is stale and is taken over. The
// start time tells a reused pid from the owner (Linux: /proc/<pid>/stat; elsewhere the pid alone).
import * as fs from 'fs';
import * as path from 'path';
import { RUN_FILES } from '../runFiles';
import { nameFileInError } from './atomic';
import { isProcessAlive } from './runDir';

export const LOCK_FILE = RUN_FILES.lock;

export interface LockOwner {
  pid: number;
  /** Kernel start time of the process (clock ticks since boot; Linux only), to tell a reused pid. */
  proc_start?: number;
  /** When the lock was taken (ISO 8601). */
  locked_at: string;
  /** What holds it, e.g. `lily train`, for the refusal message. */
  command: string;
}

/** The run is held by another live process. */
export class RunLockedError extends Error {
  constructor(readonly runDir: string, readonly owner: LockOwner) {
    super(`${runDir} is in use by ${owner.command} (pid ${owner.pid}, since ${owner.locked_at}): one process writes a run at a time. ` +
      'Wait for it to end or stop it (Ctrl-C where it runs, or Stop in VS Code\'s Runs view), then try again.');
    this.name = 'RunLockedError';
  }
}

export interface RunLock {
  readonly file: string;
  /** Removes the lock if it is still ours. Safe to call more than once. */
  release(): void;
}

/** Start time of a live process in clock ticks since boot (field 22 of /proc/PID/stat), if known. */
export function processStartTicks(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: count after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the lock's owner still runs: its pid exists and, where known, started when the lock says. */
export function isOwnerAlive(owner: Partial<LockOwner>): boolean {
  if (typeof owner.pid !== 'number' || !isProcessAlive(owner.pid)) return false;
  if (typeof owner.proc_start !== 'number') return true;
  const now = processStartTicks(owner.pid);
  return now === undefined || now === owner.proc_start;
}

function readOwner(file: string): Partial<LockOwner> | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockOwner>;
  } catch {
    return undefined;
  }
}

function tryCreate(file: string, owner: LockOwner): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    fs.writeSync(fd, JSON.stringify(owner) + '\n');
    fs.fsyncSync(fd);
  } catch (e) {
    // A lock we could not fill in (a full disk) must not stay behind as an empty, ownerless file.
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
    throw nameFileInError(file, e);
  }
  fs.closeSync(fd);
  return true;
}

/**
 * Removes a stale lock. Two processes may find the same stale lock; a plain unlink could then
 * delete the lock the faster one has just created. So recovery is itself serialised by a
 * second O_EXCL file, and the lock is re-read under it before it is removed.
 */
function removeStale(file: string, log: (m: string) => void): void {
  const guard = `${file}.recover`;
  const me: LockOwner = { pid: process.pid, proc_start: processStartTicks(process.pid), locked_at: new Date().toISOString(), command: 'stale-lock recovery' };
  if (!tryCreate(guard, me)) {
    // Another process is recovering; if it died doing so (a window of microseconds), clear its guard.
    const other = readOwner(guard);
    if (other && !isOwnerAlive(other)) fs.rmSync(guard, { force: true });
    return;
  }
  try {
    const owner = readOwner(file);
    if (owner === undefined ? fs.existsSync(file) : !isOwnerAlive(owner)) {
      fs.rmSync(file, { force: true });
      log(`Removed a stale lock on ${path.dirname(file)} (${owner ? `pid ${owner.pid} of ${owner.command} is gone` : 'unreadable lock file'})`);
    }
  } finally {
    fs.rmSync(guard, { force: true });
  }
}

const held = new Set<string>();
let exitHookInstalled = false;

/**
 * Takes the run's lock or throws RunLockedError naming the live owner. Stale locks (owner gone)
 * are removed and logged. The lock is also removed when the process exits normally or through
 * process.exit (a second Ctrl-C); after kill -9 it stays and the next taker finds it stale.
 */
export function acquireRunLock(runDir: string, command: string, log: (m: string) => void = () => undefined): RunLock {
  const file = path.join(runDir, LOCK_FILE);
  const owner: LockOwner = { pid: process.pid, proc_start: processStartTicks(process.pid), locked_at: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 20; attempt++) {
    if (tryCreate(file, owner)) {
      held.add(file);
      if (!exitHookInstalled) {
        exitHookInstalled = true;
        process.on('exit', () => { for (const f of held) releaseFile(f); });
      }
      return { file, release: () => releaseFile(file) };
    }
    const current = readOwner(file);
    // A lock being written this instant reads as empty: give its writer a moment, then decide.
    if (current !== undefined && isOwnerAlive(current)) throw new RunLockedError(runDir, current as LockOwner);
    if (current === undefined && attempt < 3) { sleepMs(20); continue; }
    removeStale(file, log);
  }
  throw new Error(`${file}: could not take the run's lock (it keeps reappearing); another process is starting on this run`);
}

function releaseFile(file: string): void {
  if (!held.delete(file)) return;
  const owner = readOwner(file);
  if (owner?.pid === process.pid) fs.rmSync(file, { force: true });
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The live owner of a run's lock, if any (for readers that want to say who is writing). */
export function runLockOwner(runDir: string): LockOwner | undefined {
  const owner = readOwner(path.join(runDir, LOCK_FILE));
  return owner && isOwnerAlive(owner) ? owner as LockOwner : undefined;
}
