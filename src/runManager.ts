// Starting, stopping and resuming runs through the backend, and keeping the Runs model in step
// with the backend's notifications. Enforces workspace trust and lily.maxConcurrentRuns.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { Methods, type RunStateParams, type StopResult, type TrainParams, type TrainResult, type ValidateConfigResult } from '../native-runtime/protocol';
import type { Backend } from './backend';
import { showRunProgress } from './progressNotification';
import { resolvePython } from './pythonInterpreter';
import { refuse, UNTRUSTED_REASON, type CommandResult } from './results';
import { loadRunRecord } from './runRecords';
import { effectiveState, runItemView, type RunsModel } from './runsModel';
import { OUTSIDE_RUNS_KEY, type RunWatcher } from './runWatcher';
import { readSettings, workspaceRoot } from './settings';

export interface StartOptions {
  compareWithLora?: boolean;
  maxSteps?: number;
  /** Run directory to resume (its config is the one the run recorded). */
  resume?: string;
  /** Train on PyTorch + PEFT (Lily: Train on PyTorch...), with these launch choices. */
  torch?: { python?: string; processes?: number; launch?: string };
  /** The interpreter a resumed torch-backend run continues with (ignored by onnx runs). */
  python?: string;
}

export class RunManager implements vscode.Disposable {
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly backend: Backend,
    private readonly model: RunsModel,
    private readonly watcher: () => RunWatcher | undefined,
    private readonly output: vscode.OutputChannel,
    /** Where runs outside the runs directory are remembered (workspaceState). */
    private readonly memory?: vscode.Memento,
  ) {
    this.subscriptions.push(
      backend.onProgress.event((p) => { if (!model.applyProgress(p)) watcher()?.refresh(p.runDir); }),
      backend.onMetrics.event((p) => model.applyMetrics(p)),
      backend.onRunState.event((p) => this.onRunState(p)),
    );
  }

  async start(configPath: string, opts: StartOptions = {}): Promise<CommandResult<TrainResult>> {
    if (!vscode.workspace.isTrusted) return refuse(UNTRUSTED_REASON);
    // Runs are written under the working directory (the config's output.dir is relative to it).
    if (!workspaceRoot()) return refuse('open the folder that holds the config first: training writes its runs under the workspace folder (output.dir, default .lily/runs)');
    const settings = readSettings();
    const running = this.model.running().length;
    if (running >= settings.maxConcurrentRuns) {
      return refuse(`${running} run${running === 1 ? ' is' : 's are'} already training (lily.maxConcurrentRuns is ${settings.maxConcurrentRuns}). Stop one, or raise the setting.`);
    }
    // A config with errors would fail in the trainer after a second of start-up: say so now,
    // where the Problems view already shows the details.
    if (!opts.resume) {
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === configPath);
      // The torch backend validates with its own rules (model.path may be a Hugging Face folder).
      const text = opts.torch ? withTorchBackend(doc?.getText() ?? readText(configPath)) : doc?.getText();
      const v = await this.backend.request<ValidateConfigResult>(Methods.validateConfig, { configPath, text });
      const errors = v.diagnostics.filter((d) => d.severity === 'error');
      if (errors.length > 0) {
        return refuse(`${path.basename(configPath)} has ${errors.length} error${errors.length === 1 ? '' : 's'}; first: ${errors[0].message}. Fix ${errors.length === 1 ? 'it' : 'them'} (see Problems) and train again.`);
      }
      if (doc?.isDirty) await doc.save();
    }
    const params: TrainParams = {
      configPath,
      // 'auto' leaves the choice to the config's runtime.device; anything else overrides it.
      ...(settings.device !== 'auto' ? { device: settings.device } : {}),
      ...(settings.threads !== undefined ? { threads: settings.threads } : {}),
      ...(opts.maxSteps !== undefined ? { maxSteps: opts.maxSteps } : {}),
      ...(opts.resume ? { resume: opts.resume } : {}),
      ...(opts.compareWithLora ? { compareWithLora: true } : {}),
      ...(opts.python ? { python: opts.python } : {}),
      ...(opts.torch ? {
        backend: 'torch' as const,
        ...(opts.torch.python ? { python: opts.torch.python } : {}),
        ...(opts.torch.processes !== undefined ? { processes: opts.torch.processes } : {}),
        ...(opts.torch.launch ? { launch: opts.torch.launch } : {}),
      } : {}),
    };
    const result = await this.backend.request<TrainResult>(Methods.train, params);
    this.output.appendLine(`[lily] ${opts.resume ? 'resumed' : 'started'} ${result.runId} (pid ${result.pid}) in ${result.runDir}`);
    const watcher = this.watcher();
    watcher?.refresh(result.runDir);
    // A config's output.dir outside the watched runs directory: follow the run by polling, and
    // remember it, so that the window finds it again after a reload.
    if (watcher?.track(result.runDir)) void this.memory?.update(OUTSIDE_RUNS_KEY, watcher.outsideRuns().slice(-50));
    if (!this.model.get(result.runDir)) {
      const rec = loadRunRecord(result.runDir);
      if (rec) this.model.upsert(rec);
    }
    void showRunProgress(this.model, result.runDir, (runDir) => this.stop(runDir));
    return { ok: true, ...result };
  }

  /** Continues a run on its own schedule (the trainer refuses a new --max-steps with --resume). */
  async resume(runDir: string, configPath?: string): Promise<CommandResult<TrainResult>> {
    const rec = this.model.get(runDir);
    const config = configPath ?? rec?.status.config_path;
    if (!config) return refuse(`cannot resume ${runDir}: its status.json names no config_path; start a new run from the config instead`);
    if (rec && effectiveState(rec) === 'running') return refuse(`${rec.status.name} is still running`);
    // A torch-backend run resumes with the interpreter chosen as for "Train on PyTorch...".
    const chosen = await resolvePython(vscode.Uri.file(config));
    return this.start(config, { resume: runDir, ...(chosen.source !== 'default' ? { python: chosen.python } : {}) });
  }

  async stop(runDir: string): Promise<CommandResult<StopResult>> {
    const rec = this.model.get(runDir);
    if (rec && effectiveState(rec) !== 'running') return refuse(`${rec.status.name} is not running (${effectiveState(rec)})`);
    const r = await this.backend.request<StopResult>(Methods.stop, { runDir });
    this.watcher()?.refresh(runDir);
    return r.stopped ? { ok: true, ...r } : refuse(`${path.basename(runDir)} was not running any more`);
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }

  private onRunState(p: RunStateParams): void {
    this.model.applyRunState(p);
    // Pick up final files (adapter/, last checkpoint) the trainer wrote on its way out.
    this.watcher()?.refresh(p.runDir);
    const rec = this.model.get(p.runDir);
    const name = rec?.status.name ?? path.basename(p.runDir);
    if (p.state === 'failed') {
      // The error carries the process's last output lines (the server collects them).
      this.output.appendLine(`[lily] run ${name} failed: ${p.error ?? 'no reason given'}`);
      void vscode.window.showErrorMessage(`Lily run ${name} failed: ${(p.error ?? 'no reason given').split('\n')[0]}`, 'Show Log', 'Open Dashboard').then((c) => {
        if (c === 'Show Log') this.output.show(true);
        if (c === 'Open Dashboard') void vscode.commands.executeCommand('lily.openDashboard', p.runDir);
      });
    } else if (p.state === 'completed') {
      const summary = rec ? runItemView(rec).description : '';
      void vscode.window.showInformationMessage(`Lily run ${name} completed${summary ? `: ${summary}` : ''}`, 'Open Dashboard').then((c) => {
        if (c === 'Open Dashboard') void vscode.commands.executeCommand('lily.openDashboard', p.runDir);
      });
    }
  }
}

function readText(file: string): string | undefined {
  try { return fs.readFileSync(file, 'utf8'); } catch { return undefined; }
}

/** The config text as the torch backend reads it (`runtime.backend: "torch"`); unparsable text stays as it is. */
function withTorchBackend(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    const c = JSON.parse(text) as { runtime?: object };
    return JSON.stringify({ ...c, runtime: { ...(c.runtime ?? {}), backend: 'torch' } });
  } catch {
    return text;
  }
}
