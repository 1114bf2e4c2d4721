// data.group_by_length: Hugging Face's length-grouped order (shuffle, then sort within
// mega-batches of 50 batches), checked on the order itself and through the real data pipeline.
import * as assert from 'assert';
import * as path from 'path';
import { resolveConfig } from '../../native-runtime/config/resolved';
import { semanticDiagnostics } from '../../native-runtime/config/semanticChecks';
import type { LilyConfig } from '../../native-runtime/config/types';
import type { ValueInfo } from '../../native-runtime/onnx/ir';
import { epochPermutation } from '../../native-runtime/train/rng';
import { openData } from '../../native-runtime/train/data/pipeline';
import { BatchPlan, GROUP_MEGABATCH, groupByLength } from '../../native-runtime/train/data/plan';
import { bertTokenizerJson, tempDir, writeFile } from './fixtures';

const INPUTS: ValueInfo[] = [
  { name: 'input_ids', dtype: 'int64', shape: ['batch', 'seq'] },
  { name: 'attention_mask', dtype: 'int64', shape: ['batch', 'seq'] },
];

describe('data/group_by_length', () => {
  it('sorts each mega-batch of the shuffled order longest first and keeps every record once', () => {
    const n = 1000, batch = 4, mega = batch * GROUP_MEGABATCH;
    const lengths = Array.from({ length: n }, (_, i) => 1 + ((i * 7919) % 97));
    const shuffled = epochPermutation(n, 3, 0);
    const grouped = groupByLength(shuffled, lengths, mega);
    assert.deepStrictEqual([...grouped].sort((a, b) => a - b), [...shuffled].sort((a, b) => a - b));
    for (let s = 0; s < n; s += mega) {
      const part = [...grouped.subarray(s, s + mega)];
      // The same records as the shuffled order's slice: grouping never moves a record across slices.
      assert.deepStrictEqual([...part].sort((a, b) => a - b), [...shuffled.subarray(s, s + mega)].sort((a, b) => a - b));
      for (let k = 1; k < part.length; k++) assert.ok(lengths[part[k - 1]] >= lengths[part[k]], `slice at ${s} not sorted at ${k}`);
    }
  });

  it('keeps the shuffled order among equal lengths (a stable sort)', () => {
    const order = Uint32Array.from([5, 2, 9, 0, 7]);
    const lengths = [0, 0, 2, 0, 0, 3, 0, 1, 0, 3];
    assert.deepStrictEqual([...groupByLength(order, lengths, 5)], [5, 9, 2, 7, 0]);
    assert.deepStrictEqual([...groupByLength(Uint32Array.from([9, 2, 5, 0, 7]), lengths, 5)], [9, 5, 2, 7, 0]);
  });

  it('is a pure function of seed and epoch (a resumed run reads the same batches)', () => {
    const lengths = Array.from({ length: 300 }, (_, i) => (i * 31) % 50);
    const a = new BatchPlan(300, 3, 11, true, true, lengths);
    const b = new BatchPlan(300, 3, 11, true, true, lengths);
    for (const step of [0, 57, 99, 100, 250]) assert.deepStrictEqual(b.indicesForStep(step), a.indicesForStep(step));
    assert.notDeepStrictEqual(a.order(0), a.order(1));
  });

  it('pads less with padding "longest" than the same data shuffled alone', () => {
    const dir = tempDir();
    writeFile(dir, 'tokenizer.json', JSON.stringify(bertTokenizerJson()));
    const words = ['the', 'movie', 'was', 'great', 'not', 'fun', 'a', 'film'];
    const rows = Array.from({ length: 64 }, (_, i) => ({ text: Array.from({ length: 1 + ((i * 5) % 13) }, (_, k) => words[(i + k) % words.length]).join(' '), label: i % 2 }));
    writeFile(dir, 'train.jsonl', rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const cfg = (group: boolean) => {
      const config: LilyConfig = {
        model: { path: 'model.onnx', task: 'sequence-classification' },
        data: { train: 'train.jsonl', max_length: 32, padding: 'longest', ...(group ? { group_by_length: true } : {}) },
        adapter: { method: 'lora', target_modules: ['value'] },
        training: { batch_size: 4, seed: 5 },
      };
      return resolveConfig(config, path.join(dir, 'x.lily.json'), dir);
    };
    const padded = (group: boolean) => {
      const data = openData(cfg(group), { modelInputs: INPUTS });
      let cells = 0, real = 0;
      const seen: number[] = [];
      for (let step = 0; step < data.plan.stepsPerEpoch; step++) {
        const b = data.trainBatch(step);
        cells += b.tensors.input_ids.dims[0] * b.tensors.input_ids.dims[1];
        real += [...(b.tensors.attention_mask.data as BigInt64Array)].filter((v) => v !== 0n).length;
        seen.push(...data.plan.indicesForStep(step));
      }
      data.close();
      return { fraction: 1 - real / cells, real, seen: seen.sort((x, y) => x - y) };
    };
    const plain = padded(false), grouped = padded(true);
    assert.strictEqual(grouped.real, plain.real, 'the same tokens are trained on');
    assert.deepStrictEqual(grouped.seen, plain.seen, 'every record once per epoch either way');
    assert.ok(grouped.fraction < plain.fraction / 2, `padding ${grouped.fraction} grouped vs ${plain.fraction} shuffled`);
  });

  it('warns where grouping saves nothing (max_length padding) and where it is ignored (packing)', () => {
    const base = { model: { path: 'm.onnx', task: 'causal-lm' }, adapter: { method: 'lora', target_modules: ['q'] } };
    const msgs = (data: object) => semanticDiagnostics({ ...base, data: { train: 't.jsonl', group_by_length: true, ...data } } as never).filter((d) => d.path.join('.') === 'data.group_by_length').map((d) => d.message);
    assert.match(msgs({}).join(), /saves no compute/);
    assert.match(msgs({ packing: true, padding: 'buckets' }).join(), /ignored with data.packing/);
    assert.deepStrictEqual(msgs({ padding: 'buckets' }), []);
  });
});
