// The step builder's kernel rewrites (StepOptions.fusedRmsNorm: onnx/rmsNormFusion.ts;
// StepOptions.sumsAsAdds: onnx/sumToAdds.ts; StepOptions.fusedRotary: onnx/rotary.ts and the
// rotary composite) on the HF zoo's decoders, exported by torch.onnx (TorchScript, opset 17):
// every RMSNorm of the export becomes one SimplifiedLayerNormalization, every rotary embedding
// of q and k one RotaryEmbedding (forward, and in the train graph backward), no Sum is left, and
// two training steps give the same losses and the same adapter gradients as the graphs without
// the rewrites (1e-5), as does evaluation.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as ort from 'onnxruntime-node';
import * as path from 'path';
import { mulberry32 } from '../../native-runtime/adapters/init';
import { loadModel } from '../../native-runtime/onnx/proto';
import { StepRunner } from '../../native-runtime/train/stepRunner';
import { ensureZoo, type Zoo } from '../hf/zooCache';

const [B, S] = [2, 16];

function lmBatch(vocab: number, withPositions: boolean): Record<string, ort.Tensor> {
  const r = mulberry32(5);
  const ids = BigInt64Array.from({ length: B * S }, () => BigInt(1 + Math.floor(r() * (vocab - 1))));
  // Row 1 right-padded: its last 5 positions masked and unlabelled.
  const mask = BigInt64Array.from({ length: B * S }, (_, i) => (i >= B * S - 5 ? 0n : 1n));
  const batch: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', ids, [B, S]),
    attention_mask: new ort.Tensor('int64', mask, [B, S]),
    labels: new ort.Tensor('int64', BigInt64Array.from(ids, (v, i) => (mask[i] ? v : -100n)), [B, S]),
  };
  if (withPositions) batch.position_ids = new ort.Tensor('int64', BigInt64Array.from({ length: B * S }, (_, k) => BigInt(k % S)), [B, S]);
  return batch;
}

describe('train/step rewrites (fused RMSNorm forward, rotary embeddings, Sums as Adds)', function () {
  this.timeout(600_000);
  let zoo: Zoo;
  before(function () {
    this.timeout(900_000);
    zoo = ensureZoo();
  });

  for (const name of ['llama', 'qwen2', 'qwen3', 'mistral', 'gemma', 'phi3']) {
    it(`${name}: every RMSNorm and rotary embedding fused, no Sum left; losses, adapter gradients and eval loss equal the unrewritten step's`, async function () {
      const entry = zoo.entry(name);
      if (!entry.exports['torchscript-17']?.ok) this.skip();
      const dir = zoo.entryDir(name);
      const vocab = (JSON.parse(fs.readFileSync(path.join(dir, 'hf', 'config.json'), 'utf8')) as { vocab_size: number }).vocab_size;
      const model = loadModel(path.join(dir, 'onnx', 'torchscript-17', 'model.onnx'));
      // Each RMSNorm of these exports is one mean of squares over the last axis.
      const norms = model.graph.nodes.filter((n) => n.opType === 'ReduceMean').length;
      // One rotary embedding of q and one of k per attention layer.
      const rotaries = 2 * model.graph.nodes.filter((n) => n.opType === 'Softmax').length;
      const withPositions = model.graph.inputs.some((i) => i.name === 'position_ids');
      const shapes = Object.fromEntries(model.graph.inputs.filter((i) => i.shape?.length === 2).map((i) => [i.name, [B, S]]));
      const batch = lmBatch(vocab, withPositions);
      const results: { losses: number[]; grads: Map<string, Float32Array>; evalLoss: number }[] = [];
      for (const rewrites of [false, true]) {
        const runner = await StepRunner.create(model, shapes, {
          adapter: { method: 'lily', target_modules: entry.targets, r: 4, num_B: 2 },
          task: 'causal-lm', threads: 1, exposeGradients: true, fusedRmsNorm: rewrites, sumsAsAdds: rewrites, fusedRotary: rewrites,
        });
        const count = (g: typeof runner.graphs.train, op: string) => g.graph.nodes.filter((n) => n.opType === op).length;
        for (const g of [runner.graphs.train, runner.graphs.eval]) {
          assert.equal(count(g, 'SimplifiedLayerNormalization'), rewrites ? norms : 0);
          if (rewrites) assert.equal(count(g, 'Sum'), 0);
        }
        assert.equal(count(runner.graphs.eval, 'RotaryEmbedding'), rewrites ? rotaries : 0);
        // The train graph: every forward one, and the backward of those after an adapter (all with a fused qkv projection).
        const trainRotaries = count(runner.graphs.train, 'RotaryEmbedding');
        if (rewrites) assert.ok(trainRotaries > rotaries && trainRotaries <= 2 * rotaries, `${trainRotaries} RotaryEmbedding nodes in the train graph (forward ${rotaries})`);
        else assert.equal(trainRotaries, 0);
        if (!rewrites) assert.ok(count(runner.graphs.train, 'Sum') > 0, 'the unrewritten step accumulates gradients with Sum');
        // Two steps: PEFT's B starts at zero (A's and the routers' gradients are 0 in the first).
        const first = await runner.step(batch, 1e-2);
        const second = await runner.step(batch, 1e-2);
        results.push({ losses: [first.loss, second.loss], grads: second.grads!, evalLoss: (await runner.evaluate(batch)).loss });
        await runner.release();
      }
      const [plain, rewritten] = results;
      plain.losses.forEach((l, k) => assert.ok(Math.abs(rewritten.losses[k] - l) <= 1e-5 * Math.abs(l), `step ${k + 1} loss ${rewritten.losses[k]} vs ${l}`));
      assert.ok(Math.abs(rewritten.evalLoss - plain.evalLoss) <= 1e-5 * Math.abs(plain.evalLoss), `eval loss ${rewritten.evalLoss} vs ${plain.evalLoss}`);
      const overall = Math.max(...[...plain.grads.values()].map((g) => Math.max(...Array.from(g, Math.abs))));
      for (const [param, g] of plain.grads) {
        const h = rewritten.grads.get(param)!;
        const scale = Math.max(...Array.from(g, Math.abs), 1e-3 * overall);
        let worst = 0;
        g.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - h[i]) / scale); });
        assert.ok(worst <= 1e-5, `${param}: gradient differs by ${worst} (relative to ${scale})`);
      }
    });
  }
});
