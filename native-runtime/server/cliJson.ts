// Runs a `lily <command> ... --json` process and returns its parsed JSON answer. inspect and
// export can take long (router statistics over an eval set), so they run outside the server
// process, and a cancelled request kills them.
import { spawn } from 'child_process';
import { LineTail } from './lines';
import { nodeChildEnv } from './paths';

export interface Cancellable {
  onCancellationRequested(listener: () => void): { dispose(): void };
}

export function runCliJson<T>(cliPath: string, args: string[], cwd: string, token?: Cancellable, opts: { okExitCodes?: number[] } = {}): Promise<T> {
  const ok = opts.okExitCodes ?? [0];
  return new Promise<T>((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd, env: nodeChildEnv(), stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    let stdout = '';
    const stderr = new LineTail(30);
    let stderrPending = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (s: string) => { stdout += s; });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      const parts = (stderrPending + s).split('\n');
      stderrPending = parts.pop() ?? '';
      for (const p of parts) stderr.push(p);
    });
    const cancel = token?.onCancellationRequested(() => child.kill('SIGTERM'));
    const command = `lily ${args.join(' ')}`;
    child.once('error', (err) => { cancel?.dispose(); reject(new Error(`cannot run ${command}: ${err.message}`)); });
    child.once('close', (code, signal) => {
      cancel?.dispose();
      if (stderrPending) stderr.push(stderrPending);
      if (code === null || !ok.includes(code)) {
        const why = signal ? `signal ${signal}` : `exit code ${code}`;
        const tail = stderr.text();
        reject(new Error(`${command} failed (${why})${tail ? `:\n${tail}` : ''}`));
        return;
      }
      try {
        resolve(parseJsonOutput<T>(stdout));
      } catch (e) {
        // An accepted non-zero exit without a result (e.g. exit 2 for a config error): its message.
        const tail = stderr.text();
        if (code !== 0 && tail) reject(new Error(`${command} failed (exit code ${code}):\n${tail}`));
        else reject(new Error(`${command} printed no JSON result (${(e as Error).message}); output was:\n${stdout.slice(-2000)}`));
      }
    });
  });
}

/** The whole stdout as JSON, or else its last non-empty line (a CLI may print progress first). */
export function parseJsonOutput<T>(stdout: string): T {
  const text = stdout.trim();
  try {
    return JSON.parse(text) as T;
  } catch (whole) {
    const last = text.split('\n').map((l) => l.trim()).filter(Boolean).pop();
    if (last === undefined) throw new Error('empty output');
    try {
      return JSON.parse(last) as T;
    } catch {
      throw whole;
    }
  }
}
