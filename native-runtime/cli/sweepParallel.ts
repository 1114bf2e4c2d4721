// `lily sweep --parallel N`: N points train at once, each in its own `lily sweep ... --point K`
// process (session.run blocks a process's event loop for a whole step, so runs in one process
// would take turns rather than overlap). Each gets floor(threads / N) intra-op threads, so the
// sweep uses the threads one run would. Its log lines are prefixed with the point; with --json
// its events are passed on with `point` (0-based index) added. Ctrl-C / SIGTERM stops the
// running points the gentle way (each writes a checkpoint) and starts no more.
import { spawn, type ChildProcess } from 'child_process';
import { LineTail, onLines } from '../server/lines';
import { lilyCliPath, nodeChildEnv } from '../server/paths';
import type { PointResult } from './sweepPoint';
import { EXIT } from '../errors';

export interface ParallelPlan {
  /** Points to train: 0-based grid index and label. */
  points: Array<{ index: number; label: string }>;
  parallel: number;
  /** Arguments of the sweep itself (after `lily`), repeated by every point process. */
  sweepArgs: string[];
  threadsPerRun: number;
  cwd: string;
  sweepId: string;
  log: (line: string) => void;
  /** Each point's TrainEvent, when the sweep prints JSON. */
  onEvent?: (event: Record<string, unknown>) => void;
}

export interface ParallelOutcome {
  results: PointResult[];
  /** A stop was requested (signal): points not started are left out of `results`. */
  stopped: boolean;
  /** A point process refused its input (exit 2). */
  invalidInput: boolean;
}

/** `lily sweep ... --point K` arguments of one point (K is 1-based on the command line). */
export function pointArgs(plan: Pick<ParallelPlan, 'sweepArgs' | 'threadsPerRun' | 'sweepId' | 'parallel'>, index: number): string[] {
  return [
    ...plan.sweepArgs, '--point', String(index + 1), '--sweep-id', plan.sweepId,
    '--threads', String(plan.threadsPerRun), '--parallel', String(plan.parallel), '--json',
  ];
}

export async function runParallel(plan: ParallelPlan): Promise<ParallelOutcome> {
  const cli = lilyCliPath();
  const queue = [...plan.points];
  const live = new Set<ChildProcess>();
  const results: PointResult[] = [];
  let stopped = false;
  let invalidInput = false;
  const onSignal = () => {
    stopped = true;
    // Each point's trainer checkpoints and ends on SIGTERM (a Ctrl-C in a terminal reaches them too).
    for (const child of live) child.kill('SIGTERM');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const runPoint = (point: { index: number; label: string }) => new Promise<void>((resolve) => {
    const prefix = `[${point.index + 1}/${plan.points.length} ${point.label}]`;
    const child = spawn(process.execPath, [cli, ...pointArgs(plan, point.index)], { cwd: plan.cwd, env: nodeChildEnv(), stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    live.add(child);
    const stderrTail = new LineTail(5);
    let result: PointResult | undefined;
    onLines(child.stderr!, (line) => {
      stderrTail.push(line);
      plan.log(`${prefix} ${line}`);
    });
    onLines(child.stdout!, (line) => {
      let ev: Record<string, unknown>;
      try {
        ev = JSON.parse(line) as Record<string, unknown>;
      } catch {
        plan.log(`${prefix} ${line}`);
        return;
      }
      if (ev.event === 'sweep-point') result = ev.result as PointResult;
      else plan.onEvent?.({ ...ev, point: point.index });
    });
    let finished = false;
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      if (finished) return; // 'error' can be followed by 'close'
      finished = true;
      live.delete(child);
      if (code === EXIT.invalidInput) invalidInput = true;
      results.push(result ?? {
        index: point.index, label: point.label, state: code === EXIT.interrupted || signal ? 'stopped' : 'failed',
        error: `the point process ended (${signal ? `signal ${signal}` : `exit code ${code}`}) before its run finished${stderrTail.text() ? `: ${stderrTail.list().slice(-1)[0]}` : ''}`,
      });
      resolve();
    };
    child.once('error', (err) => { plan.log(`${prefix} cannot start: ${err.message}`); done(EXIT.failure, null); });
    child.once('close', done);
  });

  const worker = async () => {
    for (let next = queue.shift(); next && !stopped; next = queue.shift()) await runPoint(next);
  };
  try {
    await Promise.all(Array.from({ length: Math.min(plan.parallel, plan.points.length) }, worker));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  results.sort((a, b) => a.index - b.index);
  return { results, stopped, invalidInput };
}
