// Spawns the backend server, speaks JSON-RPC to it over stdio, and restarts it when it crashes
// (within the RestartPolicy). No vscode import, so the crash/restart behaviour is tested in plain
// Node against real processes; backend.ts adds the VS Code side (output channel, messages).
import { spawn, type ChildProcess } from 'child_process';
import {
  createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection,
} from 'vscode-jsonrpc/node';
import { Methods, PROTOCOL_VERSION, type InitializeParams, type InitializeResult } from '../native-runtime/protocol';
import { RestartPolicy } from './restartPolicy';

export interface BackendLaunch {
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Proof that the backend is up: only `BackendSupervisor.ready()` hands these out, and only after
 * the initialize handshake succeeded. Code holding one can send requests without checking state
 * (rust-analyzer's "context that proves the server runs").
 */
export interface RunningBackend {
  readonly connection: MessageConnection;
  readonly process: ChildProcess;
  readonly info: InitializeResult;
  request<R>(method: string, params: unknown): Promise<R>;
}

export type BackendState = 'starting' | 'running' | 'stopped' | 'disposed';

export interface SupervisorHooks {
  /** Backend stderr (its logs), as text chunks. */
  onStderr?(text: string): void;
  /** Called for every new connection, before initialize, to register notification handlers. */
  onConnection?(connection: MessageConnection): void;
  onState?(state: BackendState): void;
  /** The backend crashed and is being restarted (attempt counts crashes in the window). */
  onRestart?(attempt: number, reason: string): void;
  /** The backend crashed too often; it stays down until `restart()`. */
  onGiveUp?(reason: string, stderrTail: string): void;
}

const STDERR_TAIL_CHARS = 4000;

export class BackendSupervisor {
  private state: BackendState = 'stopped';
  private running: RunningBackend | undefined;
  private starting: Promise<RunningBackend> | undefined;
  private stopping = false;
  private stderrTail = '';
  private gaveUpReason: string | undefined;
  /** Resolved each time the state changes, for tests and for `ready()` waiting through a restart. */
  private waiters: Array<() => void> = [];
  readonly restarts: number[] = [];

  constructor(
    private readonly launch: BackendLaunch,
    private readonly hooks: SupervisorHooks = {},
    private readonly policy = new RestartPolicy(),
    private readonly clientName = 'lily-vscode',
  ) {}

  get currentState(): BackendState {
    return this.state;
  }

  /** Starts the backend if it is not running; resolves once the handshake is done. */
  start(): Promise<RunningBackend> {
    if (this.state === 'disposed') return Promise.reject(new Error('the Lily backend was shut down with the extension'));
    if (this.running) return Promise.resolve(this.running);
    if (this.starting) return this.starting;
    this.gaveUpReason = undefined;
    this.setState('starting');
    return this.beginAttempt();
  }

  /**
   * The running backend, waiting through a start or an automatic restart. Rejects when the
   * backend gave up after repeated crashes (with the reason), or was disposed.
   */
  async ready(): Promise<RunningBackend> {
    for (;;) {
      if (this.running) return this.running;
      if (this.state === 'disposed') throw new Error('the Lily backend was shut down with the extension');
      if (this.gaveUpReason) throw new Error(this.gaveUpReason);
      try {
        return await (this.starting ?? this.start());
      } catch {
        // The attempt failed. Its exit handler has already run (synchronously, before this
        // rejection was delivered) and either began another attempt or gave up: look again.
      }
    }
  }

  /** Manual restart: forgets earlier crashes (the user asked for it). */
  async restart(): Promise<RunningBackend> {
    this.policy.reset();
    await this.stop();
    if (this.state === 'disposed') throw new Error('the Lily backend was shut down with the extension');
    return this.start();
  }

  /** Graceful stop: asks the backend to shut down, kills it if it does not exit within 3 s. */
  async stop(): Promise<void> {
    const running = this.running;
    if (this.starting) await this.starting.catch(() => undefined);
    const target = this.running ?? running;
    if (!target) return;
    this.stopping = true;
    try {
      const exited = new Promise<void>((resolve) => {
        if (target.process.exitCode !== null || target.process.signalCode !== null) resolve();
        else target.process.once('exit', () => resolve());
      });
      await Promise.race([
        target.connection.sendRequest(Methods.shutdown, {}).catch(() => undefined),
        delay(3000),
      ]);
      // Closing its stdin tells the server the reply arrived and it may exit.
      target.process.stdin?.end();
      const killTimer = setTimeout(() => target.process.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(killTimer);
    } finally {
      this.stopping = false;
      this.running = undefined;
      if (this.state !== 'disposed') this.setState('stopped');
    }
  }

  async dispose(): Promise<void> {
    await this.stop();
    this.setState('disposed');
  }

  /** Resolves at the next state change (used by tests and by `ready`). */
  nextStateChange(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private setState(s: BackendState): void {
    this.state = s;
    this.hooks.onState?.(s);
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** One launch attempt; `starting` points at it until it settles. */
  private beginAttempt(): Promise<RunningBackend> {
    const attempt = this.spawnOnce();
    this.starting = attempt;
    const clear = () => { if (this.starting === attempt) this.starting = undefined; };
    attempt.then(clear, clear);
    return attempt;
  }

  private async spawnOnce(): Promise<RunningBackend> {
    const child = spawn(this.launch.command, this.launch.args, {
      cwd: this.launch.cwd,
      env: this.launch.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL_CHARS);
      this.hooks.onStderr?.(text);
    });
    const connection = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
    // A broken pipe is reported through 'exit'; without this handler it would be an uncaught error.
    child.stdin!.on('error', () => undefined);
    this.hooks.onConnection?.(connection);
    connection.listen();

    let handshakeDone = false;
    /** Set when retrying cannot help (no such executable, protocol mismatch). */
    let fatal: string | undefined;
    const exitedEarly = new Promise<never>((_, reject) => {
      child.once('error', (err) => {
        // spawn failures (ENOENT, EACCES) emit 'error' and possibly no 'exit': give up now.
        fatal = `cannot start the Lily backend (${this.launch.command}): ${err.message}`;
        reject(new Error(fatal));
        this.giveUp(fatal);
      });
      child.once('exit', (code, signal) => {
        if (!handshakeDone) reject(new Error(`the Lily backend exited during startup (${describeExit(code, signal)})${tailNote(this.stderrTail)}`));
      });
    });
    child.once('exit', (code, signal) => {
      connection.dispose();
      if (this.running?.process === child) this.running = undefined;
      if (this.stopping || this.state === 'disposed' || this.gaveUpReason) return;
      if (fatal) return this.giveUp(fatal);
      this.onCrash(`exited unexpectedly (${describeExit(code, signal)})`);
    });

    try {
      const params: InitializeParams = { clientName: this.clientName, protocolVersion: PROTOCOL_VERSION };
      const info = await Promise.race([connection.sendRequest<InitializeResult>(Methods.initialize, params), exitedEarly]);
      if (info.protocolVersion !== PROTOCOL_VERSION) {
        fatal = `the Lily backend speaks protocol ${info.protocolVersion}, this extension ${PROTOCOL_VERSION}: rebuild with \`npm run build\``;
        this.giveUp(fatal);
        throw new Error(fatal);
      }
      handshakeDone = true;
      const running: RunningBackend = {
        connection, process: child, info,
        request: <R>(method: string, p: unknown) => connection.sendRequest<R>(method, p),
      };
      this.running = running;
      this.setState('running');
      return running;
    } catch (e) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      throw e;
    }
  }

  private onCrash(reason: string): void {
    const decision = this.policy.onCrash();
    if (decision.action === 'restart') {
      this.restarts.push(Date.now());
      this.hooks.onRestart?.(decision.attempt, reason);
      this.setState('starting');
      // Failures surface through the child's 'exit' handler (another crash) or `ready()`.
      this.beginAttempt().catch(() => undefined);
      return;
    }
    const minutes = Math.round(decision.windowMs / 60000);
    this.giveUp(`The Lily backend crashed ${decision.crashes} times in ${minutes} minutes and will not be restarted (last: ${reason}).`);
  }

  private giveUp(reason: string): void {
    if (this.gaveUpReason || this.state === 'disposed') return;
    this.gaveUpReason = `${reason} See the "Lily" output for its log, then run "Lily: Restart Backend".`;
    this.setState('stopped');
    this.hooks.onGiveUp?.(this.gaveUpReason, this.stderrTail);
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `exit code ${code}`;
}

function tailNote(tail: string): string {
  const t = tail.trim();
  return t ? `:\n${t.split('\n').slice(-15).join('\n')}` : '';
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
