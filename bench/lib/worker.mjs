// A benchmark worker process (bench/ours/protocol.ts): spawned once, answers one JSON line per
// command. Its stderr is kept (the tail goes into any error) so a failing worker says why.
import { spawn } from 'node:child_process';
import * as readline from 'node:readline';

export class Worker {
  /**
   * @param {string} label  e.g. "ours lily 768x12", used in errors
   * @param {string} command
   * @param {string[]} args
   * @param {NodeJS.ProcessEnv} env
   * @param {string} cwd  the repository root (Node workers resolve `--import tsx` from there)
   */
  constructor(label, command, args, env, cwd) {
    this.label = label;
    this.stderr = '';
    this.child = spawn(command, args, { env, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d) => {
      this.stderr = (this.stderr + d.toString()).slice(-6000);
    });
    this.lines = readline.createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** The next reply line, parsed; throws with the worker's stderr when it dies instead. */
  async next() {
    const line = await Promise.race([
      this.lines.next(),
      this.exited.then(({ code, signal }) => ({ died: true, code, signal })),
    ]);
    if (line.died || line.done) {
      const { code, signal } = await this.exited;
      throw new Error(`${this.label}: worker exited (code ${code}, signal ${signal}) before answering.\n--- its stderr (tail) ---\n${this.stderr}`);
    }
    try {
      return JSON.parse(line.value);
    } catch {
      throw new Error(`${this.label}: worker printed a line that is not JSON: ${line.value.slice(0, 200)}\n--- its stderr (tail) ---\n${this.stderr}`);
    }
  }

  send(obj) {
    this.child.stdin.write(JSON.stringify(obj) + '\n');
  }

  /** Runs `steps` timed steps; returns {ms: number[], loss}. */
  async run(steps) {
    this.send({ cmd: 'run', steps });
    return this.next();
  }

  /** Ends the worker; returns its peak resident memory in MB. */
  async quit() {
    this.send({ cmd: 'quit' });
    const r = await this.next();
    this.child.stdin.end();
    await this.exited;
    return r.peak_rss_mb;
  }

  kill() {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
