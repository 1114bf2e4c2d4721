// Problems for `*.lily.json` files: validated by the backend (schema, files, and the model's
// layers) when a config is opened or saved, mapped to ranges by diagnosticsModel.ts. Offers
// the validator's suggestion (a misspelled key or value) as a quick fix.
import * as vscode from 'vscode';
import { Methods, type ValidateConfigResult } from '../native-runtime/protocol';
import type { Backend } from './backend';
import { toEditorDiagnostics, type EditorDiagnostic } from './diagnosticsModel';

export const isLilyConfig = (doc: vscode.TextDocument): boolean => doc.uri.scheme === 'file' && /\.lily\.json$/i.test(doc.uri.fsPath);

/** Diagnostics keep their suggestion for the quick fix. */
class LilyDiagnostic extends vscode.Diagnostic {
  constructor(d: EditorDiagnostic) {
    const range = new vscode.Range(d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character);
    super(range, d.message, d.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
    this.source = 'lily';
    this.suggestion = d.suggestion;
    this.onKey = d.onKey;
  }
  suggestion: string | undefined;
  onKey: boolean;
}

export class ConfigDiagnostics implements vscode.Disposable {
  readonly collection = vscode.languages.createDiagnosticCollection('lily');
  private readonly subs: vscode.Disposable[] = [];
  /** Latest request per document: an older answer arriving late must not win. */
  private readonly generation = new Map<string, number>();

  constructor(private readonly backend: Backend) {
    this.subs.push(
      vscode.workspace.onDidOpenTextDocument((d) => void this.validate(d)),
      vscode.workspace.onDidSaveTextDocument((d) => void this.validate(d)),
      vscode.workspace.onDidCloseTextDocument((d) => { if (isLilyConfig(d)) this.collection.delete(d.uri); }),
      vscode.languages.registerCodeActionsProvider({ pattern: '**/*.lily.json' }, new SuggestionFixes(), { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] }),
    );
    for (const d of vscode.workspace.textDocuments) void this.validate(d);
  }

  /** Validates one document now; returns the diagnostics set (for tests), or undefined if skipped. */
  async validate(doc: vscode.TextDocument): Promise<vscode.Diagnostic[] | undefined> {
    if (!isLilyConfig(doc)) return undefined;
    const key = doc.uri.toString();
    const gen = (this.generation.get(key) ?? 0) + 1;
    this.generation.set(key, gen);
    const text = doc.getText();
    let diags: vscode.Diagnostic[];
    try {
      const r = await this.backend.request<ValidateConfigResult>(Methods.validateConfig, { configPath: doc.uri.fsPath, text });
      diags = toEditorDiagnostics(text, r.diagnostics).map((d) => new LilyDiagnostic(d));
    } catch (e) {
      const d = new vscode.Diagnostic(new vscode.Range(0, 0, 0, 1), `Lily could not validate this config: ${(e as Error).message}`, vscode.DiagnosticSeverity.Warning);
      d.source = 'lily';
      diags = [d];
    }
    if (this.generation.get(key) !== gen) return undefined;
    this.collection.set(doc.uri, diags);
    return diags;
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
    this.collection.dispose();
  }
}

class SuggestionFixes implements vscode.CodeActionProvider {
  provideCodeActions(doc: vscode.TextDocument, _range: vscode.Range, ctx: vscode.CodeActionContext): vscode.CodeAction[] {
    const out: vscode.CodeAction[] = [];
    for (const d of ctx.diagnostics) {
      if (!(d instanceof LilyDiagnostic) || d.suggestion === undefined) continue;
      const replacement = JSON.stringify(d.suggestion);
      const fix = new vscode.CodeAction(`Change to ${replacement}`, vscode.CodeActionKind.QuickFix);
      fix.edit = new vscode.WorkspaceEdit();
      fix.edit.replace(doc.uri, d.range, replacement);
      fix.diagnostics = [d];
      fix.isPreferred = true;
      out.push(fix);
    }
    return out;
  }
}
