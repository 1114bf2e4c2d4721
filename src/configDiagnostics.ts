// Problems for `*.lily.json` files: validated by the backend (files, the model's layers, checks
// beyond the schema) when a config is opened or saved, mapped to ranges by diagnosticsModel.ts.
// Schema violations are left to VS Code's JSON validation (same schema, through jsonValidation,
// as you type), so each problem is listed once; the validator's suggestion (a misspelled key or
// value, a target typo) is offered as a quick fix on either diagnostic.
import * as vscode from 'vscode';
import { Methods, type ValidateConfigResult } from '../native-runtime/protocol';
import type { Backend } from './backend';
import { overlaps, splitForEditor, toEditorDiagnostics, type EditorDiagnostic } from './diagnosticsModel';
import { outputDirWarning } from './outputDirModel';

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
  /** Per document: schema problems shown by VS Code's JSON validation whose fix Lily offers. */
  private readonly schemaFixes = new Map<string, EditorDiagnostic[]>();

  constructor(private readonly backend: Backend) {
    this.subs.push(
      vscode.workspace.onDidOpenTextDocument((d) => void this.validate(d)),
      vscode.workspace.onDidSaveTextDocument((d) => void this.validate(d)),
      vscode.workspace.onDidCloseTextDocument((d) => { if (isLilyConfig(d)) { this.collection.delete(d.uri); this.schemaFixes.delete(d.uri.toString()); } }),
      vscode.languages.registerCodeActionsProvider({ pattern: '**/*.lily.json' }, new SuggestionFixes((uri) => this.schemaFixes.get(uri.toString()) ?? []), { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] }),
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
    let fixes: EditorDiagnostic[] = [];
    try {
      const r = await this.backend.request<ValidateConfigResult>(Methods.validateConfig, { configPath: doc.uri.fsPath, text });
      const outside = outputDirWarning(text, (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath));
      const { shown, fixesOnly } = splitForEditor(toEditorDiagnostics(text, outside ? [...r.diagnostics, outside] : r.diagnostics));
      diags = shown.map((d) => new LilyDiagnostic(d));
      fixes = fixesOnly;
    } catch (e) {
      const d = new vscode.Diagnostic(new vscode.Range(0, 0, 0, 1), `Lily could not validate this config: ${(e as Error).message}`, vscode.DiagnosticSeverity.Warning);
      d.source = 'lily';
      diags = [d];
    }
    if (this.generation.get(key) !== gen) return undefined;
    this.collection.set(doc.uri, diags);
    this.schemaFixes.set(key, fixes);
    return diags;
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
    this.collection.dispose();
  }
}

class SuggestionFixes implements vscode.CodeActionProvider {
  constructor(private readonly schemaFixes: (uri: vscode.Uri) => EditorDiagnostic[]) {}

  provideCodeActions(doc: vscode.TextDocument, _range: vscode.Range, ctx: vscode.CodeActionContext): vscode.CodeAction[] {
    const out: vscode.CodeAction[] = [];
    const offer = (d: vscode.Diagnostic, range: vscode.Range, suggestion: string) => {
      const replacement = JSON.stringify(suggestion);
      if (out.some((f) => f.title === `Change to ${replacement}`)) return;
      const fix = new vscode.CodeAction(`Change to ${replacement}`, vscode.CodeActionKind.QuickFix);
      fix.edit = new vscode.WorkspaceEdit();
      fix.edit.replace(doc.uri, range, replacement);
      fix.diagnostics = [d];
      fix.isPreferred = true;
      out.push(fix);
    };
    const pending = this.schemaFixes(doc.uri);
    for (const d of ctx.diagnostics) {
      if (d instanceof LilyDiagnostic) {
        if (d.suggestion !== undefined) offer(d, d.range, d.suggestion);
        continue;
      }
      // VS Code's own schema diagnostic (e.g. 'Property num_b is not allowed'): Lily's validator
      // found the same problem at the same place and knows the nearest valid name.
      const at = { start: { line: d.range.start.line, character: d.range.start.character }, end: { line: d.range.end.line, character: d.range.end.character } };
      for (const f of pending) {
        if (!overlaps(f.range, at)) continue;
        offer(d, new vscode.Range(f.range.start.line, f.range.start.character, f.range.end.line, f.range.end.character), f.suggestion!);
      }
    }
    return out;
  }
}
