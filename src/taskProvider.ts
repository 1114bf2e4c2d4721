// A `lily` task type: `{ "type": "lily", "config": "path/to/x.lily.json" }` trains as a VS Code
// task (in the terminal panel, with the CLI's human-readable progress). A custom execution, so
// that closing the terminal sends SIGTERM: the trainer then writes a checkpoint and stops,
// instead of being killed mid-step. It ends with the CLI's exit code, after its message; an
// exit within VS Code's launch window (~0.5 s, e.g. a config error found at once) would read as
// "The terminal process failed to launch", so the end is reported no sooner than MIN_RUN_MS.
import { spawn, type ChildProcess } from 'child_process';
import * as path from 'path';
import * as vscode from 'vscode';
import { readSettings } from './settings';
import { MIN_RUN_MS, endLine } from './taskModel';

export const TASK_TYPE = 'lily';

interface LilyTaskDefinition extends vscode.TaskDefinition {
  config: string;
  maxSteps?: number;
  compareWithLora?: boolean;
}

export class LilyTaskProvider implements vscode.TaskProvider {
  constructor(private readonly context: vscode.ExtensionContext) {}

  async provideTasks(): Promise<vscode.Task[]> {
    const files = await vscode.workspace.findFiles('**/*.lily.json', '**/node_modules/**', 50);
    return files.map((f) => {
      const folder = vscode.workspace.getWorkspaceFolder(f);
      const rel = folder ? path.relative(folder.uri.fsPath, f.fsPath).split(path.sep).join('/') : f.fsPath;
      return this.makeTask({ type: TASK_TYPE, config: rel }, folder ?? vscode.TaskScope.Workspace);
    });
  }

  resolveTask(task: vscode.Task): vscode.Task | undefined {
    const def = task.definition as LilyTaskDefinition;
    if (typeof def.config !== 'string' || !def.config) return undefined;
    return this.makeTask(def, task.scope ?? vscode.TaskScope.Workspace);
  }

  /** A one-off task running `lily ARGS` in the terminal panel (Lily: Sweep...). */
  cliTask(label: string, args: string[], cwd: string): vscode.Task {
    const task = new vscode.Task(
      { type: TASK_TYPE, config: args[1] ?? '' }, vscode.TaskScope.Workspace, label, 'lily',
      new vscode.CustomExecution(async () => new TrainTerminal(this.context.asAbsolutePath(path.join('bin', 'lily.js')), [...args, ...runtimeArgs()], cwd)),
    );
    task.detail = `lily ${args.join(' ')}`;
    return task;
  }

  private makeTask(def: LilyTaskDefinition, scope: vscode.WorkspaceFolder | vscode.TaskScope.Workspace | vscode.TaskScope.Global): vscode.Task {
    const cwd = typeof scope === 'object' ? scope.uri.fsPath : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? process.cwd();
    const task = new vscode.Task(
      def, scope, `train ${path.basename(def.config).replace(/\.lily\.json$/i, '')}`, 'lily',
      new vscode.CustomExecution(async () => new TrainTerminal(this.context.asAbsolutePath(path.join('bin', 'lily.js')), trainCliArgs(def), cwd)),
    );
    task.group = vscode.TaskGroup.Build;
    task.detail = `lily train ${def.config}`;
    return task;
  }
}

/** --device / --threads from the lily.* settings. */
function runtimeArgs(): string[] {
  const s = readSettings();
  const args: string[] = [];
  if (s.device !== 'auto') args.push('--device', s.device);
  if (s.threads !== undefined) args.push('--threads', String(s.threads));
  return args;
}

function trainCliArgs(def: LilyTaskDefinition): string[] {
  const args = ['train', def.config, ...runtimeArgs()];
  if (def.maxSteps !== undefined) args.push('--max-steps', String(def.maxSteps));
  if (def.compareWithLora) args.push('--compare-lora');
  return args;
}

/** A pseudoterminal running `lily train` in a child process. */
class TrainTerminal implements vscode.Pseudoterminal {
  private readonly write = new vscode.EventEmitter<string>();
  private readonly done = new vscode.EventEmitter<number>();
  readonly onDidWrite = this.write.event;
  readonly onDidClose = this.done.event;
  private child: ChildProcess | undefined;
  private openedAt = 0;

  constructor(private readonly cli: string, private readonly args: string[], private readonly cwd: string) {}

  open(): void {
    this.openedAt = Date.now();
    if (!vscode.workspace.isTrusted) {
      this.write.fire('Training is disabled in an untrusted workspace. Trust the workspace to run this task.\r\n');
      this.finish(1);
      return;
    }
    this.write.fire(`> lily ${this.args.join(' ')}\r\n`);
    const child = spawn(process.execPath, [this.cli, ...this.args], { cwd: this.cwd, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', FORCE_COLOR: '1' } });
    this.child = child;
    // A terminal needs CRLF line ends.
    const out = (b: Buffer) => this.write.fire(b.toString('utf8').replace(/\r?\n/g, '\r\n'));
    child.stdout.on('data', out);
    child.stderr.on('data', out);
    child.on('error', (e) => { this.write.fire(`cannot start lily: ${e.message}\r\n`); this.finish(1); });
    child.on('close', (code, signal) => {
      this.write.fire(`\r\n${endLine(code, signal)}\r\n`);
      this.finish(code ?? 1);
    });
  }

  /** Ends the task with `code`, not inside VS Code's launch window (see the file comment). */
  private finish(code: number): void {
    const wait = Math.max(0, this.openedAt + MIN_RUN_MS - Date.now());
    setTimeout(() => this.done.fire(code), wait);
  }

  close(): void {
    // Graceful: the trainer checkpoints on SIGTERM and exits with state "stopped".
    if (this.child && this.child.exitCode === null) this.child.kill('SIGTERM');
  }

  handleInput(data: string): void {
    // Ctrl+C stops the run the same gentle way.
    if (data === '\x03') this.close();
  }
}
