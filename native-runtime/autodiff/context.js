"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.GradContext = void 0;
exports.onnxTypeCode = onnxTypeCode;
exports.scalarConst = scalarConst;
exports.zerosOfShape = zerosOfShape;
exports.emitReduceSum = emitReduceSum;
const ir_1 = require("../onnx/ir");
const shapes_1 = require("./shapes");
const ONNX_DTYPE_CODE = { float32: 1, float16: 10, float64: 11, bfloat16: 16, int64: 7, int32: 6, bool: 9 };
function onnxTypeCode(d) {
    const c = ONNX_DTYPE_CODE[d];
    if (c === undefined)
        throw new Error(`autodiff: no ONNX type code for ${d}`);
    return c;
}
class GradContext {
    graph;
    b;
    node;
    opset;
    gradOf;
    wanted;
    scope;
    constructor(graph, b, node, opset, gradOf, wanted) {
        this.graph = graph;
        this.b = b;
        this.node = node;
        this.opset = opset;
        this.gradOf = gradOf;
        this.wanted = wanted;
        this.scope = `${node.name}_grad`;
    }
    // -- vocabulary --------------------------------------------------------------------------
    /** Name of input i ('' when the optional input is absent). */
    I(i) { return this.node.inputs[i] ?? ''; }
    O(i) { return this.node.outputs[i] ?? ''; }
    get numInputs() { return this.node.inputs.length; }
    /** True when output i receives a gradient from downstream. */
    hasGO(i) { return !!this.O(i) && this.gradOf(this.O(i)) !== undefined; }
    /** Gradient of output i; zeros when nothing downstream needs it. */
    GO(i) {
        const g = this.gradOf(this.O(i));
        return g ?? this.zerosLike(this.O(i));
    }
    /** True when the walker needs the gradient of input i (rules may skip work otherwise). */
    needs(i) { return !!this.I(i) && this.wanted(this.I(i)); }
    shape(name) { return (0, shapes_1.valueShape)(this.graph, name); }
    dtype(name) { return (0, shapes_1.valueDtype)(this.graph, name); }
    rank(name) { return this.shape(name).length; }
    attrInt(name, dflt) { return (0, ir_1.getAttrInt)(this.node, name, dflt); }
    attrInts(name) { return (0, ir_1.getAttrInts)(this.node, name); }
    /** ONNX float attributes are 32-bit: round so constants match what the forward op uses. */
    attrFloat(name, dflt) { return Math.fround((0, ir_1.getAttrFloat)(this.node, name, dflt)); }
    attrString(name, dflt) { return (0, ir_1.getAttrString)(this.node, name, dflt); }
    /** The value of a constant input (an initializer), or undefined when it is computed. */
    constTensor(name) {
        return name ? this.graph.initializers.get(name) : undefined;
    }
    /** Integer values of a constant input; throws (naming the node) when it is not constant. */
    constInts(name, what) {
        const t = this.constTensor(name);
        if (!t)
            throw new Error(`autodiff: node ${this.node.name} (${this.node.opType}): ${what} (${name}) must be a constant initializer to differentiate; run specialize() first`);
        return (0, ir_1.tensorToNumbers)(t);
    }
    fail(msg) {
        throw new Error(`autodiff: node ${this.node.name} (${this.node.opType}): ${msg}`);
    }
    // -- emitters ----------------------------------------------------------------------------
    op(opType, inputs, attrs = {}) {
        return this.b.op(opType, inputs, attrs, { scope: this.scope })[0];
    }
    opN(opType, inputs, attrs, outputs) {
        return this.b.op(opType, inputs, attrs, { scope: this.scope, outputs });
    }
    /** Records dtype/shape of a value this rule created (lets the walker un-broadcast it). */
    setShape(name, shape, dtype) {
        this.graph.valueInfo.set(name, { name, dtype, shape: [...shape] });
        return name;
    }
    add(a, b) { return this.op('Add', [a, b]); }
    sub(a, b) { return this.op('Sub', [a, b]); }
    mul(a, b) { return this.op('Mul', [a, b]); }
    div(a, b) { return this.op('Div', [a, b]); }
    neg(a) { return this.op('Neg', [a]); }
    /** A scalar constant with the float dtype of `like`. */
    scalar(value, like) {
        return scalarConst(this.b, value, this.dtype(like), `${this.scope}/c`);
    }
    ints(values, scalar = false) {
        return this.b.constInt64(values, scalar, `${this.scope}/ints`);
    }
    zeros(shape, dtype) {
        return this.setShape(zerosOfShape(this.b, shape, dtype, this.scope), shape, dtype);
    }
    zerosLike(name) {
        return this.zeros(this.shape(name), this.dtype(name));
    }
    reshape(x, shape) { return this.op('Reshape', [x, this.ints(shape)]); }
    expand(x, shape) { return this.op('Expand', [x, this.ints(shape)]); }
    transpose(x, perm) { return this.op('Transpose', [x], { perm: ir_1.attr.ints(perm) }); }
    cast(x, to) { return this.op('Cast', [x], { to: ir_1.attr.i(onnxTypeCode(to)) }); }
    reduceSum(x, axes, keepdims) { return emitReduceSum(this.b, x, axes, keepdims, this.opset, this.scope); }
    reduceMean(x, axes, keepdims) {
        if (this.opset >= 18)
            return this.op('ReduceMean', [x, this.ints(axes)], { keepdims: ir_1.attr.i(keepdims ? 1 : 0) });
        return this.op('ReduceMean', [x], { axes: ir_1.attr.ints(axes), keepdims: ir_1.attr.i(keepdims ? 1 : 0) });
    }
    /** Where(cond, x, 0) with a zero of x's dtype. */
    maskOr0(cond, x) { return this.op('Where', [cond, x, this.scalar(0, x)]); }
}
exports.GradContext = GradContext;
// ---------------------------------------------------------------------------
// Emitters shared by the walker and rules.
function scalarConst(b, value, dtype, base) {
    switch (dtype) {
        case 'float32': return b.constant({ name: base, dtype, dims: [], data: Float32Array.of(value) });
        case 'float64': return b.constant({ name: base, dtype, dims: [], data: Float64Array.of(value) });
        case 'float16':
        case 'bfloat16': {
            // Half types are stored as raw bits: emit float32 and let ORT cast it once.
            const f = b.constant({ name: base, dtype: 'float32', dims: [], data: Float32Array.of(value) });
            return b.op('Cast', [f], { to: ir_1.attr.i(onnxTypeCode(dtype)) }, { scope: base })[0];
        }
        default: throw new Error(`autodiff: cannot make a ${dtype} scalar (only float types carry gradients)`);
    }
}
/** A tensor of zeros, built with ConstantOfShape so no large initializer is stored. */
function zerosOfShape(b, shape, dtype, scope) {
    const value = dtype === 'float64'
        ? { name: 'value', dtype, dims: [1], data: new Float64Array(1) }
        : dtype === 'float16' || dtype === 'bfloat16'
            ? { name: 'value', dtype, dims: [1], data: new Uint16Array(1) }
            : { name: 'value', dtype: 'float32', dims: [1], data: new Float32Array(1) };
    const shapeConst = b.constInt64(shape, false, `${scope}/zeros_shape`);
    return b.op('ConstantOfShape', [shapeConst], { value: ir_1.attr.t(value) }, { scope })[0];
}
function emitReduceSum(b, x, axes, keepdims, opset, scope) {
    const kd = ir_1.attr.i(keepdims ? 1 : 0);
    if (opset >= 13)
        return b.op('ReduceSum', [x, b.constInt64(axes, false, `${scope}/axes`)], { keepdims: kd }, { scope })[0];
    return b.op('ReduceSum', [x], { axes: ir_1.attr.ints(axes), keepdims: kd }, { scope })[0];
}
//# sourceMappingURL=context.js.map