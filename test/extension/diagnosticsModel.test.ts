// Config diagnostics land on the right characters: the validator's real diagnostics for real
// invalid configs, mapped to 0-based editor ranges.
import * as assert from 'assert';
import * as fs from 'fs';
import { validateConfigText } from '../../native-runtime/config/validate';
import { LineIndex, overlaps, splitForEditor, toEditorDiagnostics } from '../../src/diagnosticsModel';
import { configFixture } from './fixtures';

/** The text a range covers. */
function slice(text: string, r: { start: { line: number; character: number }; end: { line: number; character: number } }): string {
  const lines = text.split('\n');
  const off = (p: { line: number; character: number }) => lines.slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + p.character;
  return text.slice(off(r.start), off(r.end));
}

describe('config diagnostics -> editor ranges', () => {
  const fx = configFixture();
  const good = fs.readFileSync(fx.configPath, 'utf8');
  after(() => fs.rmSync(fx.dir, { recursive: true, force: true }));

  it('LineIndex maps offsets to 0-based line/character', () => {
    const idx = new LineIndex('ab\ncde\n\nf');
    assert.deepStrictEqual(idx.position(0), { line: 0, character: 0 });
    assert.deepStrictEqual(idx.position(3), { line: 1, character: 0 });
    assert.deepStrictEqual(idx.position(5), { line: 1, character: 2 });
    assert.deepStrictEqual(idx.position(7), { line: 2, character: 0 });
    assert.deepStrictEqual(idx.position(8), { line: 3, character: 0 });
  });

  it('leaves schema violations to VS Code\'s JSON validation (one entry per problem) but keeps their fixes', () => {
    const text = good.replace('"num_B": 2', '"num_b": 2').replace('"r": 4', '"r": 0').replace('data/train.jsonl', 'data/gone.jsonl');
    const { shown, fixesOnly } = splitForEditor(toEditorDiagnostics(text, validateConfigText(text, fx.configPath)));
    assert.deepStrictEqual(shown.map((d) => d.message.split(':')[0]), ['data.train'], 'only what the schema cannot say');
    assert.deepStrictEqual(fixesOnly.map((d) => [slice(text, d.range), d.suggestion]), [['"num_b"', 'num_B']]);
  });

  it('overlaps: ranges sharing a position', () => {
    const r = (l1: number, c1: number, l2: number, c2: number) => ({ start: { line: l1, character: c1 }, end: { line: l2, character: c2 } });
    assert.ok(overlaps(r(1, 2, 1, 9), r(1, 5, 1, 6)));
    assert.ok(overlaps(r(1, 2, 1, 9), r(1, 9, 2, 0)), 'touching');
    assert.ok(!overlaps(r(1, 2, 1, 9), r(2, 0, 2, 3)));
    assert.ok(!overlaps(r(3, 0, 3, 1), r(1, 0, 2, 9)));
  });

  it('underlines an out-of-range value', () => {
    const text = good.replace('"num_B": 2', '"num_B": 1');
    const diags = toEditorDiagnostics(text, validateConfigText(text, fx.configPath));
    const d = diags.find((x) => x.message.startsWith('adapter.num_B'));
    assert.ok(d, JSON.stringify(diags));
    const line = text.split('\n').findIndex((l) => l.includes('"num_B": 1'));
    assert.strictEqual(d!.range.start.line, line);
    assert.strictEqual(d!.range.start.character, text.split('\n')[line].indexOf('1'));
    assert.strictEqual(slice(text, d!.range), '1');
    assert.strictEqual(d!.severity, 'error');
    assert.strictEqual(d!.onKey, false);
  });

  it('underlines the key of a misspelled field and carries the suggestion', () => {
    const text = good.replace('"num_B"', '"num_b"');
    const diags = toEditorDiagnostics(text, validateConfigText(text, fx.configPath));
    const d = diags.find((x) => x.onKey);
    assert.ok(d, JSON.stringify(diags));
    assert.strictEqual(slice(text, d!.range), '"num_b"');
    assert.strictEqual(d!.suggestion, 'num_B');
  });

  it('points a missing required field at the enclosing key', () => {
    const cfg = JSON.parse(good);
    delete cfg.model.task;
    const text = JSON.stringify(cfg, null, 2);
    const diags = toEditorDiagnostics(text, validateConfigText(text, fx.configPath));
    const d = diags.find((x) => /task/.test(x.message));
    assert.ok(d, JSON.stringify(diags));
    assert.strictEqual(slice(text, d!.range), '"model"');
  });

  it('places a JSON syntax error at its exact character', () => {
    // A missing comma between two properties on lines 3 and 4.
    const text = '{\n  "model": {\n    "path": "./model.onnx"\n    "task": "regression"\n  }\n}\n';
    const diags = toEditorDiagnostics(text, validateConfigText(text, fx.configPath));
    assert.strictEqual(diags.length, 1, JSON.stringify(diags));
    assert.match(diags[0].message, /JSON syntax error: expected ","/);
    assert.deepStrictEqual(diags[0].range.start, { line: 3, character: 4 });
  });

  it('underlines a data path that does not exist', () => {
    const text = good.replace('./data/train.jsonl', './data/missing.jsonl');
    const diags = toEditorDiagnostics(text, validateConfigText(text, fx.configPath));
    const d = diags.find((x) => x.message.startsWith('data.train'));
    assert.ok(d, JSON.stringify(diags));
    assert.strictEqual(slice(text, d!.range), '"./data/missing.jsonl"');
  });
});
