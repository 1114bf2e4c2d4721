// runtime.pack_weights (StepRunner's prepackTrain): the train session keeps its own frozen
// weights, which onnxruntime packs for the matrix products, while other sessions still share the
// loaded copy. Same losses as the shared, unpacked path (a transformers Llama of the HF zoo),
// the train session takes no weight as an input, and the memory estimate counts the copies.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as ort from 'onnxruntime-node';
import * as path from 'path';
import { mulberry32 } from '../../native-runtime/adapters/init';
import { loadModel } from '../../native-runtime/onnx/proto';
import { estimateStepMemory } from '../../native-runtime/train/memoryEstimate';
import { autoPackWeights, forwardPackedBytes, keptHead, StepRunner, weightsLayout } from '../../native-runtime/train/stepRunner';
import { forwardProducts } from '../../native-runtime/train/forwardProducts';
import { ensureZoo } from '../hf/zooCache';

/** The HF zoo's Llama (TorchScript export) and one seeded causal-LM batch of 2 x 16 for it. */
function zooLlama(seed: number): { model: ReturnType<typeof loadModel>; batch: Record<string, ort.Tensor>; B: number; S: number } {
  const dir = ensureZoo().entryDir('llama');
  const vocab = (JSON.parse(fs.readFileSync(path.join(dir, 'hf', 'config.json'), 'utf8')) as { vocab_size: number }).vocab_size;
  const [B, S] = [2, 16];
  const r = mulberry32(seed);
  const ids = BigInt64Array.from({ length: B * S }, () => BigInt(1 + Math.floor(r() * (vocab - 1))));
  const batch = {
    input_ids: new ort.Tensor('int64', ids, [B, S]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(B * S).fill(1n), [B, S]),
    labels: new ort.Tensor('int64', BigInt64Array.from(ids), [B, S]),
  };
  return { model: loadModel(path.join(dir, 'onnx', 'torchscript-17', 'model.onnx')), batch, B, S };
}

describe('train/pack_weights: the train session packs its own frozen weights', function () {
  this.timeout(600_000);

  it('a Llama step: losses and eval equal the shared unpacked path; only the eval session reads shared weights; estimate +2 copies', async () => {
    const { model, batch, B, S } = zooLlama(4);
    const runs: { losses: number[]; evalLoss: number; trainInputs: string[]; evalInputs: string[]; weights: number }[] = [];
    for (const prepackTrain of [false, true]) {
      const runner = await StepRunner.create(model, { input_ids: [B, S], attention_mask: [B, S] }, {
        adapter: { method: 'lily', target_modules: ['q_proj', 'v_proj'], r: 4, num_B: 2 }, task: 'causal-lm', threads: 1, seed: 3,
        shareFrozenWeights: true, prepackTrain, packHead: false,
      });
      const losses: number[] = [];
      for (let k = 0; k < 3; k++) losses.push((await runner.step(batch, 1e-2)).loss);
      const evalLoss = (await runner.evaluate(batch)).loss;
      const internals = runner as unknown as { compiled: Map<string, Promise<{ lifted: { train: string[]; eval: string[] } }>> };
      const c = await [...internals.compiled.values()][0];
      const weights = estimateStepMemory(runner.graphs, { evaluates: true, sharedWeights: true, packedWeights: prepackTrain }).weights;
      runs.push({ losses, evalLoss, trainInputs: c.lifted.train, evalInputs: c.lifted.eval, weights });
      await runner.release();
    }
    const [plain, packed] = runs;
    packed.losses.forEach((l, k) => assert.ok(Math.abs(l - plain.losses[k]) <= 1e-5 * Math.abs(plain.losses[k]), `step ${k + 1}: ${l} packed vs ${plain.losses[k]}`));
    assert.ok(Math.abs(packed.evalLoss - plain.evalLoss) <= 1e-5 * Math.abs(plain.evalLoss), `eval ${packed.evalLoss} vs ${plain.evalLoss}`);
    assert.ok(plain.trainInputs.length > 0, 'shared weights are inputs of the train session without packing');
    assert.deepEqual(packed.trainInputs, [], 'the packing train session reads its own initializers');
    assert.deepEqual(packed.evalInputs, plain.evalInputs, 'the eval session still shares the loaded weights');
    assert.ok(Math.abs(packed.weights - 3 * plain.weights) <= 0.01 * plain.weights, `estimate: ${packed.weights} B of weights packed vs ${plain.weights} B shared`);
  });
  it('shared weights: the train session keeps the chunked loss\'s head packed (its own initializer), same losses as the shared head', async () => {
    const { model, batch, B, S } = zooLlama(6);
    const runs: { losses: number[]; head?: string; train: string[]; eval: string[] }[] = [];
    for (const packHead of [false, true]) {
      const opts = { adapter: { method: 'lily' as const, target_modules: ['q_proj', 'v_proj'], r: 4, num_B: 2 }, task: 'causal-lm' as const, threads: 1, seed: 3, shareFrozenWeights: true, packHead };
      const runner = await StepRunner.create(model, { input_ids: [B, S], attention_mask: [B, S] }, opts);
      const losses: number[] = [];
      for (let k = 0; k < 3; k++) losses.push((await runner.step(batch, 1e-2)).loss);
      await runner.evaluate(batch);
      const internals = runner as unknown as { compiled: Map<string, Promise<{ lifted: { train: string[]; eval: string[] } }>> };
      const c = await [...internals.compiled.values()][0];
      runs.push({ losses, head: keptHead(runner.graphs, opts), train: c.lifted.train, eval: c.lifted.eval });
      await runner.release();
    }
    const [shared, packed] = runs;
    assert.equal(shared.head, undefined);
    assert.ok(packed.head, 'a chunked head is kept');
    assert.ok(shared.train.includes(packed.head!), 'without packHead the head is a shared input');
    assert.ok(!packed.train.includes(packed.head!), 'with packHead the train session keeps the head');
    assert.ok(packed.eval.includes(packed.head!), 'the eval session still shares the head');
    assert.deepEqual(packed.train, shared.train.filter((n) => n !== packed.head));
    packed.losses.forEach((l, k) => assert.ok(Math.abs(l - shared.losses[k]) <= 1e-5 * Math.abs(shared.losses[k]), `step ${k + 1}: ${l} vs ${shared.losses[k]}`));
  });

  it("'forward': the forward products' weights packed once, everything else shared; same losses; the estimate adds those bytes; auto picks it for one train shape only", async () => {
    const { model, batch, B, S } = zooLlama(8);
    const runs: { losses: number[]; evalLoss: number; train: string[]; eval: string[]; packed?: string[]; weights: number; forwardBytes?: number }[] = [];
    let graphs: StepRunner['graphs'] | undefined;
    for (const prepackTrain of [false, 'forward'] as const) {
      const opts = { adapter: { method: 'lily' as const, target_modules: ['q_proj', 'v_proj'], r: 4, num_B: 2 }, task: 'causal-lm' as const, threads: 1, seed: 3, shareFrozenWeights: true, prepackTrain };
      const runner = await StepRunner.create(model, { input_ids: [B, S], attention_mask: [B, S] }, opts);
      const losses: number[] = [];
      for (let k = 0; k < 3; k++) losses.push((await runner.step(batch, 1e-2)).loss);
      const evalLoss = (await runner.evaluate(batch)).loss;
      const internals = runner as unknown as { compiled: Map<string, Promise<{ lifted: { train: string[]; eval: string[] }; packed?: string[] }>> };
      const c = await [...internals.compiled.values()][0];
      const layout = weightsLayout(runner.graphs, opts);
      runs.push({ losses, evalLoss, train: c.lifted.train, eval: c.lifted.eval, packed: c.packed, weights: estimateStepMemory(runner.graphs, { evaluates: true, ...layout }).weights, forwardBytes: layout.forwardPackedBytes });
      graphs = runner.graphs;
      await runner.release();
    }
    const [plain, forward] = runs;
    forward.losses.forEach((l, k) => assert.ok(Math.abs(l - plain.losses[k]) <= 1e-5 * Math.abs(plain.losses[k]), `step ${k + 1}: ${l} vs ${plain.losses[k]}`));
    assert.ok(Math.abs(forward.evalLoss - plain.evalLoss) <= 1e-5 * Math.abs(plain.evalLoss));
    // Every shared weight is still an input of both sessions (the input gradients and the eval read it).
    assert.deepEqual(forward.train, plain.train);
    assert.deepEqual(forward.eval, plain.eval);
    // The weights packed: the seven projections of every layer (x W), not the embedding table (a Gather).
    const g = graphs!.train.graph;
    const readers = forwardProducts(g, 1024);
    const layers = (JSON.parse(fs.readFileSync(path.join(ensureZoo().entryDir('llama'), 'hf', 'config.json'), 'utf8')) as { num_hidden_layers: number }).num_hidden_layers;
    assert.equal(readers.size, 7 * layers, `${readers.size} forward-product weights: ${[...readers.keys()].join(', ')}`);
    for (const name of readers.keys()) assert.ok(plain.train.includes(name), `${name} is a shared weight`);
    assert.equal(plain.packed, undefined);
    assert.deepEqual([...forward.packed!].sort(), [...readers.keys()].sort(), 'the train session holds a packed copy of each');
    const embedding = [...g.nodes].find((n) => n.opType === 'Gather' && g.initializers.has(n.inputs[0]))?.inputs[0];
    assert.ok(embedding && !readers.has(embedding), 'the embedding table is not packed');
    const bytes = forwardPackedBytes(g);
    assert.equal(forward.forwardBytes, bytes);
    assert.ok(bytes > 0 && Math.abs(forward.weights - plain.weights - bytes) <= 1, `estimate: ${forward.weights} vs ${plain.weights} + ${bytes}`);
    // "auto": one train shape, no checkpointing, a copy of at most 1/8 of the machine.
    assert.equal(autoPackWeights(graphs!, { cpu: true, oneTrainShape: true, machineBytes: 8 * bytes }), 'forward');
    assert.equal(autoPackWeights(graphs!, { cpu: true, oneTrainShape: true, machineBytes: 8 * bytes - 8 }), false);
    assert.equal(autoPackWeights(graphs!, { cpu: true, oneTrainShape: false, machineBytes: 1e12 }), false);
    assert.equal(autoPackWeights(graphs!, { cpu: true, oneTrainShape: true, gradientCheckpointing: true, machineBytes: 1e12 }), false);
    assert.equal(autoPackWeights(graphs!, { cpu: false, oneTrainShape: true, machineBytes: 1e12 }), false);
  });
});
