// "Lily: Import Hugging Face Model...": pick a save_pretrained folder (or a model from the local
// hub cache), ask "Standard export" or "Packed export" when the model's type has a packed one
// (src/importPackingModel.ts), run `lily import --json --no-config [--packing]` with the user's Python under a progress
// notification (the exporter's output goes to the Lily output channel), then open the New
// Adapter Config flow on the exported model, prefilled from its lily-import.json (task, labels;
// the usual targets pre-picked; it then asks for the data) and report the LoRA rank at the same
// budget. A Python without the
// exporter gets the exact pip line and a button that runs it in a terminal.
import { spawn } from 'child_process';
import * as path from 'path';
import * as vscode from 'vscode';
import { listCachedModels } from '../native-runtime/cli/hfModel';
import type { ImportSummary } from '../native-runtime/cli/importCommand';
import { Methods, type BudgetResult } from '../native-runtime/protocol';
import type { Backend } from './backend';
import { importCliArgs, packingOffer } from './importPackingModel';
import { newAdapterConfig, type NewConfigOptions } from './newConfig';
import { resolvePython } from './pythonInterpreter';
import { refuse, type CommandResult } from './results';
import { workspaceRoot } from './settings';

export interface ImportOptions {
  /** Output folder for the ONNX model (default: `lily import`'s, in the workspace: <name>-onnx, the packed export <name>-packed-onnx). */
  out?: string;
  /** Replace an existing output folder. */
  force?: boolean;
  /** Export for data.packing (`lily import --packing`) or not, without asking (tests, callers that know). */
  packing?: boolean;
  /** Options for the New Adapter Config step (tests skip its prompts). */
  newConfig?: NewConfigOptions;
}

interface ImportFailureJson { error: { kind: string; message: string; pipInstall?: string } }

/** Runs `lily import` (Node: the extension host's own runtime) under a cancellable progress
 * notification; its stderr (our log and the exporter's) goes to the output channel line by line. */
function runWithProgress(args: string[], cwd: string, output: vscode.OutputChannel, title: string): Thenable<{ code: number | null; stdout: string }> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    (progress, token) => new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let partial = '';
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
      child.stderr.on('data', (d: Buffer) => {
        const lines = (partial + d.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) {
          output.appendLine(l);
          const shown = l.replace(/^\[lily import [\d:]+\] /, '');
          if (shown.trim()) progress.report({ message: shown.length > 90 ? `${shown.slice(0, 87)}...` : shown });
        }
      });
      token.onCancellationRequested(() => child.kill('SIGTERM'));
      child.once('error', reject);
      child.once('close', (code) => {
        if (partial) output.appendLine(partial);
        resolve({ code, stdout });
      });
    }),
  );
}

/** The CLI's last stdout line: its summary, or with a failure, the failure's kind and message. */
function resultOf(stdout: string): ImportSummary | ImportFailureJson | undefined {
  const last = stdout.trim().split('\n').pop() ?? '';
  try {
    return last ? JSON.parse(last) as ImportSummary | ImportFailureJson : undefined;
  } catch {
    return undefined;
  }
}

/** The folder to import: the argument, or a pick of "Browse..." and the hub cache's models. */
async function pickSource(arg: unknown): Promise<string | undefined> {
  if (arg instanceof vscode.Uri) return arg.fsPath;
  if (typeof arg === 'string' && arg) return arg;
  const cached = listCachedModels();
  const browse = { label: '$(folder-opened) Browse for a model folder...', description: 'a folder written by save_pretrained (config.json + weights)', value: '' };
  const items = [browse, ...cached.map((m) => ({ label: m.id, description: 'Hugging Face hub cache', detail: m.snapshot, value: m.snapshot }))];
  const pick = await vscode.window.showQuickPick(items, { title: 'Import which Hugging Face model?', placeHolder: cached.length ? 'A model from your hub cache, or a folder' : 'No models in your hub cache; browse for a folder' });
  if (!pick) return undefined;
  if (pick.value) return pick.value;
  const folder = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, title: 'Pick a Hugging Face model folder', openLabel: 'Import' });
  return folder?.[0]?.fsPath;
}

/** Standard or packed export, asked only when the model's type has a packed one; undefined when the pick is dismissed. */
async function askPacking(source: string, root: string, output: vscode.OutputChannel): Promise<boolean | undefined> {
  const offer = packingOffer(source, root);
  if (!offer.offer) {
    if (offer.note) output.appendLine(`[import] ${offer.note}`);
    return false;
  }
  const pick = await vscode.window.showQuickPick(offer.items, { title: offer.title, placeHolder: offer.placeHolder });
  return pick?.packing;
}

export async function importHfModel(context: vscode.ExtensionContext, backend: Backend, output: vscode.OutputChannel, arg?: unknown, opts: ImportOptions = {}): Promise<CommandResult<{ modelPath: string; configPath?: string; summary: ImportSummary }>> {
  const root = workspaceRoot();
  if (!root) return refuse('open a folder first: the exported model and its config are written into the workspace');
  const source = await pickSource(arg);
  if (!source) return refuse('cancelled: no model picked');
  const packing = opts.packing ?? await askPacking(source, root, output);
  if (packing === undefined) return refuse('cancelled: no export picked');
  const py = await resolvePython(vscode.Uri.file(root));
  output.appendLine(`[import] ${source}${packing ? ' (packed export, data.packing)' : ''} with ${py.python} (from ${py.source})`);

  // bin/lily.js runs the compiled CLI (out/native-runtime/cli.js only exports main).
  const cli = context.asAbsolutePath(path.join('bin', 'lily.js'));
  const runImport = (force: boolean) => runWithProgress(importCliArgs({ cli, source, python: py.python, out: opts.out, force, packing }), root, output, `Lily: importing ${path.basename(source)}`);
  let run = await runImport(!!opts.force);
  let parsed = resultOf(run.stdout);
  if (run.code !== 0 && parsed && 'error' in parsed && parsed.error.kind === 'exists') {
    // The same model imported before: replacing it is the user's call.
    const answer = await vscode.window.showWarningMessage(`Lily: ${parsed.error.message.split(';')[0]}. Replace it?`, { modal: true }, 'Replace');
    if (answer !== 'Replace') return refuse(`cancelled: ${parsed.error.message}`);
    run = await runImport(true);
    parsed = resultOf(run.stdout);
  }
  if (run.code !== 0) {
    if (parsed && 'error' in parsed) {
      const e = parsed.error;
      output.appendLine(`[import] ${e.message}`);
      if (e.kind === 'missing-exporter' && e.pipInstall) {
        const pip = e.pipInstall;
        void vscode.window.showErrorMessage(`Lily: ${py.python} lacks the ONNX exporter. Install it with: ${pip}`, 'Install in Terminal', 'Show Log').then((c) => {
          if (c === 'Install in Terminal') {
            const term = vscode.window.createTerminal({ name: 'Lily: install the exporter', cwd: root });
            term.show();
            term.sendText(pip);
          } else if (c === 'Show Log') output.show(true);
        });
        return refuse(`cancelled: ${e.message}`); // shown above with its button; not twice
      }
      return refuse(e.message);
    }
    return refuse(`lily import ${run.code === null ? 'was stopped' : `exited with code ${run.code}`}; see the Lily output for the exporter's log`);
  }
  if (!parsed || !('modelPath' in parsed)) return refuse(`lily import finished without a result line; see the Lily output`);
  const summary = parsed;
  output.appendLine(`[import] wrote ${summary.modelDir}`);

  const cfg = await newAdapterConfig(context, backend, vscode.Uri.file(summary.modelPath), { folder: root, name: path.basename(summary.modelDir).replace(/-onnx$/, ''), ...opts.newConfig });
  if (!cfg.ok) return { ok: true, modelPath: summary.modelPath, summary };
  try {
    const b = await backend.request<BudgetResult>(Methods.budget, { configPath: cfg.configPath });
    const msg = `${path.basename(cfg.configPath)}: ${b.trainable_params.toLocaleString('en-US')} trainable parameters (LoRA at the same budget: rank ${b.lora_rank_at_budget}). Train it when ready.`;
    output.appendLine(`[import] ${msg}`);
    void vscode.window.showInformationMessage(`Lily: imported ${path.basename(source)}. ${msg}`, 'Train').then((c) => {
      if (c === 'Train') void vscode.commands.executeCommand('lily.train', vscode.Uri.file(cfg.configPath));
    });
  } catch (e) {
    output.appendLine(`[import] budget of ${cfg.configPath}: ${(e as Error).message}`);
  }
  return { ok: true, modelPath: summary.modelPath, configPath: cfg.configPath, summary };
}
