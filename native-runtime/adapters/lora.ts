// The LoRA forward for one adapted layer: delta = (alpha / r) * (x A) B, on rows [rows, d_in].
import type { LayerContext } from './layerContext';

export interface LoraLayerParams {
  /** [d_in, r] */
  A: string;
  /** [r, d_out] */
  B: string;
}

export function emitLoraDelta(ctx: LayerContext, p: LoraLayerParams, s: { r: number; d_out: number; scaling: number }): string {
  const h = ctx.op('MatMul', [ctx.x, p.A], {}, [ctx.rows, s.r]);
  // The scale goes on B ([r, d_out]), the smaller side.
  return ctx.op('MatMul', [h, ctx.scaled(p.B, s.scaling, [s.r, s.d_out])], {}, [ctx.rows, s.d_out]);
}
