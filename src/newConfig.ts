// "Lily: New Adapter Config": pick an .onnx (or the one right-clicked), pick target groups from
// the model's linear layers (read by the backend), write `<name>.lily.json` beside the model,
// open it. Options let tests run it without any prompt.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { TaskType } from '../native-runtime/config/types';
import { Methods, type ListTargetsResult } from '../native-runtime/protocol';
import type { Backend } from './backend';
import { newConfigText, targetPickItems, uniqueConfigPath } from './newConfigModel';
import { refuse, type CommandResult } from './results';

export interface NewConfigOptions {
  /** Target suffixes to use instead of asking. */
  targets?: string[];
  task?: TaskType;
  /** Config name (file `<name>.lily.json`) instead of asking. */
  name?: string;
  /** Folder for the config (default: the model's folder). */
  folder?: string;
  /** Do not open the new file (tests). */
  noOpen?: boolean;
}

const TASKS: Array<{ label: TaskType; detail: string }> = [
  { label: 'sequence-classification', detail: 'One label per text (sentiment, topic, NLI); cross-entropy, accuracy and F1' },
  { label: 'regression', detail: 'One number per text (similarity scores); MSE and Pearson' },
  { label: 'causal-lm', detail: 'Next-token prediction on text; perplexity' },
  { label: 'token-classification', detail: 'One label per token (NER, tagging)' },
];

export async function newAdapterConfig(context: vscode.ExtensionContext, backend: Backend, modelArg?: vscode.Uri, opts: NewConfigOptions = {}): Promise<CommandResult<{ configPath: string }>> {
  let modelUri = modelArg instanceof vscode.Uri ? modelArg : undefined;
  if (!modelUri) {
    const picked = await vscode.window.showOpenDialog({
      title: 'Pick the exported ONNX model to adapt',
      canSelectMany: false,
      filters: { 'ONNX models': ['onnx'] },
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    });
    if (!picked?.[0]) return refuse('cancelled: no model picked');
    modelUri = picked[0];
  }
  const modelPath = modelUri.fsPath;
  const { targets: groups } = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Reading the layers of ${path.basename(modelPath)}` },
    () => backend.request<ListTargetsResult>(Methods.listTargets, { modelPath }),
  );
  if (groups.length === 0) return refuse(`${modelPath} has no linear layers (MatMul/Gemm with a 2-D float32 weight) that an adapter could target`);

  let chosen = groups;
  if (opts.targets) {
    chosen = groups.filter((g) => opts.targets!.includes(g.suffix));
    const unknown = opts.targets.filter((t) => !groups.some((g) => g.suffix === t));
    if (unknown.length) return refuse(`no target group ${unknown.map((u) => `"${u}"`).join(', ')} in ${path.basename(modelPath)}; available: ${groups.map((g) => g.suffix).join(', ')}`);
  } else {
    const picks = await vscode.window.showQuickPick(targetPickItems(groups), {
      title: 'Layers to adapt (each group shares its Lily projectors)',
      canPickMany: true,
      placeHolder: 'Attention query/value are the usual start',
    });
    if (!picks || picks.length === 0) return refuse('cancelled: no target picked');
    chosen = picks.map((p) => p.group);
  }

  let task = opts.task;
  if (!task) {
    const t = await vscode.window.showQuickPick(TASKS, { title: 'What is the model trained for?' });
    if (!t) return refuse('cancelled: no task picked');
    task = t.label;
  }

  const folder = opts.folder ?? path.dirname(modelPath);
  let name = opts.name;
  if (name === undefined) {
    name = await vscode.window.showInputBox({
      title: 'Config name',
      value: path.basename(modelPath, '.onnx'),
      prompt: 'The file will be <name>.lily.json beside the model',
      validateInput: (v) => (v.trim() ? undefined : 'Give the config a name'),
    });
    if (!name) return refuse('cancelled: no name given');
  }
  const configPath = uniqueConfigPath(folder, name, fs.existsSync);
  const text = newConfigText({
    configPath, modelPath, task, targets: chosen,
  });
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(configPath, text, { flag: 'wx' });
  if (!opts.noOpen) await vscode.window.showTextDocument(vscode.Uri.file(configPath));
  return { ok: true, configPath };
}
