// Length buckets and packing in the step: the same examples cut to a shorter length, or packed
// into one row (causal LM, or a classifier scoring each document), train to the same losses as the max_length path (LoRA and Lily's `masked`
// routing do not look at padding; `batch` routing does, as PEFT's does), and one runner moves
// between step graphs of several lengths with one set of trainable and optimizer buffers.
// Models: transformers' BERT and Llama (GQA) built by scripts/oracle/hf_models.py.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import type { AdapterSection, TaskType } from '../../native-runtime/config/types';
import { findLinearLayers } from '../../native-runtime/adapters/targets';
import { loadModel } from '../../native-runtime/onnx/proto';
import { StepRunner } from '../../native-runtime/train/stepRunner';
import { tempDir } from '../helpers/tempDir';

const ROOT = path.resolve(__dirname, '../..');
const PYTHON = path.join(ROOT, '.venv/bin/python');
const X = -100;

function exportModels(dir: string): void {
  const code = [
    'import sys; sys.path.insert(0, "scripts/oracle"); import hf_models as h',
    // Weights 15x transformers' default spread, so that attention moves the logits visibly
    // (at 0.02 a document's logits hardly depend on the tokens it attends to).
    'BERT = {"vocab_size": 50, "hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64, "initializer_range": 0.3}',
    `h.export("bert", "${dir}/bert", BERT, 1)`,
    `h.export("bert-doc", "${dir}/bert-doc", BERT, 1)`,
    `h.export("llama", "${dir}/llama", {"vocab_size": 50, "hidden_size": 32, "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 64}, 1)`,
  ].join('\n');
  const r = spawnSync(PYTHON, ['-c', code], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  if (r.status !== 0) throw new Error(`hf_models.py export failed (exit ${r.status}):\n${r.stderr}`);
}

const i64 = (rows: number[][]) => new ort.Tensor('int64', BigInt64Array.from(rows.flat(), (v) => BigInt(v)), [rows.length, rows[0].length]);
const pad = (a: number[], n: number, v = 0) => [...a, ...new Array<number>(n - a.length).fill(v)];

async function losses(dir: string, task: TaskType, adapter: AdapterSection, batches: Array<Record<string, ort.Tensor>>, shareFrozenWeights = false): Promise<number[]> {
  const model = loadModel(path.join(dir, 'model.onnx'));
  const shapes = Object.fromEntries(model.graph.inputs.map((i) => [i.name, [...batches[0][i.name].dims]]));
  const runner = await StepRunner.create(model, shapes, { adapter, task, threads: 1, seed: 5, optimizer: { weight_decay: 0.01 }, shareFrozenWeights });
  // A non-zero B so that every adapter tensor gets a gradient.
  const params = runner.getParams();
  for (const p of runner.params) if (p.role === 'lora_B' || p.role === 'lily_B') params.set(p.name, params.get(p.name)!.map((_, k) => Math.sin(k) * 0.05));
  runner.setParams(params);
  const out: number[] = [];
  for (const b of batches) out.push((await runner.step(b, 1e-2)).loss);
  await runner.release();
  return out;
}

function assertClose(a: number[], b: number[], tol: number, what: string): void {
  assert.strictEqual(a.length, b.length);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) <= tol * Math.max(1, Math.abs(b[i])), `${what}: step ${i + 1}: ${x} vs ${b[i]}`));
}

describe('train/padding: buckets and packing in the step', function () {
  this.timeout(120_000);
  let dir = '';
  before(() => {
    dir = tempDir('lily-padding-');
    exportModels(dir);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  // Rows of real lengths 5 and 3 (classification), batches alternating between two lengths.
  const rows = [[2, 7, 9, 11, 3], [2, 4, 3]];
  const clsBatch = (T: number, labels: number[]) => ({
    input_ids: i64(rows.map((r) => pad(r, T))),
    attention_mask: i64(rows.map((r) => pad(r.map(() => 1), T))),
    labels: new ort.Tensor('int64', BigInt64Array.from(labels, BigInt), [labels.length]),
  });

  for (const adapter of [
    { method: 'lora', target_modules: ['query', 'value'], r: 4, lora_alpha: 8, modules_to_save: ['classifier'] },
    { method: 'lily', target_modules: ['query', 'value'], r: 4, num_B: 2, routing: 'masked', modules_to_save: ['classifier'] },
  ] as AdapterSection[]) {
    it(`${adapter.method}${adapter.method === 'lily' ? ' (masked routing)' : ''}: batches cut to 5 and 8 positions (two graphs sharing the frozen weights) train like batches of 16`, async () => {
      const full = await losses(path.join(dir, 'bert'), 'sequence-classification', adapter, [clsBatch(16, [0, 1]), clsBatch(16, [1, 1]), clsBatch(16, [0, 1])]);
      const cut = await losses(path.join(dir, 'bert'), 'sequence-classification', adapter, [clsBatch(5, [0, 1]), clsBatch(8, [1, 1]), clsBatch(5, [0, 1])], true);
      assertClose(cut, full, 2e-5, 'bucketed vs max_length');
      assert.ok(Math.abs(full[2] - full[0]) > 1e-4, 'the steps changed the parameters');
    });
  }

  it('lily with batch routing: padding changes the loss (the router averages over it, as in PEFT)', async () => {
    const adapter = { method: 'lily', target_modules: ['query', 'value'], r: 4, num_B: 2, routing: 'batch' } as AdapterSection;
    const full = await losses(path.join(dir, 'bert'), 'sequence-classification', adapter, [clsBatch(16, [0, 1])]);
    const cut = await losses(path.join(dir, 'bert'), 'sequence-classification', adapter, [clsBatch(5, [0, 1])]);
    assert.ok(Math.abs(full[0] - cut[0]) > 1e-7, `${full[0]} vs ${cut[0]}`);
  });

  // Sequence classification: transformers' BertForSequenceClassification (the plain export) on
  // documents in rows of their own against the same weights exported as a packed classifier
  // (hf_models.py bert-doc: document-number mask, position_ids, document_starts) on one row.
  const docs = [[2, 7, 9, 11, 3], [2, 4, 3], [2, 8, 5, 6]];
  // The documents of packedCls, each in a row of its own (document 2 twice, as there).
  const alone = [...docs, docs[1]];
  const separateCls = (labels: number[]) => ({
    input_ids: i64(alone.map((d) => pad(d, 5))),
    attention_mask: i64(alone.map((d) => pad(d.map(() => 1), 5))),
    labels: new ort.Tensor('int64', BigInt64Array.from([...labels, labels[1]], BigInt), [alone.length]),
  });
  // Rows of 16: the three documents in one row (a 4th, empty slot), one document in the other.
  const packedCls = (labels: number[]) => ({
    input_ids: i64([pad(docs.flat(), 16), pad(docs[1], 16)]),
    attention_mask: i64([pad(docs.flatMap((d, k) => d.map(() => k + 1)), 16), pad(docs[1].map(() => 1), 16)]),
    position_ids: i64([pad(docs.flatMap((d) => d.map((_, t) => t)), 16), pad(docs[1].map((_, t) => t), 16)]),
    document_starts: i64([[0, 5, 8, 0], [0, 0, 0, 0]]),
    labels: i64([[...labels, X], [labels[1], X, X, X]]),
  });
  for (const adapter of [
    { method: 'lora', target_modules: ['query', 'value'], r: 4, lora_alpha: 8, modules_to_save: ['classifier'] },
    { method: 'lily', target_modules: ['query', 'value'], r: 4, num_B: 2, routing: 'masked', modules_to_save: ['classifier'] },
  ] as AdapterSection[]) {
    it(`bert classifier, ${adapter.method}${adapter.method === 'lily' ? ' (masked routing)' : ''}: packed rows train like the documents in rows of their own`, async () => {
      const labels = [[0, 1, 1], [1, 0, 1], [1, 1, 0]];
      const sep = await losses(path.join(dir, 'bert'), 'sequence-classification', adapter, labels.map(separateCls));
      const pk = await losses(path.join(dir, 'bert-doc'), 'sequence-classification', adapter, labels.map(packedCls));
      assertClose(pk, sep, 2e-5, 'packed vs separate');
      assert.ok(Math.abs(sep[2] - sep[0]) > 1e-4, 'the steps changed the parameters');
    });
  }

  it('bert classifier: the packed export has the plain export\'s linear layers under the same module paths (targets, modules_to_save and PEFT files name the same modules)', () => {
    const names = (kind: string) => findLinearLayers(loadModel(path.join(dir, kind, 'model.onnx'))).map((l) => `${l.module} ${l.d_in}x${l.d_out}`).sort();
    assert.deepStrictEqual(names('bert-doc'), names('bert'));
    assert.ok(names('bert').includes('bert.pooler.dense 32x32'), names('bert').join());
  });

  it('bert classifier: without document numbers the packed documents attend to each other (different logits)', async () => {
    const model = loadModel(path.join(dir, 'bert-doc', 'model.onnx'));
    const proper = packedCls([0, 1, 1]);
    const leaky = { ...proper, attention_mask: i64([pad(docs.flat().map(() => 1), 16), pad(docs[1].map(() => 1), 16)]) };
    const shapes = Object.fromEntries(model.graph.inputs.map((i) => [i.name, [...proper[i.name as keyof typeof proper].dims]]));
    const runner = await StepRunner.create(model, shapes, { adapter: { method: 'lora', target_modules: ['query'], r: 2 }, task: 'sequence-classification', threads: 1, evalOnly: true });
    const a = (await runner.evaluate(proper)).logits!.data as Float32Array;
    const b = (await runner.evaluate(leaky)).logits!.data as Float32Array;
    await runner.release();
    // Row 0's three documents (slots 0-2) change; row 1 (one document, same mask either way) does not.
    const scale = Math.max(...Array.from(a, Math.abs));
    const gap = (k: number) => Math.max(Math.abs(a[2 * k] - b[2 * k]), Math.abs(a[2 * k + 1] - b[2 * k + 1]));
    for (const k of [0, 1, 2]) assert.ok(gap(k) > 0.05 * scale, `document ${k}: ${gap(k)} vs logit scale ${scale}`);
    assert.strictEqual(gap(4), 0);
  });

  it('packed exports (bert-doc, roberta-doc, electra-doc; lily import --packing\'s Llama, Qwen2, Mistral decoders): a packed row\'s documents equal each document alone in transformers (hf_models.py --selfcheck)', () => {
    const r = spawnSync(PYTHON, ['scripts/oracle/hf_models.py', '--selfcheck'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
    assert.strictEqual(r.status, 0, r.stderr);
    const gaps = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.strictEqual(gaps.bert_same_weights, true, 'bert and bert-doc built with one seed must hold the same weights');
    for (const family of ['bert', 'roberta', 'electra', 'llama_decoder', 'qwen2_decoder', 'mistral_decoder']) {
      assert.ok(gaps[`${family}_plain`] <= 1e-6, `${family}: 0/1 mask vs transformers' own class: ${gaps[`${family}_plain`]}`);
      assert.ok(gaps[`${family}_packed`] <= 1e-5, `${family}: packed documents vs alone: ${gaps[`${family}_packed`]}`);
    }
  });

  it('llama (GQA): a packed row of two documents trains like the two documents in their own rows', async () => {
    const a = [5, 9, 13, 2], b = [7, 3, 11, 17, 19];
    const lm = { method: 'lora', target_modules: ['q_proj', 'v_proj'], r: 4, lora_alpha: 8 } as AdapterSection;
    const separate = {
      input_ids: i64([pad(a, 5), b]),
      attention_mask: i64([pad([1, 1, 1, 1], 5), [1, 1, 1, 1, 1]]),
      position_ids: i64([[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]]),
      labels: i64([pad(a, 5, X), b]),
    };
    const packed = {
      input_ids: i64([[...a, ...b, 0]]),
      attention_mask: i64([[1, 1, 1, 1, 2, 2, 2, 2, 2, 0]]),
      position_ids: i64([[0, 1, 2, 3, 0, 1, 2, 3, 4, 0]]),
      labels: i64([[X, ...a.slice(1), X, ...b.slice(1), X]]),
    };
    const sep = await losses(path.join(dir, 'llama'), 'causal-lm', lm, [separate, separate, separate]);
    const pk = await losses(path.join(dir, 'llama'), 'causal-lm', lm, [packed, packed, packed]);
    assertClose(pk, sep, 2e-5, 'packed vs separate');
    // Without document numbers the second document would attend to the first: a different loss.
    const leaky = await losses(path.join(dir, 'llama'), 'causal-lm', lm, [{ ...packed, attention_mask: i64([[1, 1, 1, 1, 1, 1, 1, 1, 1, 0]]) }]);
    assert.ok(Math.abs(leaky[0] - sep[0]) > 1e-4, `a 0/1 mask over a packed row must differ: ${leaky[0]} vs ${sep[0]}`);
  });
});
