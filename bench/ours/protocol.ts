// The line protocol between bench/run.mjs and its worker processes (ours in Node, torch in
// Python): one JSON object per line on stdin (commands) and stdout (replies); logs go to stderr.
// Each side runs in its own process so that its peak resident memory (VmHWM) is its own.
//
//   worker -> {"ready": true, ...startup facts}          once, after the first training step
//   {"cmd": "run", "steps": N}   -> {"ms": [t1, ..., tN], "loss": last loss}
//   {"cmd": "eval"}              -> {"loss": mean loss over the fixed eval batches} (workers that have them)
//   {"cmd": "quit"}              -> {"peak_rss_mb": VmHWM in MB}, then the worker exits
import * as fs from 'fs';
import * as readline from 'readline';

export interface RunCommand { cmd: 'run'; steps: number }
export interface QuitCommand { cmd: 'quit' }
export interface EvalCommand { cmd: 'eval' }
export type Command = RunCommand | QuitCommand | EvalCommand;

export function reply(obj: object): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

/** Peak resident set size of this process in MB, from /proc/self/status (Linux). */
export function peakRssMb(): number {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error('/proc/self/status has no VmHWM line (the benchmark needs Linux to read peak memory)');
  return Number(m[1]) / 1024;
}

/** Serves commands until `quit`; `run` calls `runSteps(n)` which returns per-step times. */
export async function serve(runSteps: (n: number) => Promise<{ ms: number[]; loss: number }>, onQuit?: () => Promise<void>, onEval?: () => Promise<{ loss: number }>): Promise<void> {
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (!line.trim()) continue;
    const cmd = JSON.parse(line) as Command;
    if (cmd.cmd === 'run') {
      reply(await runSteps(cmd.steps));
    } else if (cmd.cmd === 'eval' && onEval) {
      reply(await onEval());
    } else if (cmd.cmd === 'quit') {
      await onQuit?.();
      reply({ peak_rss_mb: peakRssMb() });
      rl.close();
      return;
    } else {
      throw new Error(`bench worker: unknown command ${JSON.stringify(cmd)} (expected run or quit)`);
    }
  }
}
