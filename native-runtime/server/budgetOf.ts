// The trainable-parameter budget of a config's adapter section on its model: the layers it
// matches (grouped into sharing targets), the Lily/LoRA counts, and the LoRA rank that costs
// the same. Adapter parameters only (not modules_to_save, which both methods train alike).
import { lilyParamCount, loraParamCount, loraRankAtBudget, type BudgetTarget } from '../adapters/budget';
import { resolveAdapterConfig } from '../adapters/defaults';
import { findLinearLayers, matchTargets } from '../adapters/targets';
import type { AdapterSection } from '../config/types';
import type { Model } from '../onnx/ir';
import type { BudgetResult } from '../protocol';
import type { TargetInfo } from '../runFiles';

export function budgetOf(model: Model, adapterCfg: AdapterSection): BudgetResult {
  const adapter = resolveAdapterConfig(adapterCfg);
  const matched = matchTargets(findLinearLayers(model), adapter);
  const strideA = adapter.method === 'lily' ? adapter.stride_A : 1;
  const targets: TargetInfo[] = matched.map((t) => ({
    target: t.key,
    d_in: t.d_in,
    d_out: t.d_out,
    layers: t.layers.map((l, index) => ({ module: l.module, index, a_group: Math.floor(index / strideA) })),
  }));
  const shapes: BudgetTarget[] = matched.map((t) => ({ layers: t.layers.length, d_in: t.d_in, d_out: t.d_out }));
  if (adapter.method === 'lily') {
    const trainable = lilyParamCount(shapes, adapter);
    return { trainable_params: trainable, lora_rank_at_budget: loraRankAtBudget(shapes, trainable), targets };
  }
  return { trainable_params: loraParamCount(shapes, adapter.r), lora_rank_at_budget: adapter.r, targets };
}
