// Parquet and Arrow data (written by the real pyarrow, in the layouts Hugging Face datasets
// writes) go through the same pipeline as JSONL: the same batches for the same rows, ClassLabel
// names as labels, and errors that name the file, the row and the field.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { resolveConfig } from '../../native-runtime/config/resolved';
import type { LilyConfig } from '../../native-runtime/config/types';
import type { ValueInfo } from '../../native-runtime/onnx/ir';
import { openColumnar } from '../../native-runtime/train/data/columnar';
import { DataError } from '../../native-runtime/train/data/errors';
import { openData } from '../../native-runtime/train/data/pipeline';
import { writeWithPyarrow } from '../helpers/pyarrowWrite';
import { bertTokenizerJson, tempDir, writeFile } from './fixtures';

const TEXT_INPUTS: ValueInfo[] = [
  { name: 'input_ids', dtype: 'int64', shape: ['batch', 'seq'] },
  { name: 'attention_mask', dtype: 'int64', shape: ['batch', 'seq'] },
];

const ROWS = [
  { text: 'the movie was great', label: 1 },
  { text: 'not fun', label: 0 },
  { text: 'a film was bad', label: 0 },
  { text: 'playing was good', label: 1 },
  { text: 'the film was not good', label: 0 },
];
const CLASS_LABEL = { text: { dtype: 'string', _type: 'Value' }, label: { names: ['neg', 'pos'], _type: 'ClassLabel' } };

function config(dir: string, train: string, data: Partial<LilyConfig['data']> = {}, model: Partial<LilyConfig['model']> = {}) {
  writeFile(dir, 'tokenizer.json', JSON.stringify(bertTokenizerJson()));
  const c: LilyConfig = {
    model: { path: 'model.onnx', task: 'sequence-classification', ...model },
    data: { train, max_length: 8, ...data },
    adapter: { method: 'lily', target_modules: ['value'] },
    training: { batch_size: 2, shuffle: true, seed: 7 },
  };
  return resolveConfig(c, path.join(dir, 'x.lily.json'), dir);
}

/** Every training batch of the first epoch as plain numbers. */
function batches(cfg: ReturnType<typeof config>): unknown[] {
  const p = openData(cfg, { modelInputs: TEXT_INPUTS });
  try {
    const out: unknown[] = [];
    for (let s = 0; s < p.plan.stepsPerEpoch; s++) {
      const b = p.trainBatch(s);
      out.push(Object.fromEntries(Object.entries(b.tensors).map(([k, t]) => [k, Array.from(t.data as BigInt64Array, Number)])));
    }
    return out;
  } finally {
    p.close();
  }
}

function expectRowError(fn: () => unknown, file: string, row: number, field: string, detail: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataError, String(e));
    assert.strictEqual(e.file, file);
    assert.strictEqual(e.line, row);
    assert.strictEqual(e.field, field);
    assert.match(e.detail, detail);
    assert.ok(e.message.startsWith(`${file}: row ${row}: field "${field}"`), e.message);
    return true;
  });
}

describe('data/columnar (Parquet, Arrow)', function () {
  this.timeout(60000);

  it('a snappy Parquet file written by pyarrow gives the same batches as the same rows in JSONL', () => {
    const dir = tempDir();
    writeFile(dir, 'train.jsonl', ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n');
    writeWithPyarrow({ kind: 'parquet', rows: ROWS, out: path.join(dir, 'train.parquet') });
    const fromJsonl = batches(config(dir, 'train.jsonl', {}, { num_labels: 2 }));
    const cfg = config(dir, 'train.parquet', {}, { num_labels: 2 });
    assert.strictEqual(cfg.data.format, 'parquet', 'format from the extension');
    assert.deepStrictEqual(batches(cfg), fromJsonl);
    assert.ok(fromJsonl.length >= 2);
  });

  it('reads a datasets.save_to_disk folder (two stream shards, state.json order) with its ClassLabel names as labels', () => {
    const dir = tempDir();
    writeFile(dir, 'train.jsonl', ROWS.map((r) => JSON.stringify({ ...r, label: ['neg', 'pos'][r.label] })).join('\n') + '\n');
    writeWithPyarrow({ kind: 'arrow-folder', rows: ROWS, out: path.join(dir, 'train_ds'), features: CLASS_LABEL, shards: 2 });
    const cfg = config(dir, 'train_ds');
    assert.strictEqual(cfg.data.format, 'arrow', 'a folder is read as Arrow');
    const p = openData(cfg, { modelInputs: TEXT_INPUTS });
    assert.strictEqual(p.train.size, ROWS.length);
    assert.deepStrictEqual(p.labelNames, ['neg', 'pos'], 'the ClassLabel names, in id order');
    p.close();
    // The JSONL twin carries the names as strings: sorted they are the same list, so the ids agree.
    assert.deepStrictEqual(batches(cfg), batches(config(dir, 'train.jsonl')));
  });

  it('takes ClassLabel names from a Parquet file\'s huggingface metadata; model.labels still wins', () => {
    const dir = tempDir();
    const features = { ...CLASS_LABEL, label: { names: ['zero', 'one'], _type: 'ClassLabel' } };
    writeWithPyarrow({ kind: 'parquet', rows: ROWS, out: path.join(dir, 'train.parquet'), features });
    const p = openData(config(dir, 'train.parquet'), { modelInputs: TEXT_INPUTS });
    assert.deepStrictEqual(p.labelNames, ['zero', 'one']);
    p.close();
    const q = openData(config(dir, 'train.parquet', {}, { labels: ['a', 'b'] }), { modelInputs: TEXT_INPUTS });
    assert.deepStrictEqual(q.labelNames, ['a', 'b']);
    q.close();
  });

  it('text_field and label_field name the columns, as for JSONL', () => {
    const dir = tempDir();
    writeWithPyarrow({ kind: 'parquet', rows: ROWS.map((r) => ({ sentence: r.text, y: r.label })), out: path.join(dir, 'train.parquet') });
    writeFile(dir, 'train.jsonl', ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n');
    assert.deepStrictEqual(
      batches(config(dir, 'train.parquet', { text_field: 'sentence', label_field: 'y' }, { num_labels: 2 })),
      batches(config(dir, 'train.jsonl', {}, { num_labels: 2 })));
  });

  it('names the file, the 0-based row and the field of a bad row (Parquet and Arrow)', () => {
    const dir = tempDir();
    const bad = [...ROWS.slice(0, 3), { text: null, label: 1 }, ROWS[4]];
    const pq = writeWithPyarrow({ kind: 'parquet', rows: bad, out: path.join(dir, 'bad.parquet') });
    expectRowError(() => openData(config(dir, 'bad.parquet'), { modelInputs: TEXT_INPUTS }), pq, 3, 'text', /expected a string, found nothing/);
    const folder = writeWithPyarrow({ kind: 'arrow-folder', rows: [...ROWS, { text: 'good', label: 5 }], out: path.join(dir, 'bad_ds'), features: CLASS_LABEL, shards: 2 });
    expectRowError(() => openData(config(dir, 'bad_ds'), { modelInputs: TEXT_INPUTS }), folder, 5, 'label', /label 5 is outside 0\.\.1/);
  });

  it('reads what the real datasets 4.4.1 writes (save_to_disk, to_parquet): rows, and ClassLabel names as labels', () => {
    const fx = path.join(__dirname, 'fixtures', 'datasets-4.4.1');
    const dir = tempDir();
    writeFile(dir, 'twin.jsonl', ['the movie was great', 'not fun', 'a film was good', 'the film was bad', 'playing was fun', 'not good']
      .map((text, i) => JSON.stringify({ text, label: ['negative', 'positive'][(i + 1) % 2] })).join('\n') + '\n');
    const twin = batches(config(dir, 'twin.jsonl'));
    for (const data of [path.join(fx, 'saved'), path.join(fx, 'train.parquet')]) {
      const cfg = config(dir, data);
      const p = openData(cfg, { modelInputs: TEXT_INPUTS });
      assert.deepStrictEqual(p.labelNames, ['negative', 'positive'], data);
      assert.strictEqual(p.train.size, 6);
      p.close();
      assert.deepStrictEqual(batches(cfg), twin, data);
    }
    // Token classification: a Sequence of ClassLabel names the tags.
    const ner = openColumnar(path.join(fx, 'ner.parquet'), 'parquet');
    assert.deepStrictEqual(ner.classLabels.get('ner_tags'), ['O', 'B-X']);
    assert.deepStrictEqual(ner.row(1), { tokens: ['a', 'film'], ner_tags: [1, 0] });
  });

  it('explains a DatasetDict folder, a folder without Arrow files and a file that is not Parquet', () => {
    const dir = tempDir();
    writeWithPyarrow({ kind: 'arrow-folder', rows: ROWS, out: path.join(dir, 'dd', 'train') });
    writeFile(dir, 'dd/dataset_dict.json', JSON.stringify({ splits: ['train'] }));
    assert.throws(() => openData(config(dir, 'dd'), { modelInputs: TEXT_INPUTS }), /is a DatasetDict folder.*one split folder: .*dd\/train/);
    fs.mkdirSync(path.join(dir, 'empty'));
    writeFile(dir, 'empty/readme.txt', 'no data here');
    assert.throws(() => openData(config(dir, 'empty', { format: 'arrow' }), { modelInputs: TEXT_INPUTS }), /empty: folder holds no \.arrow files and no state\.json/);
    writeFile(dir, 'fake.parquet', 'not parquet at all');
    assert.throws(() => openData(config(dir, 'fake.parquet'), { modelInputs: TEXT_INPUTS }), (e: unknown) => e instanceof DataError && /fake\.parquet: not a readable Parquet file/.test(e.message));
  });
});
