"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.cloneModel = cloneModel;
exports.specialize = specialize;
exports.specializeCached = specializeCached;
const ir_1 = require("./ir");
const foldAnalysis_1 = require("./foldAnalysis");
const foldDeadCode_1 = require("./foldDeadCode");
const foldProbe_1 = require("./foldProbe");
const FLOAT_TYPES = new Set(['float32', 'float64', 'float16', 'bfloat16']);
const DATA_DEPENDENT_SHAPE_OPS = new Set(['NonZero', 'Unique', 'Compress', 'Loop', 'If', 'Scan']);
/** A copy of the model whose graph can be edited without touching the original (tensors shared). */
function cloneModel(model) {
    return { ...model, opsetImports: model.opsetImports.map((o) => ({ ...o })), metadata: { ...model.metadata }, graph: cloneGraph(model.graph) };
}
function cloneGraph(g) {
    return {
        name: g.name,
        nodes: g.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs: { ...n.attrs } })),
        inputs: g.inputs.map((v) => ({ ...v, shape: v.shape ? [...v.shape] : undefined })),
        outputs: g.outputs.map((v) => ({ ...v, shape: v.shape ? [...v.shape] : undefined })),
        initializers: new Map(g.initializers),
        valueInfo: new Map([...g.valueInfo].map(([k, v]) => [k, { ...v, shape: v.shape ? [...v.shape] : undefined }])),
    };
}
function fixInputShapes(graph, inputShapes) {
    const known = new Set(graph.inputs.map((i) => i.name));
    for (const name of Object.keys(inputShapes)) {
        if (!known.has(name)) {
            throw new Error(`specialize: inputShapes names "${name}", which is not a graph input (inputs: ${[...known].join(', ')})`);
        }
    }
    for (const inp of graph.inputs) {
        const given = inputShapes[inp.name];
        if (!given) {
            const dyn = (inp.shape ?? []).filter((d) => typeof d !== 'number');
            if (!inp.shape || dyn.length > 0) {
                throw new Error(`specialize: input ${inp.name} has dynamic shape ${JSON.stringify(inp.shape ?? 'unknown rank')}; pass its concrete shape in inputShapes["${inp.name}"]`);
            }
            continue;
        }
        if (inp.shape && inp.shape.length !== given.length) {
            throw new Error(`specialize: input ${inp.name} has rank ${inp.shape.length} (${JSON.stringify(inp.shape)}) but inputShapes gives ${JSON.stringify(given)}`);
        }
        given.forEach((d, k) => {
            if (!Number.isInteger(d) || d < 0)
                throw new Error(`specialize: inputShapes["${inp.name}"][${k}] = ${d}; expected a non-negative integer`);
            const declared = inp.shape?.[k];
            if (typeof declared === 'number' && declared !== d) {
                throw new Error(`specialize: input ${inp.name} dim ${k} is fixed to ${declared} in the model but inputShapes gives ${d}`);
            }
        });
        inp.shape = [...given];
    }
}
/** The tensor a Constant node holds (ONNX allows several attribute spellings). */
function constantNodeValue(n, out) {
    const a = Object.entries(n.attrs)[0];
    if (!a)
        throw new Error(`specialize: Constant node ${n.name} has no value attribute`);
    const [key, v] = a;
    if (key === 'value' && v.kind === 'tensor')
        return { ...v.value, name: out };
    if (key === 'value_float' && v.kind === 'float')
        return { name: out, dtype: 'float32', dims: [], data: Float32Array.of(v.value) };
    if (key === 'value_floats' && v.kind === 'floats')
        return { name: out, dtype: 'float32', dims: [v.value.length], data: Float32Array.from(v.value) };
    if (key === 'value_int' && v.kind === 'int')
        return { name: out, dtype: 'int64', dims: [], data: BigInt64Array.of(BigInt(v.value)) };
    if (key === 'value_ints' && v.kind === 'ints')
        return { name: out, dtype: 'int64', dims: [v.value.length], data: BigInt64Array.from(v.value.map(BigInt)) };
    if (key === 'value_string' && v.kind === 'string')
        return { name: out, dtype: 'string', dims: [], data: [v.value] };
    if (key === 'value_strings' && v.kind === 'strings')
        return { name: out, dtype: 'string', dims: [v.value.length], data: [...v.value] };
    throw new Error(`specialize: Constant node ${n.name} uses attribute ${key} (${v.kind}), which is not supported (sparse constants are not)`);
}
function constantsToInitializers(graph) {
    const keep = [];
    for (const n of graph.nodes) {
        if (n.opType === 'Constant' && n.domain === '')
            graph.initializers.set(n.outputs[0], constantNodeValue(n, n.outputs[0]));
        else
            keep.push(n);
    }
    graph.nodes = keep;
}
function allNodeOutputs(graph) {
    const seen = new Set();
    for (const n of graph.nodes)
        for (const o of n.outputs)
            if (o)
                seen.add(o);
    return [...seen];
}
async function specialize(model, inputShapes, opts = {}) {
    const out = cloneModel(model);
    const g = out.graph;
    const maxFold = opts.maxFoldElements ?? 1 << 20;
    fixInputShapes(g, inputShapes);
    constantsToInitializers(g);
    const declared = new Set([...g.inputs.map((i) => i.name), ...g.initializers.keys(), ...allNodeOutputs(g)]);
    const keep = opts.keepOutputs ?? [];
    for (const k of keep) {
        if (!declared.has(k))
            throw new Error(`specialize: keepOutputs names "${k}", which no node, input or initializer of the graph defines`);
    }
    (0, foldDeadCode_1.removeDeadCode)(g, keep);
    // Which values can become initializers: static, small, and not derived from a weight.
    const { isStatic, touchesWeight } = (0, foldAnalysis_1.analyzeStatic)(g);
    // A shape that depends on data cannot be fixed by fixing the input shapes.
    for (const n of g.nodes) {
        if (DATA_DEPENDENT_SHAPE_OPS.has(n.opType) && !n.outputs.every((o) => !o || isStatic.has(o))) {
            throw new Error(`specialize: node ${n.name} (${n.opType}) has an output shape that depends on the input data; a training step needs fixed shapes, so this model cannot be specialised (re-export it without ${n.opType} on the data path)`);
        }
    }
    const protectedNames = new Set([...g.outputs.map((o) => o.name), ...keep]);
    const foldable = (name, dtype, dims) => isStatic.has(name) && !g.initializers.has(name) && !protectedNames.has(name) && dtype !== 'string' &&
        (0, ir_1.tensorSize)(dims) <= maxFold && !(FLOAT_TYPES.has(dtype) && touchesWeight.has(name));
    const probed = await (0, foldProbe_1.probeValues)(out, allNodeOutputs(g), foldable, opts.probeBudgetBytes);
    // A node is folded away when every output it has is foldable; its outputs that other
    // (kept) nodes read become initializers.
    const folded = new Set();
    for (const n of g.nodes) {
        const outs = n.outputs.filter((o) => o);
        if (outs.length > 0 && outs.every((o) => { const p = probed.get(o); return foldable(o, p.dtype, p.dims); }))
            folded.add(n);
    }
    const foldedOutputs = new Set([...folded].flatMap((n) => n.outputs.filter((o) => o)));
    for (const n of g.nodes) {
        if (folded.has(n))
            continue;
        for (const i of n.inputs) {
            if (!foldedOutputs.has(i) || g.initializers.has(i))
                continue;
            const p = probed.get(i);
            g.initializers.set(i, { name: i, dtype: p.dtype, dims: p.dims, data: p.data });
        }
    }
    // Subgraphs may read folded values from the outer scope.
    materializeSubgraphReads(g, folded, probed);
    g.nodes = g.nodes.filter((n) => !folded.has(n));
    for (const k of keep)
        if (!g.outputs.some((o) => o.name === k))
            g.outputs.push({ name: k, dtype: 'float32' });
    (0, foldDeadCode_1.removeDeadCode)(g);
    g.valueInfo = new Map();
    for (const name of allNodeOutputs(g)) {
        const p = probed.get(name);
        if (!p)
            throw new Error(`specialize: no probed shape for value ${name}`);
        g.valueInfo.set(name, { name, dtype: p.dtype, shape: [...p.dims] });
    }
    g.outputs = g.outputs.map((o) => {
        const p = probed.get(o.name);
        if (p)
            return { name: o.name, dtype: p.dtype, shape: [...p.dims] };
        const init = g.initializers.get(o.name);
        if (init)
            return { name: o.name, dtype: init.dtype, shape: [...init.dims] };
        const inp = g.inputs.find((i) => i.name === o.name);
        return inp ? { ...inp } : o;
    });
    return out;
}
function materializeSubgraphReads(g, folded, probed) {
    const foldedOutputs = new Set([...folded].flatMap((n) => n.outputs));
    const visit = (sub) => {
        for (const n of sub.nodes) {
            for (const i of n.inputs) {
                if (foldedOutputs.has(i) && !g.initializers.has(i)) {
                    const p = probed.get(i);
                    g.initializers.set(i, { name: i, dtype: p.dtype, dims: p.dims, data: p.data });
                }
            }
            for (const a of Object.values(n.attrs))
                if (a.kind === 'graph')
                    visit(a.value);
        }
    };
    for (const n of g.nodes)
        if (!folded.has(n))
            for (const a of Object.values(n.attrs))
                if (a.kind === 'graph')
                    visit(a.value);
}
// ---------------------------------------------------------------------------
// Cache: one specialised model per (model object, input shapes, kept outputs). Training
// re-specialises only when a batch of a new shape (e.g. the last, shorter batch) arrives.
const cache = new WeakMap();
function specializeCached(model, inputShapes, opts = {}) {
    let perModel = cache.get(model);
    if (!perModel)
        cache.set(model, (perModel = new Map()));
    const key = JSON.stringify([Object.entries(inputShapes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)), opts.keepOutputs ?? [], opts.maxFoldElements ?? null]);
    let hit = perModel.get(key);
    if (!hit) {
        hit = specialize(model, inputShapes, opts);
        perModel.set(key, hit);
        hit.catch(() => perModel.delete(key));
    }
    return hit;
}
//# sourceMappingURL=specialize.js.map