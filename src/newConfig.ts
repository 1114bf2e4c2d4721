// "Lily: New Adapter Config": pick an .onnx (or the one right-clicked), pick target groups from
// the model's linear layers (read by the backend), pick the training and eval data (the first
// rows are shown, the text and label fields and the label names detected), find tokenizer.json
// beside the model or ask for it, write `<name>.lily.json` beside the model, open it. The config
// trains as written. Options let tests run it without any prompt.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { TaskType } from '../native-runtime/config/types';
import { readImportManifest } from '../native-runtime/cli/importManifest';
import { Methods, type ListTargetsResult } from '../native-runtime/protocol';
import type { Backend } from './backend';
import { estimateMemory } from './memoryEstimate';
import { labelSettings, previewData, readFirstRows, rowSummary, type DataPreview } from './dataPreviewModel';
import { findEvalBeside, findTokenizerBeside, newConfigText, targetPickItems, uniqueConfigPath, type NewConfigData } from './newConfigModel';
import { refuse, type CommandResult } from './results';

export interface NewConfigOptions {
  /** Estimate the peak memory once the config is written (default true; shown in a notification and the CodeLens). */
  estimateMemory?: boolean;
  /** Target suffixes to use instead of asking. */
  targets?: string[];
  task?: TaskType;
  /** Config name (file `<name>.lily.json`) instead of asking. */
  name?: string;
  /** Folder for the config (default: the model's folder). */
  folder?: string;
  /** Do not open the new file (tests). */
  noOpen?: boolean;
  /** Training data file instead of asking. */
  train?: string;
  /** Evaluation data file instead of asking; null for none. */
  eval?: string | null;
  /** Fields instead of accepting the detected ones (with `train`, no question is asked). */
  textField?: string;
  labelField?: string;
  /** tokenizer.json instead of looking beside the model or asking. */
  tokenizer?: string;
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
  const { targets: groups, maxPositions, headModules } = await vscode.window.withProgress(
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

  // A model written by `lily import` records its task and class names (lily-import.json, from
  // config.json's architectures and id2label): no task question, and the head's own label order.
  const imported = readImportManifest(path.dirname(modelPath));
  let task = opts.task ?? imported?.task;
  if (!task) {
    const t = await vscode.window.showQuickPick(TASKS, { title: 'What is the model trained for?' });
    if (!t) return refuse('cancelled: no task picked');
    task = t.label;
  }

  const data = await pickData(path.dirname(modelPath), task, opts);
  if (!data.ok) return data;
  if (imported?.num_labels && (task === 'sequence-classification' || task === 'token-classification')) {
    data.data.labels = { num_labels: imported.num_labels, ...(imported.labels ? { labels: imported.labels } : {}) };
  }
  const tokenizer = data.pretokenized ? undefined : await pickTokenizer(modelPath, opts.tokenizer);
  if (!data.pretokenized && !tokenizer) {
    return refuse('cancelled: no tokenizer.json picked; text data needs the model\'s tokenizer (save it beside the model, e.g. with tokenizer.save_pretrained, or pre-tokenize the data into input_ids)');
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
    configPath, modelPath, task, targets: chosen, data: data.data, tokenizer, maxPositions, headModules, packing: imported?.packing,
  });
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(configPath, text, { flag: 'wx' });
  if (!opts.noOpen) await vscode.window.showTextDocument(vscode.Uri.file(configPath));
  // The flow ends with the expected peak memory (and whether gradient checkpointing would help),
  // computed in the background: the config is usable at once.
  if (opts.estimateMemory !== false) void estimateMemory(backend, configPath).catch(() => undefined);
  return { ok: true, configPath };
}

const DATA_FILTERS = { 'Data (JSON Lines, CSV, Parquet, Arrow)': ['jsonl', 'csv', 'parquet', 'arrow'] };

/** Asks for (or takes) the training and eval files and confirms the detected fields. */
async function pickData(modelDir: string, task: TaskType, opts: NewConfigOptions): Promise<CommandResult<{ data: NewConfigData; pretokenized: boolean }>> {
  let train = opts.train;
  if (!train) {
    const picked = await vscode.window.showOpenDialog({ title: 'Pick the training data (one example per line/row)', canSelectMany: false, filters: DATA_FILTERS, defaultUri: vscode.Uri.file(modelDir) });
    if (!picked?.[0]) return refuse('cancelled: no training data picked');
    train = picked[0].fsPath;
  }
  let preview: DataPreview;
  try {
    preview = previewData(train, readFirstRows(train));
  } catch (e) {
    return refuse(`cannot read the training data: ${(e as Error).message}`);
  }
  if (preview.rows.length === 0) return refuse(`${train} holds no examples`);
  const wantsLabel = task !== 'causal-lm';
  let textField = opts.textField ?? preview.textField;
  let labelField = opts.labelField ?? (wantsLabel ? preview.labelField : undefined);
  if (!opts.train) {
    const fields = await confirmFields(preview, wantsLabel);
    if (!fields) return refuse('cancelled: data fields not confirmed');
    ({ textField, labelField } = fields);
  }
  if (!preview.pretokenized && !textField) return refuse(`${path.basename(train)} has no text field (fields: ${preview.fields.join(', ')}) and no input_ids`);
  if (wantsLabel && !labelField) return refuse(`${path.basename(train)} has no label field (fields: ${preview.fields.join(', ')}); a ${task} model learns from one`);

  let evalFile = opts.eval === null ? undefined : opts.eval;
  if (opts.eval === undefined) {
    const beside = findEvalBeside(train, fs.existsSync);
    const items = [
      ...(beside ? [{ label: `$(check) ${path.basename(beside)}`, description: 'found beside the training data', file: beside as string | undefined, pick: false }] : []),
      { label: '$(folder-opened) Pick an evaluation file…', description: '', file: undefined, pick: true },
      { label: '$(circle-slash) No evaluation data', description: 'train only (no accuracy/loss on held-out data)', file: undefined, pick: false },
    ];
    const choice = await vscode.window.showQuickPick(items, { title: 'Evaluation data (held-out examples, same fields)' });
    if (!choice) return refuse('cancelled: no evaluation choice');
    evalFile = choice.file;
    if (choice.pick) {
      const picked = await vscode.window.showOpenDialog({ title: 'Pick the evaluation data', canSelectMany: false, filters: DATA_FILTERS, defaultUri: vscode.Uri.file(path.dirname(train)) });
      if (!picked?.[0]) return refuse('cancelled: no evaluation data picked');
      evalFile = picked[0].fsPath;
    }
  }
  // Labels seen only in the eval file still need an id.
  const labelValues = labelField ? preview.rows.map((r) => r[labelField!]) : [];
  if (evalFile && labelField) {
    try {
      labelValues.push(...readFirstRows(evalFile, 500).map((r) => r[labelField!]));
    } catch (e) {
      return refuse(`cannot read the evaluation data: ${(e as Error).message}`);
    }
  }
  const classification = task === 'sequence-classification' || task === 'token-classification';
  return {
    ok: true,
    pretokenized: preview.pretokenized,
    data: { train, eval: evalFile, textField, labelField, labels: classification ? labelSettings(labelValues) : undefined },
  };
}

/** Shows the first rows with the detected fields; the user accepts them or picks others. */
async function confirmFields(preview: DataPreview, wantsLabel: boolean): Promise<{ textField?: string; labelField?: string } | undefined> {
  const shown = [preview.textField, preview.labelField].filter((f): f is string => !!f);
  const rows = preview.rows.slice(0, 3).map((r) => rowSummary(r, shown.length ? shown : preview.fields));
  const labels = preview.labelValues.length ? ` (labels: ${preview.labelValues.slice(0, 8).join(', ')}${preview.labelValues.length > 8 ? ', …' : ''})` : '';
  const detected = `text: ${preview.textField ?? '—'}${wantsLabel ? ` · label: ${preview.labelField ?? '—'}${labels}` : ''}`;
  const choice = await vscode.window.showQuickPick([
    { label: `$(check) Use ${detected}`, detail: rows.join('\n'), own: false },
    { label: '$(list-selection) Choose the fields…', detail: `fields: ${preview.fields.join(', ')}`, own: true },
  ], { title: `Fields of ${path.basename(preview.file)} (first rows shown)` });
  if (!choice) return undefined;
  if (!choice.own) return { textField: preview.textField, labelField: wantsLabel ? preview.labelField : undefined };
  const sample = (f: string) => JSON.stringify(preview.rows[0]?.[f] ?? '').slice(0, 60);
  const text = await vscode.window.showQuickPick(preview.fields.map((f) => ({ label: f, description: sample(f) })), { title: 'Which field holds the text?' });
  if (!text) return undefined;
  if (!wantsLabel) return { textField: text.label };
  const label = await vscode.window.showQuickPick(preview.fields.filter((f) => f !== text.label).map((f) => ({ label: f, description: sample(f) })), { title: 'Which field holds the label?' });
  return label ? { textField: text.label, labelField: label.label } : undefined;
}

/** tokenizer.json given, found beside the model, or picked by the user. */
async function pickTokenizer(modelPath: string, given: string | undefined): Promise<string | undefined> {
  if (given) return given;
  const beside = findTokenizerBeside(modelPath, fs.existsSync);
  if (beside) return beside;
  const picked = await vscode.window.showOpenDialog({
    title: `No tokenizer.json beside ${path.basename(modelPath)}: pick the model's tokenizer.json`,
    canSelectMany: false, filters: { 'Hugging Face tokenizer': ['json'] }, defaultUri: vscode.Uri.file(path.dirname(modelPath)),
  });
  return picked?.[0]?.fsPath;
}
