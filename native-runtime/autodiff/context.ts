// What a gradient rule sees: ORT's vocabulary (I(i), O(i), GO(i)), shapes, attributes, and
// small emitters that name temporaries after the forward node and respect the opset.
import type { AttrValue, DataType, Graph, Node, Tensor } from '../onnx/ir';
import { attr, getAttrFloat, getAttrInt, getAttrInts, getAttrString, GraphBuilder, tensorToNumbers } from '../onnx/ir';
import { valueDtype, valueShape } from './shapes';

/** A rule returns one gradient name per input, or undefined where none flows. */
export type GradResult = (string | undefined)[];
export type Rule = (c: GradContext) => GradResult;

export interface RuleSpec {
  rule: Rule;
  /**
   * The op broadcasts its inputs (numpy style): the rule may return gradients in the shape of
   * output 0 and the walker reduces them to each input's shape.
   */
  broadcast?: boolean;
}

const ONNX_DTYPE_CODE: Partial<Record<DataType, number>> = { float32: 1, float16: 10, float64: 11, bfloat16: 16, int64: 7, int32: 6, bool: 9 };

export function onnxTypeCode(d: DataType): number {
  const c = ONNX_DTYPE_CODE[d];
  if (c === undefined) throw new Error(`autodiff: no ONNX type code for ${d}`);
  return c;
}

export class GradContext {
  readonly scope: string;

  constructor(
    readonly graph: Graph,
    readonly b: GraphBuilder,
    readonly node: Node,
    readonly opset: number,
    private readonly gradOf: (output: string) => string | undefined,
    private readonly wanted: (input: string) => boolean,
  ) {
    this.scope = `${node.name}_grad`;
  }

  // -- vocabulary --------------------------------------------------------------------------
  /** Name of input i ('' when the optional input is absent). */
  I(i: number): string { return this.node.inputs[i] ?? ''; }
  O(i: number): string { return this.node.outputs[i] ?? ''; }
  get numInputs(): number { return this.node.inputs.length; }
  /** True when output i receives a gradient from downstream. */
  hasGO(i: number): boolean { return !!this.O(i) && this.gradOf(this.O(i)) !== undefined; }
  /** Gradient of output i; zeros when nothing downstream needs it. */
  GO(i: number): string {
    const g = this.gradOf(this.O(i));
    return g ?? this.zerosLike(this.O(i));
  }
  /**
   * The gradient of any value whose readers have all been differentiated already (a value later
   * in the forward graph than this node); undefined when none flows. Composite rules use it.
   */
  gradOfValue(name: string): string | undefined { return this.gradOf(name); }
  /** True when the walker needs the gradient of input i (rules may skip work otherwise). */
  needs(i: number): boolean { return !!this.I(i) && this.wanted(this.I(i)); }

  shape(name: string): number[] { return valueShape(this.graph, name); }
  dtype(name: string): DataType { return valueDtype(this.graph, name); }
  rank(name: string): number { return this.shape(name).length; }

  attrInt(name: string, dflt: number): number { return getAttrInt(this.node, name, dflt); }
  attrInts(name: string): number[] | undefined { return getAttrInts(this.node, name); }
  /** ONNX float attributes are 32-bit: round so constants match what the forward op uses. */
  attrFloat(name: string, dflt: number): number { return Math.fround(getAttrFloat(this.node, name, dflt)); }
  attrString(name: string, dflt: string): string { return getAttrString(this.node, name, dflt); }

  /** The value of a constant input (an initializer), or undefined when it is computed. */
  constTensor(name: string): Tensor | undefined {
    return name ? this.graph.initializers.get(name) : undefined;
  }
  /** Integer values of a constant input; throws (naming the node) when it is not constant. */
  constInts(name: string, what: string): number[] {
    const t = this.constTensor(name);
    if (!t) throw new Error(`autodiff: node ${this.node.name} (${this.node.opType}): ${what} (${name}) must be a constant initializer to differentiate; run specialize() first`);
    return tensorToNumbers(t);
  }
  fail(msg: string): never {
    throw new Error(`autodiff: node ${this.node.name} (${this.node.opType}): ${msg}`);
  }

  // -- emitters ----------------------------------------------------------------------------
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.b.op(opType, inputs, attrs, { scope: this.scope })[0];
  }
  opN(opType: string, inputs: string[], attrs: Record<string, AttrValue>, outputs: number): string[] {
    return this.b.op(opType, inputs, attrs, { scope: this.scope, outputs });
  }
  /** Records dtype/shape of a value this rule created (lets the walker un-broadcast it). */
  setShape(name: string, shape: number[], dtype: DataType): string {
    this.graph.valueInfo.set(name, { name, dtype, shape: [...shape] });
    return name;
  }

  add(a: string, b: string): string { return this.op('Add', [a, b]); }
  sub(a: string, b: string): string { return this.op('Sub', [a, b]); }
  mul(a: string, b: string): string { return this.op('Mul', [a, b]); }
  div(a: string, b: string): string { return this.op('Div', [a, b]); }
  neg(a: string): string { return this.op('Neg', [a]); }

  /** A scalar constant with the float dtype of `like`. */
  scalar(value: number, like: string): string {
    return scalarConst(this.b, value, this.dtype(like), `${this.scope}/c`);
  }
  ints(values: number[], scalar = false): string {
    return this.b.constInt64(values, scalar, `${this.scope}/ints`);
  }
  zeros(shape: number[], dtype: DataType): string {
    return this.setShape(zerosOfShape(this.b, shape, dtype, this.scope), shape, dtype);
  }
  zerosLike(name: string): string {
    return this.zeros(this.shape(name), this.dtype(name));
  }
  reshape(x: string, shape: number[]): string { return this.op('Reshape', [x, this.ints(shape)]); }
  expand(x: string, shape: number[]): string { return this.op('Expand', [x, this.ints(shape)]); }
  transpose(x: string, perm: number[]): string { return this.op('Transpose', [x], { perm: attr.ints(perm) }); }
  cast(x: string, to: DataType): string { return this.op('Cast', [x], { to: attr.i(onnxTypeCode(to)) }); }
  reduceSum(x: string, axes: number[], keepdims: boolean): string { return emitReduceSum(this.b, x, axes, keepdims, this.opset, this.scope); }
  reduceMean(x: string, axes: number[], keepdims: boolean): string {
    if (this.opset >= 18) return this.op('ReduceMean', [x, this.ints(axes)], { keepdims: attr.i(keepdims ? 1 : 0) });
    return this.op('ReduceMean', [x], { axes: attr.ints(axes), keepdims: attr.i(keepdims ? 1 : 0) });
  }
  /** Where(cond, x, 0) with a zero of x's dtype. */
  maskOr0(cond: string, x: string): string { return this.op('Where', [cond, x, this.scalar(0, x)]); }
}

// ---------------------------------------------------------------------------
// Emitters shared by the walker and rules.

export function scalarConst(b: GraphBuilder, value: number, dtype: DataType, base: string): string {
  switch (dtype) {
    case 'float32': return b.constant({ name: base, dtype, dims: [], data: Float32Array.of(value) });
    case 'float64': return b.constant({ name: base, dtype, dims: [], data: Float64Array.of(value) });
    case 'float16': case 'bfloat16': {
      // Half types are stored as raw bits: emit float32 and let ORT cast it once.
      const f = b.constant({ name: base, dtype: 'float32', dims: [], data: Float32Array.of(value) });
      return b.op('Cast', [f], { to: attr.i(onnxTypeCode(dtype)) }, { scope: base })[0];
    }
    default: throw new Error(`autodiff: cannot make a ${dtype} scalar (only float types carry gradients)`);
  }
}

/** A tensor of zeros, built with ConstantOfShape so no large initializer is stored. */
export function zerosOfShape(b: GraphBuilder, shape: number[], dtype: DataType, scope: string): string {
  const value: Tensor = dtype === 'float64'
    ? { name: 'value', dtype, dims: [1], data: new Float64Array(1) }
    : dtype === 'float16' || dtype === 'bfloat16'
      ? { name: 'value', dtype, dims: [1], data: new Uint16Array(1) }
      : { name: 'value', dtype: 'float32', dims: [1], data: new Float32Array(1) };
  const shapeConst = b.constInt64(shape, false, `${scope}/zeros_shape`);
  return b.op('ConstantOfShape', [shapeConst], { value: attr.t(value) }, { scope })[0];
}

export function emitReduceSum(b: GraphBuilder, x: string, axes: number[], keepdims: boolean, opset: number, scope: string): string {
  const kd = attr.i(keepdims ? 1 : 0);
  if (opset >= 13) return b.op('ReduceSum', [x, b.constInt64(axes, false, `${scope}/axes`)], { keepdims: kd }, { scope })[0];
  return b.op('ReduceSum', [x], { axes: attr.ints(axes), keepdims: kd }, { scope })[0];
}
