// Training runs, each in its own `lily train --json` process: session.run blocks the event
// loop for a whole step (FACTS.md), so the server must never train in-process. This relays the
// process's TrainEvent lines as protocol notifications.
//
// Trainers outlive the server: a window reload ends the extension host and with it this server,
// but not the runs (issue #5: "the run directory is the truth; a running backend is found again
// by its pid"). So each trainer is spawned detached (its own session and process group, no
// signal from our group reaches it), the server never stops runs when it exits, and a trainer
// whose event pipe closes keeps training (cli/io.ts ignores EPIPE). Only an explicit stop
// (SIGTERM by the pid in status.json) ends a run early.
import { spawn, type ChildProcess } from 'child_process';
import * as path from 'path';
import {
  Notifications, type MetricsParams, type ProgressParams, type RouterParams, type RunStateParams,
  type StopResult, type TrainEvent, type TrainParams, type TrainResult, type LogParams,
} from '../protocol';
import { LineTail, onLines } from './lines';
import { nodeChildEnv } from './paths';
import { isProcessAlive } from '../io/runDir';
import { markFailedIfRunning, readStatus } from './statusFile';
import { startFailure } from './startFailure';

export interface Notifier {
  notify(method: string, params: unknown): void;
}

/** Command-line arguments of `lily train` for a request (after the CLI path). */
export function trainArgs(p: TrainParams): string[] {
  const args = ['train', p.configPath, '--json'];
  if (p.maxSteps !== undefined) args.push('--max-steps', String(p.maxSteps));
  if (p.runDir) args.push('--run-dir', p.runDir);
  if (p.resume) args.push('--resume', p.resume);
  if (p.compareWithLora) args.push('--compare-lora');
  if (p.device) args.push('--device', p.device);
  if (p.threads !== undefined) args.push('--threads', String(p.threads));
  if (p.backend) args.push('--backend', p.backend);
  if (p.python) args.push('--python', p.python);
  if (p.processes !== undefined) args.push('--processes', String(p.processes));
  if (p.launch) args.push('--launch', p.launch);
  return args;
}

interface LiveRun {
  child: ChildProcess;
  runDir: string;
  finished: boolean;
}

export class TrainProcesses {
  private readonly live = new Map<string, LiveRun>();

  constructor(
    private readonly notifier: Notifier,
    /** Path of bin/lily.js (resolved lazily: a missing build is reported per request). */
    private readonly cliPath: () => string,
    private readonly cwd: string = process.cwd(),
  ) {}

  /** Runs in progress started by this server. */
  runDirs(): string[] {
    return [...this.live.keys()];
  }

  /** Spawns the trainer; resolves once it reports `started` (its run dir exists then). */
  start(params: TrainParams): Promise<TrainResult> {
    const configPath = path.resolve(this.cwd, params.configPath);
    const args = [this.cliPath(), ...trainArgs({ ...params, configPath })];
    const child = spawn(process.execPath, args, { cwd: this.cwd, env: nodeChildEnv(), stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true, detached: true });
    const stderrTail = new LineTail(30);
    const stdoutTail = new LineTail(10);
    let run: LiveRun | undefined;
    const log = (level: LogParams['level'], message: string) => this.notifier.notify(Notifications.log, { level, message } satisfies LogParams);

    return new Promise<TrainResult>((resolve, reject) => {
      onLines(child.stderr!, (line) => {
        stderrTail.push(line);
        log('info', `[train ${run ? path.basename(run.runDir) : path.basename(configPath)}] ${line}`);
      });
      onLines(child.stdout!, (line) => {
        let ev: TrainEvent;
        try {
          ev = JSON.parse(line) as TrainEvent;
        } catch {
          // Not an event: a stray print. Keep it visible in the log rather than failing the run.
          stdoutTail.push(line);
          log('info', `[train] ${line}`);
          return;
        }
        if (ev.event === 'started') {
          const runDir = path.resolve(this.cwd, ev.runDir);
          run = { child, runDir, finished: false };
          this.live.set(runDir, run);
          this.notifier.notify(Notifications.runState, { runDir, state: 'running' } satisfies RunStateParams);
          resolve({ runId: ev.runId, runDir, pid: ev.pid });
          return;
        }
        if (!run) {
          log('warn', `[train] event before "started" ignored: ${line}`);
          return;
        }
        this.relay(run, ev);
      });
      child.once('error', (err) => reject(new Error(`cannot start the trainer (${process.execPath} ${args.join(' ')}): ${err.message}`)));
      // 'close', not 'exit': it fires after stdout is drained, so a last `finished` line is seen.
      child.once('close', (code, signal) => {
        const how = signal ? `signal ${signal}` : `exit code ${code}`;
        const tail = stderrTail.text() || stdoutTail.text();
        if (!run) {
          reject(startFailure(configPath, code, signal, stderrTail.list(), stdoutTail.list()));
          return;
        }
        this.live.delete(run.runDir);
        if (!run.finished) {
          // The process died without a `finished` event (killed, out of memory, a crash in
          // native code): the run directory must not keep saying "running".
          const error = `the training process ended unexpectedly (${how})${tail ? `; last output:\n${tail}` : ''}`;
          markFailedIfRunning(run.runDir, error);
          this.notifier.notify(Notifications.runState, { runDir: run.runDir, state: 'failed', error } satisfies RunStateParams);
        }
      });
    });
  }

  private relay(run: LiveRun, ev: TrainEvent): void {
    const runDir = run.runDir;
    switch (ev.event) {
      case 'progress': {
        const { step, totalSteps, epoch, loss, samplesPerSec, etaSeconds } = ev;
        this.notifier.notify(Notifications.progress, { runDir, step, totalSteps, epoch, loss, samplesPerSec, etaSeconds } satisfies ProgressParams);
        return;
      }
      case 'metrics':
        this.notifier.notify(Notifications.metrics, { runDir, line: ev.line } satisfies MetricsParams);
        return;
      case 'router':
        this.notifier.notify(Notifications.router, { runDir, line: ev.line } satisfies RouterParams);
        return;
      case 'checkpoint':
        this.notifier.notify(Notifications.log, { level: 'info', message: `[train ${path.basename(runDir)}] checkpoint at step ${ev.step}: ${ev.path}` } satisfies LogParams);
        return;
      case 'finished':
        run.finished = true;
        this.notifier.notify(Notifications.runState, { runDir, state: ev.state, error: ev.error } satisfies RunStateParams);
        return;
      default:
        this.notifier.notify(Notifications.log, { level: 'warn', message: `[train] unknown event ignored: ${JSON.stringify(ev)}` } satisfies LogParams);
    }
  }

  /**
   * Asks a run to stop: SIGTERM makes the trainer write a checkpoint and exit with state
   * `stopped`. Works for runs this server did not start (the CLI, or the server of a window
   * before a reload) through status.json's pid.
   */
  stop(runDir: string): StopResult {
    const dir = path.resolve(this.cwd, runDir);
    const mine = this.live.get(dir);
    // A run that reported `finished` is only tidying up its process: nothing left to stop.
    if (mine) return { stopped: !mine.finished && mine.child.kill('SIGTERM') };
    const status = readStatus(dir);
    if (status.state !== 'running') return { stopped: false };
    if (!isProcessAlive(status.pid)) {
      markFailedIfRunning(dir, `the training process (pid ${status.pid}) is gone; it ended without updating ${dir}`);
      return { stopped: false };
    }
    process.kill(status.pid, 'SIGTERM');
    return { stopped: true };
  }
}
