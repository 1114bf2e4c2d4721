// Process bookkeeping for the e2e harness: everything it starts must end, also on failure,
// timeout or Ctrl-C. Two nets, because one is not enough:
//  - each child runs in its own process group (detached), killed as a group;
//  - every process started here carries a marker in its environment (inherited by the VS Code
//    server, its extension host, and the backend/training processes the extension spawns, even
//    those that detach into their own session to survive a window reload). On cleanup, any
//    live process whose environment holds the marker is killed.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import net from 'node:net';

export const MARKER_NAME = 'LILY_E2E_MARKER';
export const MARKER_VALUE = randomUUID();

const groups = new Set();
const cleanups = [];

/** Spawns `cmd` in its own process group with the marker in its environment. */
export function spawnTracked(cmd, args, options = {}) {
  const child = spawn(cmd, args, {
    ...options,
    env: { ...(options.env ?? process.env), [MARKER_NAME]: MARKER_VALUE },
    detached: true,
    stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid) groups.add(child.pid);
  child.on('exit', () => groups.delete(child.pid));
  return child;
}

/** Registers a cleanup step (closing the browser, removing temp dirs); run in reverse order. */
export function onCleanup(fn) {
  cleanups.push(fn);
}

/** Pids of live processes (other than this one) whose environment contains the marker. Linux only. */
export function markedProcesses() {
  const needle = `${MARKER_NAME}=${MARKER_VALUE}`;
  const found = [];
  let entries = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found; // not Linux: the process groups are the only net
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'latin1');
      if (env.split('\0').includes(needle)) found.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

function killQuietly(pid, signal) {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Kills every tracked process group and marked process: SIGTERM, a grace period, then SIGKILL. */
export async function killAll(graceMs = 3000) {
  for (const pgid of groups) killQuietly(-pgid, 'SIGTERM');
  for (const pid of markedProcesses()) killQuietly(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && (markedProcesses().length > 0 || [...groups].some(alive))) await sleep(100);
  for (const pgid of groups) killQuietly(-pgid, 'SIGKILL');
  for (const pid of markedProcesses()) killQuietly(pid, 'SIGKILL');
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let cleaning;
/** Runs the registered cleanups (reverse order) and kills everything started. Idempotent. */
export function cleanupAll() {
  cleaning ??= (async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        process.stderr.write(`e2e: cleanup step failed: ${err instanceof Error ? err.message : err}\n`);
      }
    }
    await killAll();
  })();
  return cleaning;
}

/** A free TCP port on the loopback interface. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Rejects after `ms` with a message naming what timed out; the timer does not keep Node alive. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${Math.round(ms / 1000)} s`)), ms);
    timer.unref?.();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
