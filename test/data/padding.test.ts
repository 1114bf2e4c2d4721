// data.padding and data.packing at the data level: the lengths a batch is cut to, that no real
// token is ever cut, and what a packed row holds (document numbers, positions, ignore labels).
import * as assert from 'assert';
import * as path from 'path';
import { resolveConfig } from '../../native-runtime/config/resolved';
import type { LilyConfig } from '../../native-runtime/config/types';
import type { ValueInfo } from '../../native-runtime/onnx/ir';
import { semanticDiagnostics } from '../../native-runtime/config/semanticChecks';
import { DataError } from '../../native-runtime/train/data/errors';
import { IGNORE_INDEX } from '../../native-runtime/train/data/labels';
import { packRows } from '../../native-runtime/train/data/packing';
import { bucketStep, defaultBuckets, MAX_DEFAULT_BUCKETS, paddedLength, possibleLengths } from '../../native-runtime/train/data/padding';
import { openData } from '../../native-runtime/train/data/pipeline';
import { bertTokenizerJson, tempDir, writeFile } from './fixtures';

const CLS_INPUTS: ValueInfo[] = [
  { name: 'input_ids', dtype: 'int64', shape: ['batch', 'seq'] },
  { name: 'attention_mask', dtype: 'int64', shape: ['batch', 'seq'] },
];
const LM_INPUTS: ValueInfo[] = [...CLS_INPUTS, { name: 'position_ids', dtype: 'int64', shape: ['batch', 'seq'] }];
/** A packed classifier's inputs (hf_models.py --kind bert-doc). */
const DOC_INPUTS: ValueInfo[] = [...LM_INPUTS, { name: 'document_starts', dtype: 'int64', shape: ['batch', 'documents'] }];
const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const ints = (t: { data: unknown }) => [...(t.data as BigInt64Array)].map(Number);

function setup(rows: object[], data: Partial<LilyConfig['data']>, task: LilyConfig['model']['task'] = 'sequence-classification', batch = 2) {
  const dir = tempDir();
  writeFile(dir, 'tokenizer.json', JSON.stringify(bertTokenizerJson()));
  writeFile(dir, 'train.jsonl', jsonl(rows));
  const config: LilyConfig = {
    model: { path: 'model.onnx', task },
    data: { train: 'train.jsonl', max_length: 16, ...data },
    adapter: { method: 'lora', target_modules: ['value'] },
    training: { batch_size: batch, shuffle: false },
  };
  return resolveConfig(config, path.join(dir, 'x.lily.json'), dir);
}

describe('data/padding', () => {
  it('pads to max_length, to the longest row, or to the smallest bucket that holds it', () => {
    const base = { max_length: 128, buckets: [32, 64, 128] };
    assert.strictEqual(paddedLength({ ...base, padding: 'max_length' }, 5), 128);
    assert.strictEqual(paddedLength({ ...base, padding: 'longest' }, 5), 5);
    assert.strictEqual(paddedLength({ ...base, padding: 'longest' }, 500), 128);
    assert.strictEqual(paddedLength({ ...base, padding: 'buckets' }, 32), 32);
    assert.strictEqual(paddedLength({ ...base, padding: 'buckets' }, 33), 64);
    assert.strictEqual(paddedLength({ ...base, padding: 'buckets', buckets: [16] }, 17), 128);
    assert.deepStrictEqual(possibleLengths({ ...base, padding: 'buckets', buckets: [16] }), [16, 128]);
  });

  it('default buckets: multiples of 8 up to max_length 128, of 32 up to 512, never more than 16', () => {
    assert.deepStrictEqual(defaultBuckets(128), [16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128]);
    assert.deepStrictEqual(defaultBuckets(512), Array.from({ length: 16 }, (_, i) => 32 * (i + 1)));
    assert.deepStrictEqual(defaultBuckets(100), [16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 100]);
    assert.deepStrictEqual(defaultBuckets(20), [16, 20]);
    assert.deepStrictEqual(defaultBuckets(4), [4]);
    assert.deepStrictEqual([128, 200, 256, 512, 2048].map(bucketStep), [8, 16, 16, 32, 128]);
    // A config without `buckets` gets them, and a batch goes to the next multiple of the step.
    const cfg = setup([{ text: 'a', label: 0 }], { padding: 'buckets', max_length: 512 });
    assert.deepStrictEqual(cfg.data.buckets, defaultBuckets(512));
    const at = (max: number, n: number) => paddedLength({ padding: 'buckets', max_length: max }, n);
    assert.deepStrictEqual([1, 16, 17, 24, 25, 120, 121, 127, 128, 500].map((n) => at(128, n)), [16, 16, 24, 24, 32, 120, 128, 128, 128, 128]);
    assert.deepStrictEqual([1, 32, 33, 300, 481, 512].map((n) => at(512, n)), [32, 32, 64, 320, 512, 512]);
  });

  it('default buckets pad a batch by less than 1/16 of max_length (rounded up to 8) a row, and by at most 1/8 above 8 steps', () => {
    for (const max of [16, 64, 100, 128, 200, 256, 384, 512, 1000, 1024, 2048, 4096]) {
      const buckets = defaultBuckets(max), step = bucketStep(max);
      assert.ok(buckets.length <= MAX_DEFAULT_BUCKETS, `max_length ${max}: ${buckets.length} buckets`);
      assert.strictEqual(buckets[buckets.length - 1], max);
      assert.ok(buckets.every((b, i) => i === 0 || b > buckets[i - 1]), `max_length ${max}: ascending`);
      assert.ok(step <= Math.max(8, Math.ceil(max / 16 / 8) * 8), `max_length ${max}: step ${step}`);
      for (let n = 1; n <= max; n++) {
        const padded = paddedLength({ padding: 'buckets', max_length: max }, n);
        assert.ok(padded >= n, `max_length ${max}: ${n} tokens cut to ${padded}`);
        assert.ok(padded - n < Math.max(step, 16), `max_length ${max}: ${n} tokens padded to ${padded} (step ${step})`);
        if (n > 8 * step) assert.ok((padded - n) / n <= 1 / 8, `max_length ${max}: ${n} tokens padded to ${padded}`);
      }
    }
  });

  it('cuts a batch to its longest row (longest) and keeps every real token and label', () => {
    const rows = [{ text: 'the movie was great', label: 1 }, { text: 'not fun', label: 0 }, { text: 'a film', label: 0 }, { text: 'a', label: 1 }];
    const full = openData(setup(rows, {}), { modelInputs: CLS_INPUTS });
    const longest = openData(setup(rows, { padding: 'longest' }), { modelInputs: CLS_INPUTS });
    const a = full.trainBatch(0), b = longest.trainBatch(0);
    assert.deepStrictEqual(a.tensors.input_ids.dims, [2, 16]);
    assert.deepStrictEqual(b.tensors.input_ids.dims, [2, 6]); // [CLS] the movie was great [SEP]
    for (const name of ['input_ids', 'attention_mask']) {
      const x = ints(a.tensors[name]), y = ints(b.tensors[name]);
      for (let r = 0; r < 2; r++) assert.deepStrictEqual(y.slice(r * 6, r * 6 + 6), x.slice(r * 16, r * 16 + 6));
      assert.ok(x.every((v, i) => i % 16 < 6 || v === 0), `${name}: only padding is cut`);
    }
    assert.deepStrictEqual(ints(b.tensors.labels), ints(a.tensors.labels));
    assert.strictEqual(b.tokens, a.tokens);
    assert.deepStrictEqual(longest.trainBatch(1).tensors.input_ids.dims, [2, 4]);
  });

  it('cuts causal-LM labels with the inputs (buckets)', () => {
    const rows = [{ text: 'the movie was great' }, { text: 'not fun' }];
    const p = openData(setup(rows, { padding: 'buckets', buckets: [4, 8] }, 'causal-lm'), { modelInputs: CLS_INPUTS });
    const b = p.trainBatch(0);
    assert.deepStrictEqual(b.tensors.input_ids.dims, [2, 8]);
    assert.deepStrictEqual(b.tensors.labels.dims, [2, 8]);
    assert.deepStrictEqual(ints(b.tensors.labels).slice(0, 8), [2, 4, 5, 6, 7, 3, IGNORE_INDEX, IGNORE_INDEX]);
  });
});

describe('data/packing', () => {
  it('groups documents best-fit decreasing, each row in file order', () => {
    // 8 and 9 (capped to 8: a tie, file order) fill rows alone; 4, 3 and 1 share one; 2 starts the last.
    assert.deepStrictEqual(packRows([3, 4, 2, 8, 1, 9], 8), [[3], [5], [0, 1, 4], [2]]);
    // 5 takes 3 (exact fit), 4 takes the second 3 and the 1.
    assert.deepStrictEqual(packRows([3, 4, 1, 5, 3], 8), [[0, 3], [1, 2, 4]]);
  });

  it('places every document once, never overfills a row, and wastes little on long-tailed lengths', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    // Man-page-like: many short documents, a long tail, some longer than the row.
    const lengths = Array.from({ length: 5000 }, () => Math.max(1, Math.round(Math.exp(3 + 2.2 * rand()))));
    const L = 512;
    const rows = packRows(lengths, L);
    const seen = rows.flat().sort((a, b) => a - b);
    assert.deepStrictEqual(seen, lengths.map((_, i) => i));
    const used = rows.map((r) => r.reduce((s, i) => s + Math.min(lengths[i], L), 0));
    assert.ok(used.every((u) => u <= L), 'a row holds more than its length');
    const total = used.reduce((a, b) => a + b, 0);
    const waste = 1 - total / (rows.length * L);
    assert.ok(waste < 0.02, `best-fit decreasing wasted ${(100 * waste).toFixed(1)}% of the rows`);
    assert.ok(rows.every((r) => r.every((d, k) => k === 0 || r[k - 1] < d)), 'documents in a row keep file order');
  });

  it('packs documents with their own numbers, positions from 0 and no label across a boundary', () => {
    const rows = [{ text: 'the movie' }, { text: 'not fun' }, { text: 'a film was bad bad bad bad bad' }];
    const p = openData(setup(rows, { packing: true, max_length: 10 }, 'causal-lm', 1), { modelInputs: LM_INPUTS });
    assert.strictEqual(p.plan.datasetSize, 2, 'two rows: 10 tokens, then 4 + 4');
    // The plan shuffles rows: take the one holding two documents.
    const b = [p.trainBatch(0), p.trainBatch(1)].find((x) => ints(x.tensors.attention_mask).includes(2))!;
    assert.deepStrictEqual(b.tensors.input_ids.dims, [1, 10]);
    assert.deepStrictEqual(ints(b.tensors.input_ids), [2, 4, 5, 3, 2, 10, 13, 3, 0, 0]);
    assert.deepStrictEqual(ints(b.tensors.attention_mask), [1, 1, 1, 1, 2, 2, 2, 2, 0, 0]);
    assert.deepStrictEqual(ints(b.tensors.position_ids), [0, 1, 2, 3, 0, 1, 2, 3, 0, 0]);
    const X = IGNORE_INDEX;
    assert.deepStrictEqual(ints(b.tensors.labels), [X, 4, 5, 3, X, 10, 13, 3, X, X]);
    assert.strictEqual(b.tokens, 8);
  });

  it('packs classification records with their first positions and one label per document slot', () => {
    const rows = [{ text: 'the movie', label: 1 }, { text: 'not fun', label: 0 }, { text: 'a film was bad bad bad bad bad', label: 0 }, { text: 'a', label: 1 }];
    const p = openData(setup(rows, { packing: true, max_length: 10 }, 'sequence-classification', 2), { modelInputs: DOC_INPUTS });
    assert.strictEqual(p.plan.datasetSize, 3, 'rows: 4 + 4 tokens, then 10, then 3');
    const b = p.trainBatch(0);
    const X = IGNORE_INDEX;
    // Two document slots (the most any row holds). This batch: the 10-token record alone, then
    // the row holding the two 4-token records (the plan shuffles rows).
    assert.deepStrictEqual(b.tensors.document_starts.dims, [2, 2]);
    assert.deepStrictEqual(ints(b.tensors.document_starts), [0, 0, 0, 4]);
    assert.deepStrictEqual(b.tensors.labels.dims, [2, 2]);
    assert.deepStrictEqual(ints(b.tensors.labels), [0, X, 1, 0]);
    assert.deepStrictEqual(ints(b.tensors.attention_mask).slice(10, 20), [1, 1, 1, 1, 2, 2, 2, 2, 0, 0]);
    assert.deepStrictEqual(ints(b.tensors.position_ids).slice(10, 20), [0, 1, 2, 3, 0, 1, 2, 3, 0, 0]);
    assert.strictEqual(b.tokens, 18);
    assert.strictEqual(b.records, 3, 'three records in two rows (samples/s counts them)');
  });

  it('gives a packed classifier unpacked (eval) batches in the packed shape: one document per row, at 0', () => {
    const dir = setup([{ text: 'the movie', label: 1 }, { text: 'not fun', label: 0 }], { packing: true, max_length: 10 }, 'sequence-classification', 2);
    writeFile(dir.configDir, 'eval.jsonl', jsonl([{ text: 'a film', label: 0 }, { text: 'the', label: 1 }]));
    const p = openData({ ...dir, data: { ...dir.data, eval: path.join(dir.configDir, 'eval.jsonl') } }, { modelInputs: DOC_INPUTS });
    const e = [...p.evalBatches()][0];
    assert.deepStrictEqual(e.tensors.document_starts.dims, [2, 2]);
    assert.deepStrictEqual(ints(e.tensors.document_starts), [0, 0, 0, 0]);
    assert.deepStrictEqual(ints(e.tensors.labels), [0, IGNORE_INDEX, 1, IGNORE_INDEX]);
    assert.deepStrictEqual(ints(e.tensors.attention_mask).slice(0, 10), [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
  });

  it('the config check accepts packing for causal LM and sequence classification only', () => {
    const msgs = (task: string) => semanticDiagnostics({ model: { path: 'm.onnx', task }, adapter: { method: 'lora', target_modules: ['q'] }, data: { train: 't.jsonl', packing: true } } as never)
      .filter((d) => d.path.join('.') === 'data.packing' && d.severity === 'error').map((d) => d.message);
    assert.deepStrictEqual(msgs('causal-lm'), []);
    assert.deepStrictEqual(msgs('sequence-classification'), []);
    assert.match(msgs('token-classification').join(), /causal LM or a sequence classifier/);
    assert.match(msgs('regression').join(), /remove data.packing/);
  });

  it('refuses classification packing for a model without document_starts, naming data.packing', () => {
    const cfg = setup([{ text: 'the movie', label: 1 }], { packing: true });
    assert.throws(() => openData(cfg, { modelInputs: LM_INPUTS }), (e: unknown) => e instanceof DataError && e.field === 'data.packing' && /document_starts/.test(e.detail) && /lily import MODEL --packing/.test(e.detail));
  });

  it('refuses packing for a model without position_ids, naming data.packing', () => {
    const cfg = setup([{ text: 'the movie' }], { packing: true }, 'causal-lm');
    assert.throws(() => openData(cfg, { modelInputs: CLS_INPUTS }), (e: unknown) => e instanceof DataError && e.field === 'data.packing' && /position_ids/.test(e.detail));
  });
});
