// Length buckets and packing in the step: the same examples cut to a shorter length, or packed
// into one row, train to the same losses as the max_length path (LoRA and Lily's `masked`
// routing do not look at padding; `batch` routing does, as PEFT's does), and one runner moves
// between step graphs of several lengths with one set of trainable and optimizer buffers.
// Models: transformers' BERT and Llama (GQA) built by scripts/oracle/hf_models.py.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import type { AdapterSection, TaskType } from '../../native-runtime/config/types';
import { loadModel } from '../../native-runtime/onnx/proto';
import { StepRunner } from '../../native-runtime/train/stepRunner';
import { tempDir } from '../helpers/tempDir';

const ROOT = path.resolve(__dirname, '../..');
const PYTHON = path.join(ROOT, '.venv/bin/python');
const X = -100;

function exportModels(dir: string): void {
  const code = [
    'import sys; sys.path.insert(0, "scripts/oracle"); import hf_models as h',
    `h.export("bert", "${dir}/bert", {"vocab_size": 50, "hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64}, 1)`,
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
