// A config with mistakes gets diagnostics from the extension (source "lily") on the right
// lines: a misspelled key with its correction as a quick fix, a value below its minimum, and a
// data file that does not exist.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { lilyApi, waitFor, workspaceRoot } from './helpers';

const BROKEN = `{
  "name": "broken",
  "model": { "path": "./sentiment/model.onnx", "task": "sequence-classification", "num_labels": 2 },
  "data": { "train": "./sentiment/train.jsonl", "eval": "./sentiment/no-such-eval.jsonl" },
  "adapter": {
    "method": "lily",
    "target_modules": ["value"],
    "r": 0,
    "num_b": 4
  }
}
`;

/** 0-based line of the first line containing `needle`. */
const lineOf = (needle: string) => BROKEN.split('\n').findIndex((l) => l.includes(needle));

describe('config diagnostics', () => {
  it('a config with errors shows them on the offending fields', async () => {
    const api = await lilyApi();
    const file = path.join(workspaceRoot(), 'broken.lily.json');
    fs.writeFileSync(file, BROKEN);
    const doc = await vscode.workspace.openTextDocument(file);
    await vscode.window.showTextDocument(doc);

    const diags = await waitFor('Lily diagnostics for broken.lily.json', () => {
      const d = vscode.languages.getDiagnostics(doc.uri).filter((x) => x.source === 'lily');
      return d.length >= 3 ? d : undefined;
    }, 30_000);
    const describe = diags.map((d) => `line ${d.range.start.line}: ${d.message}`).join('\n');
    const find = (re: RegExp) => diags.find((d) => re.test(d.message));

    const misspelled = find(/num_b/);
    assert.ok(misspelled, `no diagnostic for the misspelled key "num_b"; got:\n${describe}`);
    assert.strictEqual(misspelled.range.start.line, lineOf('"num_b"'));
    assert.strictEqual(misspelled.severity, vscode.DiagnosticSeverity.Error);
    const fixes = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, misspelled.range);
    assert.ok(fixes?.some((f) => /num_B/.test(f.title)), `no quick fix offering "num_B"; got: ${fixes?.map((f) => f.title).join(', ')}`);

    const rank = find(/adapter\.r\b/);
    assert.ok(rank, `no diagnostic for adapter.r = 0 (minimum 1); got:\n${describe}`);
    assert.strictEqual(rank.range.start.line, lineOf('"r": 0'));

    const missing = find(/no-such-eval\.jsonl/);
    assert.ok(missing, `no diagnostic for the missing eval file; got:\n${describe}`);
    assert.strictEqual(missing.range.start.line, lineOf('no-such-eval'));

    // Training refuses it up front instead of failing a second later in the trainer.
    const r = await vscode.commands.executeCommand<{ ok: boolean; reason?: string }>('lily.train', vscode.Uri.file(file), { maxSteps: 1 });
    assert.strictEqual(r?.ok, false, 'lily.train must refuse a config with errors');
    assert.match(r.reason ?? '', /error/);
    assert.strictEqual(api.model.list().filter((run) => run.status.config_path === file).length, 0, 'no run may start from a broken config');

    // Fixing the mistakes clears them (validated on save).
    const fixed = BROKEN.replace('"r": 0', '"r": 4').replace('"num_b"', '"num_B"').replace('no-such-eval', 'eval');
    const edit = new vscode.WorkspaceEdit();
    edit.replace(doc.uri, new vscode.Range(0, 0, doc.lineCount, 0), fixed);
    await vscode.workspace.applyEdit(edit);
    await doc.save();
    await waitFor('the Lily errors of broken.lily.json to clear after fixing it', () => {
      const left = vscode.languages.getDiagnostics(doc.uri).filter((x) => x.source === 'lily' && x.severity === vscode.DiagnosticSeverity.Error);
      if (left.length > 0) throw new Error(`still: ${left.map((d) => `line ${d.range.start.line}: ${d.message}`).join('; ')}`);
      return true;
    }, 30_000);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    fs.rmSync(file, { force: true });
  });
});
