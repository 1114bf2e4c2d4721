"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.FLOAT_DTYPES = void 0;
exports.findValueInfo = findValueInfo;
exports.valueDtype = valueDtype;
exports.valueShape = valueShape;
exports.sameShape = sameShape;
exports.normAxis = normAxis;
exports.FLOAT_DTYPES = new Set(['float32', 'float64', 'float16', 'bfloat16']);
/** ValueInfo of a value from valueInfo, inputs, outputs or initializers; undefined if unknown. */
function findValueInfo(graph, name) {
    const vi = graph.valueInfo.get(name);
    if (vi)
        return vi;
    const init = graph.initializers.get(name);
    if (init)
        return { name, dtype: init.dtype, shape: init.dims };
    return graph.inputs.find((v) => v.name === name) ?? graph.outputs.find((v) => v.name === name);
}
function valueDtype(graph, name) {
    const vi = findValueInfo(graph, name);
    if (!vi)
        throw new Error(`autodiff: no type known for value ${name}; run specialize() on the model first so every value has valueInfo`);
    return vi.dtype;
}
function valueShape(graph, name) {
    const vi = findValueInfo(graph, name);
    if (!vi || !vi.shape)
        throw new Error(`autodiff: no shape known for value ${name}; run specialize() on the model first so every value has a concrete shape`);
    return vi.shape.map((d, k) => {
        if (typeof d !== 'number')
            throw new Error(`autodiff: value ${name} has symbolic dim ${k} (${d}); specialize() the model to concrete input shapes first`);
        return d;
    });
}
function sameShape(a, b) {
    return a.length === b.length && a.every((d, k) => d === b[k]);
}
/** Normalises a possibly negative axis against a rank. */
function normAxis(axis, rank, what) {
    const a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= Math.max(rank, 1))
        throw new Error(`${what}: axis ${axis} is out of range for rank ${rank}`);
    return a;
}
//# sourceMappingURL=shapes.js.map