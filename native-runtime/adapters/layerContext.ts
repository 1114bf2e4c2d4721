// What an adapter emitter needs to add nodes for one layer: the layer input flattened to
// [rows, d_in], an op helper that records the static shape of every new value (autodiff
// reads shapes from graph.valueInfo), and the optional attention-mask column.
import type { AttrValue } from '../onnx/ir';
import type { Emitter } from './emit';

export interface MaskColumn {
  /** The attention mask as float32 [rows, 1]. */
  column: string;
  /** Scalar float: number of ones in the mask (at least 1, so an all-padding batch gives zeros, not NaN). */
  count: string;
  /** Static number of mask entries (batch * tokens), or -1 when dynamic. */
  rows: number;
}

export class LayerContext {
  constructor(
    readonly e: Emitter,
    /** Scope for node names: the module path. */
    readonly scope: string,
    /** Layer input as [rows, d_in]. */
    readonly x: string,
    /** Static row count, or -1 when the model has dynamic shapes. */
    readonly rows: number,
    readonly maskColumn: MaskColumn | undefined,
  ) {}

  /** Records a value's static shape (skipped when any dim is unknown). */
  setShape(name: string, dims: number[]): string {
    return this.e.setShape(name, dims);
  }

  op(opType: string, inputs: string[], attrs: Record<string, AttrValue>, dims: number[]): string {
    return this.e.op(opType, inputs, attrs, dims, this.scope);
  }

  /** `t * scaling`, or `t` itself when scaling is 1. */
  scaled(t: string, scaling: number, dims: number[]): string {
    if (scaling === 1) return t;
    return this.op('Mul', [t, this.e.scalar(scaling, `${this.scope}/scaling`)], {}, dims);
  }
}
