// Code lenses over a config's `adapter` block: its trainable parameters and the LoRA rank with
// the same budget (computed by the backend on the model), one-click Train / Compare with LoRA, and
// the expected peak memory (on click: `lily train --dry-run`; then its last result).
import * as vscode from 'vscode';
import { findFieldRange } from '../native-runtime/config/validate';
import { Methods, type BudgetResult } from '../native-runtime/protocol';
import type { Backend } from './backend';
import { budgetUnavailableTitle } from './codeLensModel';
import { lastEstimates, onEstimate } from './memoryEstimate';
import { formatParams } from './runsModel';

export class AdapterCodeLens implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly sub = vscode.workspace.onDidSaveTextDocument((d) => { if (/\.lily\.json$/i.test(d.uri.fsPath)) this.changed.fire(); });
  private readonly estimated = onEstimate(() => this.changed.fire());

  constructor(private readonly backend: Backend) {}

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    const key = findFieldRange(doc.getText(), ['adapter'], 'key');
    if (!key) return [];
    const at = doc.positionAt(key.offset);
    const range = new vscode.Range(at, at);
    return [
      new BudgetLens(range, doc),
      new vscode.CodeLens(range, { title: '$(play) Train', command: 'lily.train', arguments: [doc.uri] }),
      new vscode.CodeLens(range, { title: 'Compare with LoRA', command: 'lily.compareLora', arguments: [doc.uri] }),
      new vscode.CodeLens(range, memoryLensCommand(doc)),
    ];
  }

  async resolveCodeLens(lens: vscode.CodeLens): Promise<vscode.CodeLens> {
    if (!(lens instanceof BudgetLens)) return lens;
    try {
      const b = await this.backend.request<BudgetResult>(Methods.budget, { configPath: lens.doc.uri.fsPath, text: lens.doc.getText() });
      const layers = b.targets.reduce((n, t) => n + t.layers.length, 0);
      lens.command = {
        title: `${formatParams(b.trainable_params)} trainable params over ${layers} layers · LoRA r=${b.lora_rank_at_budget} at the same budget`,
        tooltip: b.targets.map((t) => `${t.target}: ${t.layers.length} layers, ${t.d_in}→${t.d_out}`).join('\n'),
        command: '',
      };
    } catch (e) {
      lens.command = { title: budgetUnavailableTitle((e as Error).message), tooltip: (e as Error).message, command: '' };
    }
    return lens;
  }

  dispose(): void {
    this.sub.dispose();
    this.estimated.dispose();
    this.changed.dispose();
  }
}

/** The last peak-memory estimate of this file while it is unchanged, else the button to make one. */
function memoryLensCommand(doc: vscode.TextDocument): vscode.Command {
  const last = lastEstimates.get(doc.uri.fsPath);
  if (last && last.version === doc.version) return { title: `${last.summary.fits ? '' : '$(warning) '}${last.summary.title}`, tooltip: last.summary.detail, command: 'lily.estimateMemory', arguments: [doc.uri] };
  return { title: '$(dashboard) Estimate peak memory', tooltip: 'lily train --dry-run: weights, activations, logits, adapter and optimizer, with and without gradient checkpointing', command: 'lily.estimateMemory', arguments: [doc.uri] };
}

class BudgetLens extends vscode.CodeLens {
  constructor(range: vscode.Range, readonly doc: vscode.TextDocument) {
    super(range);
  }
}
