import { strict as assert } from 'assert';
import * as ort from 'onnxruntime-node';
import { resolveAdapterConfig } from '../../native-runtime/adapters/defaults';
import { bakeAdapterParams, injectAdapters, type Injection } from '../../native-runtime/adapters/inject';
import type { AdapterSection } from '../../native-runtime/config/types';
import type { Model } from '../../native-runtime/onnx/ir';
import { modelToBytes } from '../../native-runtime/onnx/proto';
import { B, C, D, T, lilyDeltaRef, matmul, randn, tinyModel } from './tinyGraph';

const X = randn(B * T * D, 1);
const MASK = [1, 1, 1, 1, 1, 0]; // second sample has one padding token

async function run(model: Model, extra: Record<string, ort.Tensor> = {}): Promise<Record<string, ort.Tensor>> {
  const s = await ort.InferenceSession.create(modelToBytes(model), { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
  const feeds: Record<string, ort.Tensor> = {
    x: new ort.Tensor('float32', X, [B, T, D]),
    attention_mask: new ort.Tensor('int64', BigInt64Array.from(MASK.map(BigInt)), [B, T]),
    ...extra,
  };
  const names = new Set(s.inputNames);
  for (const k of Object.keys(feeds)) if (!names.has(k)) delete feeds[k];
  try { return await s.run(feeds); } finally { await s.release(); }
}

function paramFeeds(inj: Injection): Record<string, ort.Tensor> {
  return Object.fromEntries(inj.params.map((p) => [p.name, new ort.Tensor('float32', p.init, p.dims)]));
}

function inject(cfg: AdapterSection, opts: Parameters<typeof injectAdapters>[2] = {}): { model: Model; inj: Injection } {
  const model = tinyModel();
  return { model, inj: injectAdapters(model, resolveAdapterConfig(cfg), { maskInput: 'attention_mask', ...opts }) };
}

/** Forward of tinyModel in float64 with `delta(layerIndex, rows)` added to each value layer. */
function referenceLogits(base: Model, delta: (l: number, x: Float64Array) => Float64Array): Float64Array {
  const w = (n: string) => base.graph.initializers.get(n)!.data as Float32Array;
  let x: Float64Array = Float64Array.from(X);
  for (let l = 0; l < 2; l++) {
    const y = matmul(x, w(`onnx::MatMul_${l}`), B * T, D, D);
    const bias = w(`layer.${l}.value.bias`);
    const d = delta(l, x);
    for (let i = 0; i < y.length; i++) y[i] += bias[i % D] + d[i];
    x = y;
  }
  const logits = new Float64Array(B * C);
  const wc = w('classifier.weight'), bc = w('classifier.bias');
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) {
    let s = bc[c];
    for (let t = 0; t < T; t++) for (let k = 0; k < D; k++) s += (x[(b * T + t) * D + k] / T) * wc[c * D + k];
    logits[b * C + c] = s;
  }
  return logits;
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1e-3 + Math.abs(want[i])));
  assert.ok(worst <= tol, `${what}: max relative error ${worst} > ${tol}`);
}

describe('adapters/inject', () => {
  it('with B = 0 (default init) the adapted model equals the base model exactly, Lily and LoRA', async () => {
    const base = await run(tinyModel());
    for (const cfg of [
      { method: 'lily', target_modules: ['value', 'classifier'], r: 3, num_B: 3 },
      { method: 'lily', target_modules: ['value'], r: 3, routing: 'masked' },
      { method: 'lora', target_modules: ['value', 'classifier'], r: 2 },
    ] as AdapterSection[]) {
      const { model, inj } = inject(cfg);
      const out = await run(model, paramFeeds(inj));
      assert.deepEqual(Array.from(out.logits.data as Float32Array), Array.from(base.logits.data as Float32Array), `${cfg.method} ${JSON.stringify(cfg.target_modules)}`);
    }
  });

  for (const routing of ['batch', 'masked', 'token'] as const) {
    it(`Lily forward matches the LILY.md formula (${routing} routing, stride_A 2)`, async () => {
      const r = 3, nB = 3, scaling = 0.7;
      const { model, inj } = inject({ method: 'lily', target_modules: ['value'], r, num_B: nB, stride_A: 2, scaling, routing });
      const bName = 'layer.0.value.lily_B';
      const bParam = inj.params.find((p) => p.name === bName)!;
      bParam.init = randn(bParam.init.length, 99, 0.5);
      const out = await run(model, paramFeeds(inj));
      const get = (n: string) => inj.params.find((p) => p.name === n)!.init;
      const rowMask = MASK;
      const want = referenceLogits(tinyModel(), (l, x) =>
        lilyDeltaRef(x, B * T, D, get('layer.0.value.lily_A'), get(`layer.${l}.value.lily_router`), get(bName), r, nB, D, scaling, routing, rowMask));
      assertClose(out.logits.data as Float32Array, want, 1e-5, 'logits');
      // Router outputs: one [num_B] probability vector per layer, summing to 1.
      for (const l of [0, 1]) {
        const p = out[`layer.${l}.value.lily_router_probs`].data as Float32Array;
        assert.equal(p.length, nB);
        assert.ok(Math.abs(p.reduce((a, v) => a + v, 0) - 1) < 1e-5);
      }
    });
  }

  it('shares tensors: one A per stride_A layers, one B pool per target, a router per layer, each a single graph input', () => {
    const { model, inj } = inject({ method: 'lily', target_modules: ['value'], r: 2, stride_A: 2 });
    const names = inj.params.map((p) => p.name).sort();
    assert.deepEqual(names, ['layer.0.value.lily_A', 'layer.0.value.lily_B', 'layer.0.value.lily_router', 'layer.1.value.lily_router']);
    const inputs = model.graph.inputs.map((i) => i.name);
    for (const n of names) assert.equal(inputs.filter((i) => i === n).length, 1, n);
    const aUsers = model.graph.nodes.filter((n) => n.inputs.includes('layer.0.value.lily_A')).map((n) => n.name);
    assert.equal(aUsers.length, 2, 'both layers multiply by the same A');
    assert.ok(aUsers[0].startsWith('layer.0.value/') && aUsers[1].startsWith('layer.1.value/'), aUsers.join(', '));
    assert.deepEqual(inj.layers.map((l) => [l.module, l.a_group]), [['layer.0.value', 0], ['layer.1.value', 0]]);
    assert.deepEqual(inj.params.find((p) => p.name === 'layer.0.value.lily_B')!.dims, [2, 2, D]);
    // stride_A 1: one A per layer.
    const one = inject({ method: 'lily', target_modules: ['value'], r: 2 }).inj;
    assert.deepEqual(one.params.filter((p) => p.role === 'lily_A').map((p) => p.name), ['layer.0.value.lily_A', 'layer.1.value.lily_A']);
  });

  it('LoRA forward is (alpha/r) x A B', async () => {
    const r = 2, alpha = 6;
    const { model, inj } = inject({ method: 'lora', target_modules: ['value'], r, lora_alpha: alpha });
    for (const p of inj.params) if (p.role === 'lora_B') p.init = randn(p.init.length, 7, 0.5);
    const out = await run(model, paramFeeds(inj));
    const get = (n: string) => inj.params.find((p) => p.name === n)!.init;
    const want = referenceLogits(tinyModel(), (l, x) => {
      const d = matmul(matmul(x, get(`layer.${l}.value.lora_A`), B * T, D, r), get(`layer.${l}.value.lora_B`), B * T, r, D);
      return d.map((v) => (v * alpha) / r);
    });
    assertClose(out.logits.data as Float32Array, want, 1e-5, 'logits');
  });

  it('initialises deterministically from the seed (Kaiming-uniform bound 1/sqrt(fan_in), B zero) or from given tensors', () => {
    const a = inject({ method: 'lily', target_modules: ['value'], r: 3 }, { seed: 5 }).inj;
    const b = inject({ method: 'lily', target_modules: ['value'], r: 3 }, { seed: 5 }).inj;
    const c = inject({ method: 'lily', target_modules: ['value'], r: 3 }, { seed: 6 }).inj;
    const A = (i: Injection) => i.params.find((p) => p.name === 'layer.0.value.lily_A')!.init;
    assert.deepEqual(A(a), A(b));
    assert.notDeepEqual(A(a), A(c));
    assert.ok(A(a).every((v) => Math.abs(v) <= 1 / Math.sqrt(D)));
    const router = a.params.find((p) => p.name === 'layer.0.value.lily_router')!.init;
    assert.ok(router.every((v) => Math.abs(v) <= 1 / Math.sqrt(3)) && router.some((v) => Math.abs(v) > 0.3));
    assert.ok(a.params.find((p) => p.role === 'lily_B')!.init.every((v) => v === 0));
    const given = new Float32Array(D * 3).fill(0.25);
    const d = inject({ method: 'lily', target_modules: ['value'], r: 3 }, { initial: new Map([['layer.1.value.lily_A', given]]) }).inj;
    assert.deepEqual(d.params.find((p) => p.name === 'layer.1.value.lily_A')!.init, given);
    assert.throws(() => inject({ method: 'lily', target_modules: ['value'], r: 3 }, { initial: new Map([['layer.0.value.lily_A', new Float32Array(2)]]) }), /has 2 values, expected 12/);
    assert.throws(() => inject({ method: 'lily', target_modules: ['value'], r: 3 }, { initial: new Map([['nope.lily_A', given]]) }), /not a tensor of this adapter/);
  });

  it('modules_to_save turns the named module\'s initializers into trainable inputs', () => {
    const { model, inj } = inject({ method: 'lily', target_modules: ['value'], r: 2, modules_to_save: ['classifier'] });
    assert.deepEqual(inj.saved.map((s) => [s.name, s.peftName, s.transposed]), [['classifier.weight', 'classifier.weight', false], ['classifier.bias', 'classifier.bias', false]]);
    assert.ok(!model.graph.initializers.has('classifier.weight'));
    assert.ok(model.graph.inputs.some((i) => i.name === 'classifier.weight'));
    // A MatMul weight stored [d_in, d_out] under a generic name maps to the torch name, transposed.
    const v = inject({ method: 'lily', target_modules: ['classifier'], r: 2, modules_to_save: ['layer.1.value'] }).inj;
    assert.deepEqual(v.saved.map((s) => [s.name, s.peftName, s.transposed]), [['onnx::MatMul_1', 'layer.1.value.weight', true], ['layer.1.value.bias', 'layer.1.value.bias', false]]);
    assert.throws(() => inject({ method: 'lily', target_modules: ['value'], modules_to_save: ['classifer'] }), /did you mean "classifier"/);
  });

  it('masked routing needs a mask input', () => {
    assert.throws(() => inject({ method: 'lily', target_modules: ['value'], routing: 'masked' }, { maskInput: undefined }), /routing is "masked"/);
  });

  it('bakeAdapterParams gives a self-contained adapted model', async () => {
    const { model, inj } = inject({ method: 'lora', target_modules: ['value'], r: 2 });
    const withInputs = await run(model, paramFeeds(inj));
    bakeAdapterParams(model, inj, new Map());
    assert.ok(!model.graph.inputs.some((i) => i.name.endsWith('lora_A')));
    const baked = await run(model);
    assert.deepEqual(Array.from(baked.logits.data as Float32Array), Array.from(withInputs.logits.data as Float32Array));
  });
});
