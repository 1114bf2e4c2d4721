// "Lily: Estimate Peak Memory": asks the backend for a config's expected peak memory (it runs
// `lily train --dry-run`, which builds the step graph without running it) and shows it; the
// New Adapter Config flow ends with it, and the config's CodeLens shows the last result.
import * as path from 'path';
import * as vscode from 'vscode';
import { Methods, type MemoryResult } from '../native-runtime/protocol';
import type { Backend } from './backend';
import { memorySummary, type MemorySummary } from './memoryModel';
import type { CommandResult } from './results';

/** The newest estimate per config file (the CodeLens shows it until the file changes). */
export const lastEstimates = new Map<string, { summary: MemorySummary; version?: number }>();
const changed = new vscode.EventEmitter<void>();
export const onEstimate = changed.event;

export async function estimateMemory(backend: Backend, configPath: string, output?: vscode.OutputChannel): Promise<CommandResult<{ memory: MemoryResult; summary: MemorySummary }>> {
  const name = path.basename(configPath);
  const memory = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Lily: estimating the peak memory of ${name}…`, cancellable: false },
    () => backend.request<MemoryResult>(Methods.memory, { configPath }),
  );
  const summary = memorySummary(memory);
  const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === configPath);
  lastEstimates.set(configPath, { summary, version: doc?.version });
  changed.fire();
  output?.appendLine(`[memory] ${name}: ${summary.title}. ${summary.detail}`);
  const show = summary.fits ? vscode.window.showInformationMessage : vscode.window.showWarningMessage;
  void show(`${name}: ${summary.title}. ${summary.detail}`);
  return { ok: true, memory, summary };
}
