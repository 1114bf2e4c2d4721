"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.inferShapes = inferShapes;
const ir_1 = require("./ir");
const shapeRules_1 = require("./shapeRules");
/** Integer types whose values are tracked (what shape arithmetic uses). */
const TRACKED = new Set(['int64', 'int32', 'bool']);
function toBigints(dtype, data) {
    if (!TRACKED.has(dtype))
        return undefined;
    return Array.from(data, (v) => (typeof v === 'bigint' ? v : BigInt(v)));
}
function toTensorData(dtype, data) {
    if (dtype === 'int64')
        return BigInt64Array.from(data);
    if (dtype === 'int32')
        return Int32Array.from(data, Number);
    return Uint8Array.from(data, (v) => (v !== 0n ? 1 : 0));
}
/**
 * Infers every node output of `model` it can. Graph inputs must have concrete shapes (those
 * with symbolic dims are treated as unknown). Nodes of other domains, with subgraphs, or
 * without a rule yield unknown outputs, as does anything computed from an unknown value.
 */
function inferShapes(model, opts = {}) {
    const maxData = opts.maxDataElements ?? 1 << 16;
    const g = model.graph;
    const opset = (0, ir_1.defaultOpset)(model);
    const known = new Map();
    for (const inp of g.inputs) {
        if (inp.shape && inp.shape.every((d) => typeof d === 'number'))
            known.set(inp.name, { dtype: inp.dtype, dims: inp.shape });
    }
    for (const [name, t] of g.initializers) {
        const small = (0, ir_1.tensorSize)(t.dims) <= maxData;
        known.set(name, { dtype: t.dtype, dims: [...t.dims], data: small ? toBigints(t.dtype, t.data) : undefined });
    }
    const out = new Map();
    for (const n of g.nodes) {
        const rule = n.domain === '' || n.domain === 'ai.onnx' ? shapeRules_1.SHAPE_RULES[n.opType] : undefined;
        if (!rule)
            continue;
        const ins = n.inputs.map((i) => (i === '' ? undefined : known.get(i)));
        if (n.inputs.some((i, k) => i !== '' && !ins[k]))
            continue;
        let results;
        try {
            results = rule(new shapeRules_1.RuleInput(n, ins, opset));
        }
        catch {
            // A malformed node (wrong attribute kind, rank mismatch): let onnxruntime report it.
            results = undefined;
        }
        if (!results)
            continue;
        n.outputs.forEach((o, k) => {
            const r = results[k];
            if (!o || !r || r.dims.some((d) => !Number.isInteger(d) || d < 0))
                return;
            const keepData = r.data && TRACKED.has(r.dtype) && r.data.length === (0, ir_1.tensorSize)(r.dims) && r.data.length <= maxData;
            const v = { dtype: r.dtype, dims: r.dims, data: keepData ? r.data : undefined };
            known.set(o, v);
            out.set(o, { dtype: v.dtype, dims: v.dims, data: v.data ? toTensorData(v.dtype, v.data) : undefined });
        });
    }
    return out;
}
//# sourceMappingURL=shapeInference.js.map