"use strict";
// A small typed graph IR for ONNX models. Everything in the backend (specialisation,
// autodiff, adapter injection, the training-step builder) works on this, never on the
// protobuf objects: `proto.ts` converts at the edges.
Object.defineProperty(exports, "__esModule", { value: true });
exports.GraphBuilder = exports.attr = void 0;
exports.getAttrInt = getAttrInt;
exports.getAttrFloat = getAttrFloat;
exports.getAttrInts = getAttrInts;
exports.getAttrString = getAttrString;
exports.tensorSize = tensorSize;
exports.floatTensor = floatTensor;
exports.int64Tensor = int64Tensor;
exports.tensorToNumbers = tensorToNumbers;
exports.emptyGraph = emptyGraph;
exports.defaultOpset = defaultOpset;
exports.producers = producers;
exports.consumers = consumers;
// ---------------------------------------------------------------------------
// Attribute constructors. JS cannot tell 1 from 1.0, so float attributes are explicit.
exports.attr = {
    f: (value) => ({ kind: 'float', value }),
    i: (value) => ({ kind: 'int', value }),
    s: (value) => ({ kind: 'string', value }),
    floats: (value) => ({ kind: 'floats', value }),
    ints: (value) => ({ kind: 'ints', value }),
    t: (value) => ({ kind: 'tensor', value }),
};
function getAttrInt(node, name, dflt) {
    const a = node.attrs[name];
    if (!a)
        return dflt;
    if (a.kind !== 'int')
        throw new Error(`node ${node.name} (${node.opType}): attribute ${name} is ${a.kind}, expected int`);
    return a.value;
}
function getAttrFloat(node, name, dflt) {
    const a = node.attrs[name];
    if (!a)
        return dflt;
    if (a.kind === 'float' || a.kind === 'int')
        return a.value;
    throw new Error(`node ${node.name} (${node.opType}): attribute ${name} is ${a.kind}, expected float`);
}
function getAttrInts(node, name) {
    const a = node.attrs[name];
    if (!a)
        return undefined;
    if (a.kind !== 'ints')
        throw new Error(`node ${node.name} (${node.opType}): attribute ${name} is ${a.kind}, expected ints`);
    return a.value;
}
function getAttrString(node, name, dflt) {
    const a = node.attrs[name];
    if (!a)
        return dflt;
    if (a.kind !== 'string')
        throw new Error(`node ${node.name} (${node.opType}): attribute ${name} is ${a.kind}, expected string`);
    return a.value;
}
// ---------------------------------------------------------------------------
// Tensors
function tensorSize(dims) {
    let n = 1;
    for (const d of dims)
        n *= d;
    return n;
}
function floatTensor(name, dims, data) {
    const arr = new Float32Array(tensorSize(dims));
    if (data)
        arr.set(data);
    return { name, dtype: 'float32', dims, data: arr };
}
function int64Tensor(name, dims, data) {
    const arr = new BigInt64Array(tensorSize(dims));
    for (let i = 0; i < arr.length; i++)
        arr[i] = BigInt(data[i]);
    return { name, dtype: 'int64', dims, data: arr };
}
/** Reads an integer tensor (int64/int32/...) as JS numbers, e.g. for shapes and axes. */
function tensorToNumbers(t) {
    const out = [];
    const d = t.data;
    for (let i = 0; i < d.length; i++)
        out.push(Number(d[i]));
    return out;
}
function emptyGraph(name = 'graph') {
    return { name, nodes: [], inputs: [], outputs: [], initializers: new Map(), valueInfo: new Map() };
}
/** The default-domain opset version of a model (17 when absent). */
function defaultOpset(model) {
    const imp = model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx');
    return imp ? imp.version : 17;
}
// ---------------------------------------------------------------------------
// Builder: emits nodes with unique names into a graph. Temporaries are prefixed by a scope
// (ORT's convention: the forward node's name), which keeps dumped graphs readable.
class GraphBuilder {
    graph;
    used = new Set();
    counter = 0;
    constructor(graph) {
        this.graph = graph;
        for (const n of graph.nodes) {
            this.used.add(n.name);
            for (const o of n.outputs)
                this.used.add(o);
        }
        for (const i of graph.inputs)
            this.used.add(i.name);
        for (const k of graph.initializers.keys())
            this.used.add(k);
    }
    /** A name not yet used in the graph, derived from `base`. */
    fresh(base) {
        let name = base;
        while (this.used.has(name))
            name = `${base}_${++this.counter}`;
        this.used.add(name);
        return name;
    }
    /** Appends a node; returns its output names (fresh names derived from `scope`/opType). */
    op(opType, inputs, attrs = {}, opts = {}) {
        const scope = opts.scope ?? opType;
        const name = this.fresh(`${scope}/${opType}`);
        const outs = Array.isArray(opts.outputs)
            ? opts.outputs.map((o) => { this.used.add(o); return o; })
            : Array.from({ length: opts.outputs ?? 1 }, (_, k) => this.fresh(`${name}_out${k}`));
        this.graph.nodes.push({ name, opType, domain: opts.domain ?? '', inputs, outputs: outs, attrs });
        return outs;
    }
    /** Single-output convenience. */
    op1(opType, inputs, attrs = {}, scope) {
        return this.op(opType, inputs, attrs, { scope })[0];
    }
    /** Adds a constant initializer and returns its name. */
    constant(t) {
        const name = this.fresh(t.name ?? 'const');
        this.graph.initializers.set(name, { ...t, name });
        return name;
    }
    constInt64(values, scalar = false, base = 'const_i64') {
        return this.constant({ name: base, dtype: 'int64', dims: scalar ? [] : [values.length], data: BigInt64Array.from(values.map(BigInt)) });
    }
    constFloat(values, base = 'const_f32', dims) {
        const arr = Array.isArray(values) ? values : [values];
        return this.constant({ name: base, dtype: 'float32', dims: dims ?? (Array.isArray(values) ? [arr.length] : []), data: Float32Array.from(arr) });
    }
}
exports.GraphBuilder = GraphBuilder;
/** Map from a value name to the node producing it. */
function producers(graph) {
    const m = new Map();
    for (const n of graph.nodes)
        for (const o of n.outputs)
            if (o)
                m.set(o, n);
    return m;
}
/** Map from a value name to the nodes consuming it. */
function consumers(graph) {
    const m = new Map();
    for (const n of graph.nodes) {
        for (const i of n.inputs) {
            if (!i)
                continue;
            let list = m.get(i);
            if (!list)
                m.set(i, (list = []));
            list.push(n);
        }
    }
    return m;
}
//# sourceMappingURL=ir.js.map