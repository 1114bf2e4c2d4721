// A config with mistakes gets one diagnostic per problem, all at once, on the exact range:
// schema violations from VS Code's JSON validation (the same schema, through jsonValidation) —
// a misspelled key, with Lily's correction as a quick fix, and a value below its minimum — and
// from Lily (source "lily") what the schema cannot say: a target that matches no layer of the
// model (on the entry, with a quick fix) and a data file that does not exist.
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
    "target_modules": ["query", "vlaue"],
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

    // Everything shows at once: schema problems (VS Code) and model/file problems (Lily).
    const diags = await waitFor('diagnostics for broken.lily.json from VS Code and Lily', () => {
      const d = vscode.languages.getDiagnostics(doc.uri);
      return d.filter((x) => x.source === 'lily').length >= 2 && d.filter((x) => x.source !== 'lily').length >= 2 ? d : undefined;
    }, 30_000);
    const describe = diags.map((d) => `line ${d.range.start.line} [${d.source}]: ${d.message}`).join('\n');
    // One diagnostic per problem: no line carries two.
    for (const needle of ['"num_b"', '"r": 0', '"vlaue"', 'no-such-eval']) {
      const on = diags.filter((d) => d.range.start.line === lineOf(needle));
      assert.strictEqual(on.length, 1, `expected one diagnostic on the line of ${needle}; got:\n${describe}`);
    }

    const misspelled = diags.find((d) => d.range.start.line === lineOf('"num_b"'))!;
    assert.notStrictEqual(misspelled.source, 'lily', 'a schema violation is shown by VS Code\'s JSON validation');
    const fixes = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, misspelled.range);
    assert.ok(fixes?.some((f) => /num_B/.test(f.title)), `no quick fix offering "num_B"; got: ${fixes?.map((f) => f.title).join(', ')}`);

    const typo = diags.find((d) => d.source === 'lily' && /vlaue/.test(d.message));
    assert.ok(typo, `no diagnostic for the target typo "vlaue" beside the schema errors; got:\n${describe}`);
    assert.strictEqual(doc.getText(typo.range), '"vlaue"', 'the typo is underlined on its entry, not the whole list');
    const typoFixes = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, typo.range);
    assert.ok(typoFixes?.some((f) => f.title === 'Change to "value"'), `no quick fix for the target; got: ${typoFixes?.map((f) => f.title).join(', ')}`);

    const missing = diags.find((d) => /no-such-eval\.jsonl/.test(d.message));
    assert.ok(missing, `no diagnostic for the missing eval file; got:\n${describe}`);
    assert.strictEqual(missing.source, 'lily');

    // Training refuses it up front instead of failing a second later in the trainer.
    const r = await vscode.commands.executeCommand<{ ok: boolean; reason?: string }>('lily.train', vscode.Uri.file(file), { maxSteps: 1 });
    assert.strictEqual(r?.ok, false, 'lily.train must refuse a config with errors');
    assert.match(r.reason ?? '', /error/);
    assert.strictEqual(api.model.list().filter((run) => run.status.config_path === file).length, 0, 'no run may start from a broken config');

    // Fixing the mistakes clears them (validated on save).
    const fixed = BROKEN.replace('"r": 0', '"r": 4').replace('"num_b"', '"num_B"').replace('no-such-eval', 'eval').replace('"vlaue"', '"value"');
    const edit = new vscode.WorkspaceEdit();
    edit.replace(doc.uri, new vscode.Range(0, 0, doc.lineCount, 0), fixed);
    await vscode.workspace.applyEdit(edit);
    await doc.save();
    await waitFor('the problems of broken.lily.json to clear after fixing it', () => {
      const left = vscode.languages.getDiagnostics(doc.uri);
      if (left.length > 0) throw new Error(`still: ${left.map((d) => `line ${d.range.start.line}: ${d.message}`).join('; ')}`);
      return true;
    }, 30_000);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    fs.rmSync(file, { force: true });
  });
});
