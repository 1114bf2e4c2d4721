import * as assert from 'assert';
import * as path from 'path';
import { resolveConfig } from '../../native-runtime/config/resolved';
import type { LilyConfig, TaskType } from '../../native-runtime/config/types';
import type { ValueInfo } from '../../native-runtime/onnx/ir';
import { DataError } from '../../native-runtime/train/data/errors';
import { openData } from '../../native-runtime/train/data/pipeline';
import { BatchPlan } from '../../native-runtime/train/data/plan';
import { bertTokenizerJson, tempDir, writeFile } from './fixtures';

const TEXT_INPUTS: ValueInfo[] = [
  { name: 'input_ids', dtype: 'int64', shape: ['batch', 'seq'] },
  { name: 'attention_mask', dtype: 'int64', shape: ['batch', 'seq'] },
  { name: 'token_type_ids', dtype: 'int64', shape: ['batch', 'seq'] },
];

function setup(files: Record<string, string>, data: Partial<LilyConfig['data']>, model: Partial<LilyConfig['model']> = {}, training: LilyConfig['training'] = {}) {
  const dir = tempDir();
  writeFile(dir, 'tokenizer.json', JSON.stringify(bertTokenizerJson()));
  for (const [k, v] of Object.entries(files)) writeFile(dir, k, v);
  const config: LilyConfig = {
    model: { path: 'model.onnx', task: 'sequence-classification' as TaskType, ...model },
    data: { train: 'train.jsonl', max_length: 8, ...data },
    adapter: { method: 'lily', target_modules: ['value'] },
    training: { batch_size: 2, ...training },
  };
  return resolveConfig(config, path.join(dir, 'x.lily.json'), dir);
}

function expectDataError(fn: () => unknown, file: RegExp, line: number | undefined, field: string | undefined, detail: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof DataError, `expected a DataError, got ${e}`);
    assert.match(e.file, file);
    assert.strictEqual(e.line, line);
    assert.strictEqual(e.field, field);
    assert.match(e.detail, detail);
    assert.ok(e.message.startsWith(`${e.file}${line !== undefined ? `:${line}` : ''}`), e.message);
    return;
  }
  assert.fail('expected a DataError');
}

const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

describe('data/pipeline', () => {
  it('tokenizes text, pads to max_length with masks, and maps string labels through the sorted unique labels', () => {
    const cfg = setup({ 'train.jsonl': jsonl([
      { text: 'the movie was great', label: 'pos' },
      { text: 'not fun', label: 'neg' },
      { text: 'the movie was bad bad bad bad bad bad', label: 'neg' },
    ]) }, {}, {}, { shuffle: false });
    const p = openData(cfg, { modelInputs: TEXT_INPUTS });
    assert.deepStrictEqual(p.labelNames, ['neg', 'pos']);
    const b = p.trainBatch(0);
    assert.strictEqual(b.size, 2);
    assert.deepStrictEqual(b.tensors.input_ids.dims, [2, 8]);
    assert.strictEqual(b.tensors.input_ids.type, 'int64');
    assert.deepStrictEqual([...(b.tensors.input_ids.data as BigInt64Array)].map(Number), [2, 4, 5, 6, 7, 3, 0, 0, 2, 10, 13, 3, 0, 0, 0, 0]);
    assert.deepStrictEqual([...(b.tensors.attention_mask.data as BigInt64Array)].map(Number), [1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0]);
    assert.deepStrictEqual([...(b.tensors.labels.data as BigInt64Array)].map(Number), [1, 0]);
    assert.strictEqual(b.tokens, 10);
    // Truncation keeps [SEP] at the end.
    const long = p.train.example(2, p.scheme);
    assert.deepStrictEqual(long.inputs.get('input_ids')!.data, [2, 4, 5, 6, 8, 8, 8, 3]);
    p.close();
  });

  it('uses pre-tokenized records as they are and builds causal-LM labels with -100 at padding', () => {
    const cfg = setup({ 'train.jsonl': jsonl([{ input_ids: [5, 6, 7] }, { input_ids: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }]) },
      { max_length: 5 }, { task: 'causal-lm' });
    const p = openData(cfg, { modelInputs: TEXT_INPUTS.slice(0, 2) });
    const ex = p.train.example(0, p.scheme);
    assert.deepStrictEqual(ex.inputs.get('input_ids')!.data, [5, 6, 7, 0, 0]);
    assert.deepStrictEqual(ex.inputs.get('attention_mask')!.data, [1, 1, 1, 0, 0]);
    assert.deepStrictEqual(ex.label, [5, 6, 7, -100, -100]);
    assert.deepStrictEqual(p.train.example(1, p.scheme).label, [1, 2, 3, 4, 5]);
    const b = p.trainBatch(0);
    assert.deepStrictEqual(b.tensors.labels.dims, [2, 5]);
    p.close();
  });

  it('aligns word labels to the first sub-token (token classification) from CSV with JSON cells', () => {
    const csv = 'text,label\n"[""the"", ""playing"", ""fun""]","[""O"", ""B"", ""O""]"\n';
    const cfg = setup({ 'train.csv': csv }, { train: 'train.csv', max_length: 8 }, { task: 'token-classification', labels: ['O', 'B'] });
    const p = openData(cfg, { modelInputs: TEXT_INPUTS.slice(0, 2) });
    const ex = p.train.example(0, p.scheme);
    assert.deepStrictEqual(ex.inputs.get('input_ids')!.data, [2, 4, 11, 12, 13, 3, 0, 0]);
    assert.deepStrictEqual(ex.label, [-100, 0, 1, -100, 0, -100, -100, -100]);
    p.close();
  });

  it('reads regression targets as float32, also from CSV strings', () => {
    const cfg = setup({ 'train.csv': 'text,label\ngood,0.5\nbad,-1.25\n' }, { train: 'train.csv' }, { task: 'regression' });
    const p = openData(cfg, { modelInputs: TEXT_INPUTS });
    const b = p.trainBatch(0);
    assert.strictEqual(b.tensors.labels.type, 'float32');
    const got = [...(b.tensors.labels.data as Float32Array)].sort();
    assert.deepStrictEqual(got, [-1.25, 0.5]);
    p.close();
  });

  it('reports a malformed line with FILE:LINE', () => {
    const cfg = setup({ 'train.jsonl': '{"text":"good","label":"pos"}\n\n{"text": "bad", label: 1}\n' }, {});
    expectDataError(() => openData(cfg, { modelInputs: TEXT_INPUTS }), /train\.jsonl$/, 3, undefined, /invalid JSON/);
  });

  it('reports a missing text field, a wrong label type, an unknown label and an out-of-range id', () => {
    let cfg = setup({ 'train.jsonl': jsonl([{ text: 'good', label: 'pos' }, { sentence: 'bad', label: 'neg' }]) }, {});
    expectDataError(() => openData(cfg, { modelInputs: TEXT_INPUTS }), /train\.jsonl$/, 2, 'text', /expected a string.*sentence/);
    cfg = setup({ 'train.jsonl': jsonl([{ text: 'good', label: [1] }]) }, {});
    expectDataError(() => openData(cfg, { modelInputs: TEXT_INPUTS }), /train\.jsonl$/, 1, 'label', /class name or an integer/);
    cfg = setup({ 'train.jsonl': jsonl([{ text: 'good', label: 'pos' }, { text: 'meh', label: 'neutral' }]) }, {}, { labels: ['neg', 'pos'] });
    expectDataError(() => openData(cfg, { modelInputs: TEXT_INPUTS }), /train\.jsonl$/, 2, 'label', /"neutral" is not one of/);
    cfg = setup({ 'train.jsonl': jsonl([{ text: 'good', label: 1 }]), 'eval.jsonl': jsonl([{ text: 'x', label: 0 }, { text: 'y', label: 2 }]) },
      { eval: 'eval.jsonl' }, { num_labels: 2 });
    expectDataError(() => openData(cfg, { modelInputs: TEXT_INPUTS }), /eval\.jsonl$/, 2, 'label', /outside 0\.\.1/);
  });

  it('names the config field of a missing data file, and a CSV row with the wrong column count', () => {
    let cfg = setup({}, { train: 'nope.jsonl' });
    expectDataError(() => openData(cfg, { modelInputs: TEXT_INPUTS }), /x\.lily\.json$/, undefined, 'data.train', /nope\.jsonl does not exist/);
    cfg = setup({ 'train.csv': 'text,label\ngood,pos\nbad,neg,extra\n' }, { train: 'train.csv' });
    expectDataError(() => openData(cfg, { modelInputs: TEXT_INPUTS }), /train\.csv$/, 3, undefined, /3 columns, the header has 2/);
  });

  it('disagreement between num_labels and the model logits is a config error', () => {
    const cfg = setup({ 'train.jsonl': jsonl([{ text: 'good', label: 1 }]) }, {}, { num_labels: 3 });
    expectDataError(() => openData(cfg, { modelInputs: TEXT_INPUTS, modelClasses: 2 }), /x\.lily\.json$/, undefined, 'model.num_labels', /logits have 2 classes/);
  });
});

describe('data/plan', () => {
  it('gives each epoch a seeded permutation covering every record once, the same for the same seed', () => {
    const plan = new BatchPlan(10, 3, 7, true, true);
    assert.strictEqual(plan.stepsPerEpoch, 3);
    const epoch0 = [0, 1, 2].flatMap((s) => plan.indicesForStep(s));
    const epoch1 = [3, 4, 5].flatMap((s) => plan.indicesForStep(s));
    assert.strictEqual(new Set(epoch0).size, 9);
    assert.notDeepStrictEqual(epoch0, epoch1);
    const again = new BatchPlan(10, 3, 7, true, true);
    assert.deepStrictEqual([4, 0, 2].map((s) => again.indicesForStep(s)), [4, 0, 2].map((s) => plan.indicesForStep(s)));
    const other = new BatchPlan(10, 3, 8, true, true);
    assert.notDeepStrictEqual(other.indicesForStep(0).concat(other.indicesForStep(1)), plan.indicesForStep(0).concat(plan.indicesForStep(1)));
    assert.deepStrictEqual(new BatchPlan(5, 2, 1, false, false).indicesForStep(2), [4]);
  });
});

describe('data/pipeline: image inputs', () => {
  it('takes float inputs (pixel_values) from the records as nested lists', () => {
    const rows = [{ pixel_values: [[[0.5, 1], [2, 3]]], label: 1 }, { pixel_values: [[[4, 5], [6, 7]]], label: 0 }];
    const cfg = setup({ 'train.jsonl': jsonl(rows) }, {}, { num_labels: 2 });
    const p = openData(cfg, { modelInputs: [{ name: 'pixel_values', dtype: 'float32', shape: ['batch', 1, 2, 2] }] });
    const b = p.trainBatch(0);
    assert.deepStrictEqual(b.tensors.pixel_values.dims, [2, 1, 2, 2]);
    assert.strictEqual(b.tensors.pixel_values.type, 'float32');
    const all = [...(b.tensors.pixel_values.data as Float32Array)];
    assert.deepStrictEqual(all.slice().sort((x, y) => x - y), [0.5, 1, 2, 3, 4, 5, 6, 7]);
    p.close();
    const bad = setup({ 'train.jsonl': jsonl([{ pixel_values: [[1, 2], [3]], label: 0 }]) }, {}, { num_labels: 2 });
    expectDataError(() => openData(bad, { modelInputs: [{ name: 'pixel_values', dtype: 'float32', shape: ['batch', 2, 2] }] }), /train\.jsonl$/, 1, 'pixel_values', /ragged/);
  });
});
