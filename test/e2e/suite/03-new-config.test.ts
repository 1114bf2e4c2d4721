// "Lily: New Adapter Config", run without prompts (its options: the answers a user gives),
// writes a config for the bundled model with the picked data, the detected fields and label
// names and the tokenizer found beside the model; the real backend validates it without errors,
// VS Code shows it without problems, and it trains as written.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { Methods, type ListTargetsResult, type ValidateConfigResult } from '../../../native-runtime/protocol';
import { lilyApi, runCommand, sentimentExample, waitFor, waitForState } from './helpers';

describe('Lily: New Adapter Config', () => {
  it('writes a config for the bundled model with the picked data that validates without errors and trains as written', async function () {
    this.timeout(300_000);
    const api = await lilyApi();
    const example = sentimentExample();
    const { targets } = await api.backend.request<ListTargetsResult>(Methods.listTargets, { modelPath: example.model });
    assert.ok(targets.length > 0, `the backend found no adaptable layers in ${example.model}`);
    // Attention value (and query) when the model has them, as the paper does; else the first group.
    const preferred = targets.filter((t) => /(^|\.)(value|query)$/.test(t.suffix)).map((t) => t.suffix);
    const chosen = preferred.length > 0 ? preferred : [targets[0].suffix];

    const r = await runCommand<{ configPath: string }>('lily.newConfig', vscode.Uri.file(example.model), {
      targets: chosen, task: 'sequence-classification', name: 'e2e-new', noOpen: true,
      train: path.join(example.dir, 'train.jsonl'), eval: path.join(example.dir, 'eval.jsonl'),
    });
    assert.strictEqual(r.configPath, path.join(example.dir, 'e2e-new.lily.json'));
    const config = JSON.parse(fs.readFileSync(r.configPath, 'utf8'));
    assert.strictEqual(path.resolve(example.dir, config.model.path), example.model, 'model.path must lead back to the model');
    assert.strictEqual(config.model.task, 'sequence-classification');
    assert.strictEqual(config.adapter.method, 'lily');
    assert.deepStrictEqual([...config.adapter.target_modules].sort(), [...chosen].sort());

    // The data the user picked, the fields and label names detected in it, the tokenizer beside the model.
    assert.deepStrictEqual([config.data.train, config.data.eval, config.data.text_field, config.data.label_field], ['./train.jsonl', './eval.jsonl', 'text', 'label']);
    assert.deepStrictEqual(config.model.labels, ['negative', 'positive']);
    assert.strictEqual(config.model.num_labels, 2);
    assert.strictEqual(config.model.tokenizer, './tokenizer.json');
    assert.strictEqual(config.$schema, undefined, 'no $schema path to break: jsonValidation maps *.lily.json');
    const v = await api.backend.request<ValidateConfigResult>(Methods.validateConfig, { configPath: r.configPath });
    assert.deepStrictEqual(v.diagnostics.filter((d) => d.severity === 'error'), [], 'the backend reports errors in the new config');

    // Opened in an editor, it gets no error diagnostics from the extension either.
    const doc = await vscode.workspace.openTextDocument(r.configPath);
    await vscode.window.showTextDocument(doc);
    const shown = await api.diagnostics.validate(doc);
    assert.ok(shown, 'the extension did not validate the opened config');
    assert.deepStrictEqual(shown.filter((d) => d.severity === vscode.DiagnosticSeverity.Error).map((d) => d.message), []);
    await waitFor('no Lily errors in the Problems of the new config', () =>
      vscode.languages.getDiagnostics(doc.uri).some((d) => d.source === 'lily' && d.severity === vscode.DiagnosticSeverity.Error) ? undefined : true);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');

    // As written, it trains (a few steps).
    const run = await runCommand<{ runDir: string }>('lily.train', vscode.Uri.file(r.configPath), { maxSteps: 3 });
    const done = await waitForState(run.runDir, ['completed'], 240_000);
    assert.strictEqual(done.step, 3);
    fs.rmSync(r.configPath);
  });

  it('refuses a target the model does not have, naming the ones it has', async () => {
    const example = sentimentExample();
    const r = await vscode.commands.executeCommand<{ ok: boolean; reason?: string }>('lily.newConfig', vscode.Uri.file(example.model), {
      targets: ['no.such.layer'], task: 'sequence-classification', name: 'e2e-bad', noOpen: true,
    });
    assert.strictEqual(r?.ok, false);
    assert.match(r.reason ?? '', /no\.such\.layer/);
    assert.ok(!fs.existsSync(path.join(example.dir, 'e2e-bad.lily.json')), 'a refused config must not be written');
  });
});
