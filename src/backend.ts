// The VS Code side of the backend: where the server is, where its logs go (the "Lily" output
// channel), what the user is told when it keeps crashing, and typed access to its
// notifications. Spawning and restarting live in backendProcess.ts (tested without VS Code).
import * as vscode from 'vscode';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import {
  Notifications, type LogParams, type MetricsParams, type ProgressParams, type RunStateParams,
} from '../native-runtime/protocol';
import { BackendSupervisor, type BackendState, type RunningBackend } from './backendProcess';
import { workspaceRoot } from './settings';

export type { RunningBackend } from './backendProcess';

export class Backend implements vscode.Disposable {
  private readonly supervisor: BackendSupervisor;
  private readonly disposables: vscode.Disposable[] = [];

  readonly onProgress = this.emitter<ProgressParams>();
  readonly onMetrics = this.emitter<MetricsParams>();
  readonly onRunState = this.emitter<RunStateParams>();
  readonly onState = this.emitter<BackendState>();
  /** The restart policy gave up (the reason says so and how to restart). */
  readonly onGaveUp = this.emitter<string>();

  constructor(context: vscode.ExtensionContext, private readonly output: vscode.OutputChannel) {
    const server = context.asAbsolutePath('out/native-runtime/server.js');
    this.supervisor = new BackendSupervisor(
      {
        // The extension host's own runtime: Electron's Node when ELECTRON_RUN_AS_NODE is set,
        // so users need no separate Node installation.
        command: process.execPath,
        args: [server],
        cwd: workspaceRoot() ?? context.extensionPath,
        env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
      },
      {
        onStderr: (text) => output.append(text),
        onConnection: (c) => this.wire(c),
        onState: (s) => this.onState.fire(s),
        onRestart: (attempt, reason) => output.appendLine(`[lily] backend ${reason}; restarting (${attempt} of 4 within 3 minutes)`),
        onGiveUp: (reason) => {
          output.appendLine(`[lily] ${reason}`);
          this.onGaveUp.fire(reason);
          void vscode.window.showErrorMessage(reason, 'Show Log', 'Restart Backend').then((choice) => {
            if (choice === 'Show Log') output.show(true);
            if (choice === 'Restart Backend') void this.restart();
          });
        },
      },
    );
  }

  /** The running backend (starting it on first use); rejects with a user-facing reason. */
  ready(): Promise<RunningBackend> {
    return this.supervisor.ready();
  }

  async request<R>(method: string, params: unknown): Promise<R> {
    const b = await this.ready();
    try {
      return await b.request<R>(method, params);
    } catch (e) {
      // JSON-RPC errors carry the server's message; drop the "Request X failed with message:" wrapper.
      const msg = (e as Error).message ?? String(e);
      throw new Error(msg.replace(/^Request \S+ failed with message: /, ''));
    }
  }

  get state(): BackendState {
    return this.supervisor.currentState;
  }

  async restart(): Promise<RunningBackend> {
    this.output.appendLine('[lily] restarting the backend');
    return this.supervisor.restart();
  }

  async dispose(): Promise<void> {
    for (const d of this.disposables) d.dispose();
    await this.supervisor.dispose();
  }

  private wire(c: MessageConnection): void {
    c.onNotification(Notifications.progress, (p: ProgressParams) => this.onProgress.fire(p));
    c.onNotification(Notifications.metrics, (p: MetricsParams) => this.onMetrics.fire(p));
    // Notifications.router is not relayed: the dashboard reads router.jsonl from the run
    // directory, which also serves runs this backend did not start (CLI, before a reload).
    c.onNotification(Notifications.runState, (p: RunStateParams) => this.onRunState.fire(p));
    c.onNotification(Notifications.log, (p: LogParams) => this.output.appendLine(`[${p.level}] ${p.message}`));
  }

  private emitter<T>(): vscode.EventEmitter<T> & { event: vscode.Event<T> } {
    const e = new vscode.EventEmitter<T>();
    this.disposables.push(e);
    return e;
  }
}
