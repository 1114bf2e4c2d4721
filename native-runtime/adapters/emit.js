"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.Emitter = void 0;
exports.staticShape = staticShape;
const ir_1 = require("../onnx/ir");
const opset_1 = require("../onnx/opset");
class Emitter {
    b;
    opset;
    constructor(b, model) {
        this.b = b;
        (0, opset_1.checkTrainableOpset)(model);
        this.opset = (0, ir_1.defaultOpset)(model);
    }
    /** Records a value's dtype and static shape (skipped when a dim is unknown, i.e. negative). */
    setShape(name, dims, dtype = 'float32') {
        if (dims && dims.every((d) => d >= 0))
            this.b.graph.valueInfo.set(name, { name, dtype, shape: dims });
        return name;
    }
    /** One node with one output whose shape is recorded (autodiff reads shapes from valueInfo). */
    op(opType, inputs, attrs, dims, scope, dtype = 'float32') {
        return this.setShape(this.b.op1(opType, inputs, attrs, scope), dims, dtype);
    }
    /** ReduceSum: axes became an input at opset 13. */
    reduceSum(x, axes, keepdims, scope) {
        const inputs = axes ? [x, this.b.constInt64(axes, false, `${scope}/axes`)] : [x];
        return this.b.op1('ReduceSum', inputs, { keepdims: ir_1.attr.i(keepdims ? 1 : 0) }, scope);
    }
    /** ReduceMean: axes is an attribute before opset 18, an input from 18. */
    reduceMean(x, axes, keepdims, scope) {
        if (this.opset >= 18) {
            const inputs = axes ? [x, this.b.constInt64(axes, false, `${scope}/axes`)] : [x];
            return this.b.op1('ReduceMean', inputs, { keepdims: ir_1.attr.i(keepdims ? 1 : 0) }, scope);
        }
        const attrs = { keepdims: ir_1.attr.i(keepdims ? 1 : 0) };
        if (axes)
            attrs.axes = ir_1.attr.ints(axes);
        return this.b.op1('ReduceMean', [x], attrs, scope);
    }
    /** Reshape to a constant shape (0 copies a dim, -1 infers one). */
    reshape(x, shape, scope) {
        return this.b.op1('Reshape', [x, this.b.constInt64(shape, false, `${scope}/shape`)], {}, scope);
    }
    scalar(value, scope) {
        return this.b.constFloat(value, `${scope}/c`);
    }
}
exports.Emitter = Emitter;
/** The static shape of a value after specialisation, or undefined when unknown/dynamic. */
function staticShape(model, name) {
    const g = model.graph;
    const init = g.initializers.get(name);
    if (init)
        return init.dims;
    const vi = g.valueInfo.get(name) ?? g.inputs.find((v) => v.name === name) ?? g.outputs.find((v) => v.name === name);
    if (!vi || !vi.shape)
        return undefined;
    if (!vi.shape.every((d) => typeof d === 'number' && d >= 0))
        return undefined;
    return vi.shape;
}
//# sourceMappingURL=emit.js.map