// How a torch-backend run starts: the Python interpreter, and the command line that runs the
// trainer script (lily_train.py beside this file) on one process, on `runtime.processes` local
// processes under torchrun (`python -m torch.distributed.run`, loopback rendezvous), or through
// the user's `runtime.launch` template (`{script}`, `{args}`, and `{python}` substituted,
// shell-quoted), e.g. an srun/sbatch line or a multi-node torchrun.
import * as fs from 'fs';
import * as path from 'path';

/** native-runtime/torch/ in the source tree (also from the compiled out/ folder). */
export function torchPackageDir(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'native-runtime', 'torch');
    if (fs.existsSync(path.join(candidate, 'lily_train.py'))) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`cannot find native-runtime/torch/lily_train.py above ${__dirname}; the installation is incomplete`);
  }
}

export const trainerScript = (): string => path.join(torchPackageDir(), 'lily_train.py');

/**
 * The interpreter: the explicit choice (`--python`, VS Code's lily.pythonPath or the Python
 * extension's), else `LILY_PYTHON`, else the working folder's `.venv` (what scripts/setup-python.sh
 * makes), else `python3` from PATH.
 */
export function choosePython(explicit: string | undefined, cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return explicit;
  if (env.LILY_PYTHON) return env.LILY_PYTHON;
  const venv = path.join(cwd, '.venv', process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
  return fs.existsSync(venv) ? venv : 'python3';
}

export interface LaunchPlan {
  /** argv (no shell) or a shell command line (a template). */
  command: string;
  args: string[];
  shell: boolean;
  /** What the run's status and log say about how it was started. */
  description: string;
}

/** POSIX shell quoting for template substitution. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_\-./=:@%+,]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function launchPlan(o: { python: string; processes: number; launch?: string; trainerArgs: string[]; port?: number }): LaunchPlan {
  const script = trainerScript();
  if (o.launch) {
    const line = o.launch
      .replace(/\{python\}/g, shellQuote(o.python))
      .replace(/\{script\}/g, shellQuote(script))
      .replace(/\{args\}/g, o.trainerArgs.map(shellQuote).join(' '));
    return { command: line, args: [], shell: true, description: `launch template: ${line}` };
  }
  if (o.processes <= 1) return { command: o.python, args: [script, ...o.trainerArgs], shell: false, description: '1 process' };
  const args = [
    '-m', 'torch.distributed.run', '--nnodes', '1', '--nproc-per-node', String(o.processes),
    '--master-addr', '127.0.0.1', '--master-port', String(o.port ?? 29500), script, ...o.trainerArgs,
  ];
  return { command: o.python, args, shell: false, description: `torchrun, ${o.processes} processes` };
}
