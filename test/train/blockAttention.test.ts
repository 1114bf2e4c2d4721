// Causal attention block by block (train/blockAttention.ts) on the transformers decoders of the
// HF zoo, each exported by torch.onnx (TorchScript, opset 17; dynamo) and by optimum: with a small
// block, every layer's attention is rewritten, and one training step gives the same loss and
// the same adapter gradients as the export's own attention (1e-5 relative), with a padded row.
// Encoders (bidirectional attention) fail the causality check and are left as they are.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as ort from 'onnxruntime-node';
import * as path from 'path';
import { mulberry32 } from '../../native-runtime/adapters/init';
import { cloneModel, specialize } from '../../native-runtime/onnx/specialize';
import { loadModel } from '../../native-runtime/onnx/proto';
import { blockBounds, blockCausalAttention } from '../../native-runtime/train/blockAttention';
import { StepRunner } from '../../native-runtime/train/stepRunner';
import type { TrainingStepGraphs } from '../../native-runtime/train/step';
import { ensureZoo, type Zoo } from '../hf/zooCache';
import { tempDir } from '../helpers/tempDir';

const B = 2;
const S = 32;
const BLOCK = 8;
/** Exporters and the length each trains at (the dynamo export fixes it at the zoo's 8 tokens), with a block of a quarter of it. */
const EXPORTS: [string, number][] = [['torchscript-17', S], ['optimum', S], ['dynamo', 8]];

function lmBatch(vocab: number, withPositions: boolean, S: number): Record<string, ort.Tensor> {
  const r = mulberry32(11);
  const ids = BigInt64Array.from({ length: B * S }, () => BigInt(1 + Math.floor(r() * (vocab - 1))));
  // Row 1 is right-padded (the engine's padding): its last S/4 + 1 positions are masked.
  const mask = BigInt64Array.from({ length: B * S }, (_, i) => (i >= B * S - S / 4 - 1 ? 0n : 1n));
  const labels = BigInt64Array.from(ids, (v, i) => (mask[i] ? v : -100n));
  const batch: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', ids, [B, S]),
    attention_mask: new ort.Tensor('int64', mask, [B, S]),
    labels: new ort.Tensor('int64', labels, [B, S]),
  };
  if (withPositions) batch.position_ids = new ort.Tensor('int64', BigInt64Array.from({ length: B * S }, (_, k) => BigInt(k % S)), [B, S]);
  return batch;
}

const ROOT = path.resolve(__dirname, '../..');

/**
 * Two steps of `file` (a causal LM) with the export's attention and with blocks of a quarter of
 * S: same losses, same adapter gradients in the second step (1e-5), every attention rewritten.
 * Returns the blocked graphs.
 */
async function sameStepsBlocked(file: string, targets: string[], vocab: number, S: number): Promise<TrainingStepGraphs> {
  const model = loadModel(file);
  const layers = model.graph.nodes.filter((n) => n.opType === 'Softmax').length;
  const withPositions = model.graph.inputs.some((i) => i.name === 'position_ids');
  const shapes = Object.fromEntries(model.graph.inputs.filter((i) => i.shape?.length === 2).map((i) => [i.name, [B, S]]));
  const batch = lmBatch(vocab, withPositions, S);
  const results: { loss: number; grads: Map<string, Float32Array>; graphs: TrainingStepGraphs }[] = [];
  for (const attentionBlock of ['off', S / 4] as const) {
    const runner = await StepRunner.create(model, shapes, {
      adapter: { method: 'lily', target_modules: targets, r: 4, num_B: 2 },
      task: 'causal-lm', threads: 1, exposeGradients: true, attentionBlock,
    });
    const report = runner.graphs.blockAttention;
    if (attentionBlock === 'off') assert.equal(report, undefined);
    else assert.deepEqual({ rewritten: report?.rewritten, notCausal: report?.notCausal }, { rewritten: layers, notCausal: 0 });
    // Two steps: PEFT's B starts at zero (A's and the routers' gradients are 0 in the first).
    const first = await runner.step(batch, 1e-2);
    const res = await runner.step(batch, 1e-2);
    results.push({ loss: first.loss + res.loss, grads: res.grads!, graphs: runner.graphs });
    await runner.release();
  }
  const [plain, blocked] = results;
  assert.ok(Math.abs(blocked.loss - plain.loss) <= 1e-5 * Math.abs(plain.loss), `loss ${blocked.loss} blocked vs ${plain.loss}`);
  // Each gradient against its own largest entry, or a thousandth of the largest of all where
  // it is tiny (a router's, in the second step, can be ~1e-10: rounding noise there).
  const overall = Math.max(...[...plain.grads.values()].map((g) => Math.max(...Array.from(g, Math.abs))));
  for (const [param, g] of plain.grads) {
    const h = blocked.grads.get(param)!;
    const scale = Math.max(...Array.from(g, Math.abs), 1e-3 * overall);
    let worst = 0;
    g.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - h[i]) / scale); });
    assert.ok(worst <= 1e-5, `${param}: blocked gradient differs by ${worst} (relative to ${scale})`);
  }
  return blocked.graphs;
}

describe('train/block attention (causal attention computed block by block)', function () {
  this.timeout(600_000);
  let zoo: Zoo;
  before(function () {
    this.timeout(900_000);
    zoo = ensureZoo();
  });

  it('blocks cover the rows once, the last one shorter when the length is not a multiple', () => {
    assert.deepEqual(blockBounds(512, 128), [[0, 128], [128, 256], [256, 384], [384, 512]]);
    assert.deepEqual(blockBounds(20, 8), [[0, 8], [8, 16], [16, 20]]);
  });

  for (const name of ['llama', 'gpt2', 'mistral', 'qwen2', 'qwen3', 'gemma', 'phi3']) {
    for (const [exporter, S] of EXPORTS) {
      it(`${name} (${exporter}): every layer rewritten; loss and adapter gradients equal the export's attention`, async function () {
        const entry = zoo.entry(name);
        if (!entry.exports[exporter]?.ok) this.skip();
        const dir = zoo.entryDir(name);
        const vocab = (JSON.parse(fs.readFileSync(path.join(dir, 'hf', 'config.json'), 'utf8')) as { vocab_size: number }).vocab_size;
        await sameStepsBlocked(path.join(dir, 'onnx', exporter, 'model.onnx'), entry.targets, vocab, S);
      });
    }
  }

  // transformers' eager attention (hf_models.py, as the bench exports it): Kᵀ is a Transpose of K,
  // and with grouped-query attention K and V are repeat_kv's Expand of the kv heads, which the
  // blocks read directly (no repeated copy left in the graph).
  for (const [label, kvHeads] of [['grouped-query (4 heads, 2 kv)', 2], ['multi-head', 4]] as const) {
    it(`Llama, eager attention, ${label}: loss and gradients equal; ${kvHeads < 4 ? 'no Expand of K or V left' : 'K read through its Transpose'}`, async () => {
      const dir = tempDir('lily-blocks-');
      const code = `import sys; sys.path.insert(0, "scripts/oracle"); import hf_models as h\nh.export("llama", "${dir}", {"vocab_size": 64, "hidden_size": 32, "num_attention_heads": 4, "num_key_value_heads": ${kvHeads}, "intermediate_size": 64}, 1)`;
      const r = spawnSync(path.join(ROOT, '.venv/bin/python'), ['-c', code], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
      assert.equal(r.status, 0, r.stderr);
      const graphs = await sameStepsBlocked(path.join(dir, 'model.onnx'), ['q_proj', 'v_proj'], 64, 32);
      const expands = graphs.eval.graph.nodes.filter((n) => n.opType === 'Expand' && /self_attn/.test(n.name)).length;
      if (kvHeads < 4) assert.equal(expands, 0, 'repeat_kv Expand nodes left in the eval graph');
      assert.ok(graphs.eval.graph.nodes.some((n) => n.opType === 'Transpose' && n.name.includes('/blocks/')), 'the blocks read K and transpose its rows');
      fs.rmSync(dir, { recursive: true, force: true });
    });
  }

  for (const name of ['bert', 'roberta']) {
    it(`${name}: bidirectional attention fails the causality check and is left unchanged`, async () => {
      const model = loadModel(path.join(zoo.entryDir(name), 'onnx', 'torchscript-17', 'model.onnx'));
      const logits = cloneModel(model);
      logits.graph.outputs = logits.graph.outputs.slice(0, 1);
      const fwd = await specialize(logits, Object.fromEntries(model.graph.inputs.map((i) => [i.name, [B, S]])));
      const before = fwd.graph.nodes.map((n) => n.name);
      const report = await blockCausalAttention(fwd, BLOCK);
      assert.equal(report.rewritten, 0);
      assert.ok(report.notCausal >= 2, `the encoder's attention layers matched the pattern (${report.notCausal})`);
      assert.deepEqual(fwd.graph.nodes.map((n) => n.name), before);
    });
  }
});
