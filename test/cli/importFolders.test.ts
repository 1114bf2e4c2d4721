// Where `lily import` writes by default: the standard and the packed export of one model get their
// own folders and configs, so importing one never asks to replace the other; a real clash (the same
// form again) still does. The output folder is checked before Python starts, so a Python that
// cannot start tells how far the real CLI got: "no-python" means it went past the folder check.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { importDefaults } from '../../native-runtime/cli/importCommand';
import { tempDir } from '../helpers/tempDir';
import { lily } from './workspace';

/** A BERT classifier's config.json alone: enough for every check made before the exporter starts. */
function bertConfigOnly(root: string): string {
  const dir = path.join(root, 'bert');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({
    architectures: ['BertForSequenceClassification'], model_type: 'bert', id2label: { 0: 'negative', 1: 'positive' },
  }));
  return dir;
}

/** `lily import --json` with a Python that cannot start: the failure's kind and message. */
async function importFailure(ws: string, args: string[]): Promise<{ code: number; kind: string; message: string }> {
  const r = await lily(['import', ...args, '--python', path.join(ws, 'no-such-python'), '--json'], ws);
  const { error } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { error: { kind: string; message: string } };
  return { code: r.code, ...error };
}

describe('cli: lily import default folders', function () {
  this.timeout(60_000);

  it('names the packed export\'s folder and config apart from the standard one\'s', () => {
    assert.deepStrictEqual(importDefaults('bert', false), { modelDir: 'bert-onnx', config: 'bert.lily.json' });
    assert.deepStrictEqual(importDefaults('bert', true), { modelDir: 'bert-packed-onnx', config: 'bert-packed.lily.json' });
  });

  it('a packed import beside a standard one goes on to the export; the same form again is refused as existing', async () => {
    const ws = tempDir('lily-import-folders-');
    const bert = bertConfigOnly(ws);
    fs.mkdirSync(path.join(ws, 'bert-onnx'));
    fs.writeFileSync(path.join(ws, 'bert-onnx', 'model.onnx'), 'the standard export');

    const packed = await importFailure(ws, [bert, '--packing']);
    assert.strictEqual(packed.code, 2);
    assert.strictEqual(packed.kind, 'no-python', `the packed import stopped before the exporter: ${packed.message}`);
    assert.strictEqual(fs.readFileSync(path.join(ws, 'bert-onnx', 'model.onnx'), 'utf8'), 'the standard export');
    assert.deepStrictEqual(fs.readdirSync(ws).sort(), ['bert', 'bert-onnx'], 'a failed export leaves no folder behind');

    const standard = await importFailure(ws, [bert]);
    assert.strictEqual(standard.kind, 'exists');
    assert.match(standard.message, new RegExp(`${path.join(ws, 'bert-onnx')} already holds a model.onnx; pass --force`));

    fs.mkdirSync(path.join(ws, 'bert-packed-onnx'));
    fs.writeFileSync(path.join(ws, 'bert-packed-onnx', 'model.onnx'), 'the packed export');
    const again = await importFailure(ws, [bert, '--packing']);
    assert.strictEqual(again.code, 2);
    assert.strictEqual(again.kind, 'exists');
    assert.match(again.message, new RegExp(`${path.join(ws, 'bert-packed-onnx')} already holds a model.onnx; pass --force`));
    assert.strictEqual(fs.readFileSync(path.join(ws, 'bert-packed-onnx', 'model.onnx'), 'utf8'), 'the packed export');
  });
});
