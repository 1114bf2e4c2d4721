// "Lily: Sweep...": the grid the user typed, the "how many at a time" choices with the threads
// each run would get (the CLI's split: floor(threads / N), at least 1), and the `lily sweep`
// arguments. No vscode import: tested in plain Node.

/** "training.lr=1e-3,3e-3  adapter.scaling=1,2" -> its axes. */
export function sweepAxes(text: string): string[] {
  return text.trim().split(/\s+/).filter(Boolean);
}

/** Undefined when every axis reads FIELD.PATH=V1,V2; otherwise what to write instead. */
export function gridProblem(text: string): string | undefined {
  const axes = sweepAxes(text);
  return axes.length > 0 && axes.every((a) => /^[A-Za-z_][\w.]*=[^=]+$/.test(a))
    ? undefined
    : 'Write FIELD.PATH=V1,V2 (e.g. training.lr=1e-3,3e-3), axes separated by spaces';
}

/** Number of runs the grid makes (product of the value counts). */
export function gridSize(text: string): number {
  return sweepAxes(text).reduce((n, a) => n * a.slice(a.indexOf('=') + 1).split(',').filter((v) => v.trim()).length, 1);
}

export interface ParallelChoice {
  parallel: number;
  label: string;
  description: string;
}

/** 1, 2, ... up to min(runs, threads) at a time, each with the threads a run would get. */
export function parallelChoices(runs: number, threads: number): ParallelChoice[] {
  const most = Math.max(1, Math.min(runs, threads));
  const out: ParallelChoice[] = [];
  for (let n = 1; n <= most; n++) {
    const each = Math.max(1, Math.floor(threads / n));
    out.push({
      parallel: n,
      label: n === 1 ? 'One at a time' : `${n} at a time`,
      description: `${runs} run${runs === 1 ? '' : 's'}, ${each} thread${each === 1 ? '' : 's'} each (${threads} / ${n})`,
    });
  }
  return out;
}

export function sweepCliArgs(configPath: string, grid: string, opts: { parallel?: number; maxSteps?: number; threads?: number; device?: string }): string[] {
  const [first, ...more] = sweepAxes(grid);
  return [
    'sweep', configPath, '--grid', first, ...more,
    ...(opts.parallel !== undefined && opts.parallel > 1 ? ['--parallel', String(opts.parallel)] : []),
    ...(opts.threads !== undefined ? ['--threads', String(opts.threads)] : []),
    ...(opts.device !== undefined ? ['--device', opts.device] : []),
    ...(opts.maxSteps !== undefined ? ['--max-steps', String(opts.maxSteps)] : []),
  ];
}
