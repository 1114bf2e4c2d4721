import { strict as assert } from 'assert';
import { lilyParamCount, lilyTargetParamCount, loraParamCount, loraRankAtBudget } from '../../native-runtime/adapters/budget';
import { resolveAdapterConfig } from '../../native-runtime/adapters/defaults';
import { injectAdapters } from '../../native-runtime/adapters/inject';
import { tinyModel } from './tinyGraph';

describe('adapters/budget', () => {
  it('Lily count per LILY.md: ceil(L/stride_A) r d_in + num_B r d_out + L r num_B', () => {
    // RoBERTa-base value layers: L=12, d=768, r=32, stride_A=4, num_B=3.
    const t = { layers: 12, d_in: 768, d_out: 768 };
    assert.equal(lilyTargetParamCount(t, { r: 32, stride_A: 4, num_B: 3 }), 3 * 32 * 768 + 3 * 32 * 768 + 12 * 32 * 3);
    // stride 5 over 12 layers: ceil -> 3 A's.
    assert.equal(lilyTargetParamCount(t, { r: 32, stride_A: 5, num_B: 2 }), 3 * 32 * 768 + 2 * 32 * 768 + 12 * 32 * 2);
    assert.equal(lilyParamCount([t, { layers: 12, d_in: 768, d_out: 3072 }], { r: 8, stride_A: 1, num_B: 2 }),
      (12 * 8 * 768 + 2 * 8 * 768 + 12 * 8 * 2) + (12 * 8 * 768 + 2 * 8 * 3072 + 12 * 8 * 2));
  });

  it('LoRA count L r (d_in + d_out), and the nearest rank at a budget', () => {
    const ts = [{ layers: 12, d_in: 768, d_out: 768 }];
    assert.equal(loraParamCount(ts, 8), 12 * 8 * 1536);
    assert.equal(loraRankAtBudget(ts, loraParamCount(ts, 8)), 8);
    const lily = lilyParamCount(ts, { r: 32, stride_A: 4, num_B: 3 });
    assert.equal(loraRankAtBudget(ts, lily), Math.round(lily / (12 * 1536)));
    assert.equal(loraRankAtBudget(ts, 1), 1, 'never below rank 1');
  });

  it('agrees with the tensors injection actually creates', () => {
    const cfg = resolveAdapterConfig({ method: 'lily', target_modules: ['value', 'classifier'], r: 3, stride_A: 2, num_B: 3 });
    const inj = injectAdapters(tinyModel(), cfg);
    const created = inj.params.reduce((s, p) => s + p.init.length, 0);
    const counted = lilyParamCount(inj.targets.map((t) => ({ layers: t.layers.length, d_in: t.d_in, d_out: t.d_out })), { r: 3, stride_A: 2, num_B: 3 });
    assert.equal(created, counted);
    const lora = injectAdapters(tinyModel(), resolveAdapterConfig({ method: 'lora', target_modules: ['value', 'classifier'], r: 2 }));
    assert.equal(lora.params.reduce((s, p) => s + p.init.length, 0), loraParamCount(lora.targets.map((t) => ({ layers: t.layers.length, d_in: t.d_in, d_out: t.d_out })), 2));
  });

  it('applies PEFT defaults and checks', () => {
    const lily = resolveAdapterConfig({ method: 'lily', target_modules: ['value'] });
    assert.deepEqual([lily.method, (lily as { r: number }).r], ['lily', 32]);
    assert.equal(lily.method === 'lily' && lily.num_B, 2);
    const lora = resolveAdapterConfig({ method: 'lora', target_modules: ['value'], r: 4 });
    assert.equal(lora.method === 'lora' && lora.lora_alpha, 4);
    assert.throws(() => resolveAdapterConfig({ method: 'lily', target_modules: ['v'], num_B: 1 }), /adapter.num_B: expected an integer >= 2/);
    assert.throws(() => resolveAdapterConfig({ method: 'lily', target_modules: ['v'], stride_A: 0 }), /adapter.stride_A/);
  });
});
