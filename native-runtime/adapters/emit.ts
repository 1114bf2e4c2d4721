// Opset-aware emitters for the few ops whose signature changed between opsets (reductions,
// Unsqueeze), plus shape look-ups on specialised graphs. Adapter injection, losses and the
// optimizer all emit through these so that they work on models exported at opset 13..18+.
import type { AttrValue, DataType, GraphBuilder, Model } from '../onnx/ir';
import { attr, defaultOpset } from '../onnx/ir';
import { checkTrainableOpset } from '../onnx/opset';

export class Emitter {
  readonly opset: number;

  constructor(readonly b: GraphBuilder, model: Model) {
    checkTrainableOpset(model);
    this.opset = defaultOpset(model);
  }

  /** Records a value's dtype and static shape (skipped when a dim is unknown, i.e. negative). */
  setShape(name: string, dims: number[] | undefined, dtype: DataType = 'float32'): string {
    if (dims && dims.every((d) => d >= 0)) this.b.graph.valueInfo.set(name, { name, dtype, shape: dims });
    return name;
  }

  /** One node with one output whose shape is recorded (autodiff reads shapes from valueInfo). */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue>, dims: number[] | undefined, scope: string, dtype: DataType = 'float32'): string {
    return this.setShape(this.b.op1(opType, inputs, attrs, scope), dims, dtype);
  }

  /** ReduceSum: axes became an input at opset 13. */
  reduceSum(x: string, axes: number[] | undefined, keepdims: boolean, scope: string): string {
    const inputs = axes ? [x, this.b.constInt64(axes, false, `${scope}/axes`)] : [x];
    return this.b.op1('ReduceSum', inputs, { keepdims: attr.i(keepdims ? 1 : 0) }, scope);
  }

  /** ReduceMean: axes is an attribute before opset 18, an input from 18. */
  reduceMean(x: string, axes: number[] | undefined, keepdims: boolean, scope: string): string {
    if (this.opset >= 18) {
      const inputs = axes ? [x, this.b.constInt64(axes, false, `${scope}/axes`)] : [x];
      return this.b.op1('ReduceMean', inputs, { keepdims: attr.i(keepdims ? 1 : 0) }, scope);
    }
    const attrs: Record<string, AttrValue> = { keepdims: attr.i(keepdims ? 1 : 0) };
    if (axes) attrs.axes = attr.ints(axes);
    return this.b.op1('ReduceMean', [x], attrs, scope);
  }

  /** ReduceMax: axes is an attribute before opset 18, an input from 18. */
  reduceMax(x: string, axes: number[], keepdims: boolean, scope: string): string {
    if (this.opset >= 18) return this.b.op1('ReduceMax', [x, this.b.constInt64(axes, false, `${scope}/axes`)], { keepdims: attr.i(keepdims ? 1 : 0) }, scope);
    return this.b.op1('ReduceMax', [x], { keepdims: attr.i(keepdims ? 1 : 0), axes: attr.ints(axes) }, scope);
  }

  /** Reshape to a constant shape (0 copies a dim, -1 infers one). */
  reshape(x: string, shape: number[], scope: string): string {
    return this.b.op1('Reshape', [x, this.b.constInt64(shape, false, `${scope}/shape`)], {}, scope);
  }

  scalar(value: number, scope: string): string {
    return this.b.constFloat(value, `${scope}/c`);
  }
}

/** The static shape of a value after specialisation, or undefined when unknown/dynamic. */
export function staticShape(model: Model, name: string): number[] | undefined {
  const g = model.graph;
  const init = g.initializers.get(name);
  if (init) return init.dims;
  const vi = g.valueInfo.get(name) ?? g.inputs.find((v) => v.name === name) ?? g.outputs.find((v) => v.name === name);
  if (!vi || !vi.shape) return undefined;
  if (!vi.shape.every((d): d is number => typeof d === 'number' && d >= 0)) return undefined;
  return vi.shape as number[];
}
