// Gradient checkpointing in the step graph (autodiff/recompute.ts): on a transformers Qwen2
// decoder the adapter gradients with `gradientCheckpointing` equal those without (to 1e-5
// relative, with random B so that every gradient is non-trivial), the backward pass reads no
// activation of a recomputed segment, and the modelled live set shrinks.
import { strict as assert } from 'assert';
import * as ort from 'onnxruntime-node';
import { mulberry32 } from '../../native-runtime/adapters/init';
import { findCuts } from '../../native-runtime/autodiff';
import type { Node } from '../../native-runtime/onnx/ir';
import { loadModel } from '../../native-runtime/onnx/proto';
import { liveMemory } from '../../native-runtime/train/liveMemory';
import { StepRunner } from '../../native-runtime/train/stepRunner';
import { frozenWeightsIn } from '../../native-runtime/quant/forConfig';
import { exportHfDecoder, qwen2LmBatch } from './hfDecoder';

function node(name: string, opType: string, inputs: string[], outputs: string[]): Node {
  return { name, opType, domain: '', inputs, outputs, attrs: {} };
}

describe('memory/gradient checkpointing', function () {
  this.timeout(180_000);

  it('cuts are the values through which everything later depends on the earlier part', () => {
    // x -> a -> (b, c) -> d = b + c -> e ; a skip edge a -> f(e, a) makes e not a cut.
    const nodes = [
      node('n1', 'Relu', ['x'], ['a']),
      node('n2', 'Sigmoid', ['a'], ['b']),
      node('n3', 'Tanh', ['a'], ['c']),
      node('n4', 'Add', ['b', 'c'], ['d']),
      node('n5', 'Relu', ['d'], ['e']),
      node('n6', 'Mul', ['e', 'a'], ['f']),
      node('n7', 'Relu', ['f'], ['g']),
      node('n8', 'Neg', ['g'], ['h']),
    ];
    assert.deepEqual(findCuts(nodes), ['a', 'f', 'g']);
  });

  it('a Qwen2 decoder step: gradients with checkpointing equal those without (1e-5); recomputed segments; smaller live set', async () => {
    const B = 2;
    const S = 12;
    const { dir, shapes, batch } = qwen2LmBatch(B, S);
    // Non-zero B (shared per target: stored under the first layer's name), so that the
    // gradients of A and of the routers are not zero.
    const rb = mulberry32(9);
    const initial = new Map<string, Float32Array>();
    for (const [t, dOut] of [['q_proj', 64], ['v_proj', 32]] as const) {
      initial.set(`model.model.layers.0.self_attn.${t}.lily_B`, Float32Array.from({ length: 2 * 4 * dOut }, () => rb() - 0.5));
    }
    const grads: Array<Map<string, Float32Array>> = [];
    const losses: number[] = [];
    const peaks: number[] = [];
    for (const gradientCheckpointing of [false, true]) {
      const runner = await StepRunner.create(loadModel(`${dir}/model.onnx`), shapes, {
        adapter: { method: 'lily', target_modules: ['q_proj', 'v_proj'], r: 4, num_B: 2 },
        task: 'causal-lm',
        threads: 1,
        exposeGradients: true,
        initial,
        gradientCheckpointing,
      });
      const g = runner.graphs;
      peaks.push(liveMemory(g.train.graph).peakBytes);
      if (gradientCheckpointing) {
        assert.ok(g.recompute, 'a recompute report');
        assert.ok(g.recompute.clonedNodes > 0, 'some forward nodes are recomputed');
        // The residual stream between the two layers is among the cuts.
        assert.ok(g.recompute.cuts.some((c) => c.includes('layers.0/Add_1')), `cuts: ${g.recompute.cuts.join(', ')}`);
        // No backward node reads an activation of layer 1's MLP (recomputed copies instead).
        const train = g.train.graph;
        const forward = new Set<string>();
        for (const n of train.nodes) if (n.name.startsWith('/model/model/layers.1/mlp/') && !n.name.includes('_grad') && !n.name.includes('recompute')) for (const o of n.outputs) forward.add(o);
        assert.ok(forward.size > 5, 'the MLP forward nodes are found by name');
        const readers = train.nodes.filter((n) => n.name.includes('_grad') && n.inputs.some((i) => forward.has(i)));
        assert.deepEqual(readers.map((n) => n.name), [], 'backward nodes read original MLP activations');
      } else assert.equal(g.recompute, undefined);
      const res = await runner.step(batch, 1e-3);
      losses.push(res.loss);
      grads.push(res.grads!);
      await runner.release();
    }
    assert.equal(losses[1], losses[0], 'the forward pass is the same');
    for (const [name, plain] of grads[0]) {
      const ck = grads[1].get(name)!;
      const scale = Math.max(...Array.from(plain, Math.abs));
      assert.ok(scale > 0, `${name}: gradient is zero`);
      let worst = 0;
      plain.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - ck[i]) / scale); });
      assert.ok(worst <= 1e-5, `${name}: checkpointed gradient differs by ${worst} (relative to its largest entry)`);
    }
    assert.ok(peaks[1] < peaks[0] * 0.8, `modelled live set ${peaks[1]} B with checkpointing vs ${peaks[0]} B without`);
  });

  it('with int8 frozen weights (model.weights_dtype): the recomputed forward dequantizes too, and gradients equal those without checkpointing', async () => {
    const B = 2;
    const S = 8;
    const dir = exportHfDecoder('qwen2', [B, S]);
    const model = loadModel(`${dir}/model.onnx`);
    const store = frozenWeightsIn('int8', `${dir}/model.onnx`, model)!;
    assert.ok(store.weights.size > 0, 'some weights are quantized');
    const r = mulberry32(7);
    const ids = BigInt64Array.from({ length: B * S }, () => BigInt(Math.floor(r() * 512)));
    const batch = {
      input_ids: new ort.Tensor('int64', ids, [B, S]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(B * S).fill(1n), [B, S]),
      labels: new ort.Tensor('int64', BigInt64Array.from(ids), [B, S]),
    };
    const rb = mulberry32(3);
    const initial = new Map([['model.model.layers.0.self_attn.v_proj.lily_B', Float32Array.from({ length: 2 * 4 * 32 }, () => rb() - 0.5)]]);
    const grads: Array<Map<string, Float32Array>> = [];
    for (const gradientCheckpointing of [false, true]) {
      const runner = await StepRunner.create(model, { input_ids: [B, S], attention_mask: [B, S] }, {
        adapter: { method: 'lily', target_modules: ['v_proj'], r: 4, num_B: 2 }, task: 'causal-lm', threads: 1, exposeGradients: true, initial,
        frozenWeights: store.weights, gradientCheckpointing,
      });
      if (gradientCheckpointing) assert.ok(runner.graphs.recompute!.clonedNodes > 0);
      grads.push((await runner.step(batch, 1e-3)).grads!);
      await runner.release();
    }
    for (const [name, plain] of grads[0]) {
      const ck = grads[1].get(name)!;
      const scale = Math.max(...Array.from(plain, Math.abs));
      assert.ok(scale > 0, `${name}: gradient is zero`);
      plain.forEach((v, i) => assert.ok(Math.abs(v - ck[i]) <= 1e-5 * scale, `${name}[${i}]: ${ck[i]} with checkpointing vs ${v}`));
    }
  });
});
