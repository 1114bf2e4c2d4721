"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.topoOrder = topoOrder;
exports.buildGradients = buildGradients;
exports.unbroadcast = unbroadcast;
exports.emitSumOfSquares = emitSumOfSquares;
const ir_1 = require("../onnx/ir");
const composites_1 = require("./composites");
const recompute_1 = require("./recompute");
const context_1 = require("./context");
const rules_1 = require("./rules");
const shapes_1 = require("./shapes");
/** Nodes in topological order (ONNX files normally list them so; this checks and repairs). */
function topoOrder(graph) {
    const producer = new Map();
    graph.nodes.forEach((n, k) => n.outputs.forEach((o) => o && producer.set(o, k)));
    const state = new Uint8Array(graph.nodes.length); // 0 new, 1 visiting, 2 done
    const order = [];
    // Iterative DFS keeps the original order when it is already topological.
    for (let root = 0; root < graph.nodes.length; root++) {
        if (state[root])
            continue;
        const stack = [[root, 0]];
        state[root] = 1;
        while (stack.length > 0) {
            const top = stack[stack.length - 1];
            const n = graph.nodes[top[0]];
            if (top[1] < n.inputs.length) {
                const p = producer.get(n.inputs[top[1]++]);
                if (p === undefined || state[p] === 2)
                    continue;
                if (state[p] === 1)
                    throw new Error(`autodiff: the graph has a cycle through node ${n.name} (${n.opType})`);
                state[p] = 1;
                stack.push([p, 0]);
            }
            else {
                state[top[0]] = 2;
                order.push(n);
                stack.pop();
            }
        }
    }
    return order;
}
function isFloat(graph, name) {
    const vi = (0, shapes_1.findValueInfo)(graph, name);
    return !!vi && shapes_1.FLOAT_DTYPES.has(vi.dtype);
}
function buildGradients(graph, loss, wrt, opts = {}) {
    const opset = opts.opset ?? 17;
    const lossShape = (0, shapes_1.valueShape)(graph, loss);
    const lossDtype = (0, shapes_1.valueDtype)(graph, loss);
    if (!shapes_1.FLOAT_DTYPES.has(lossDtype))
        throw new Error(`autodiff: loss ${loss} has dtype ${lossDtype}; expected a float scalar`);
    if (lossShape.reduce((a, d) => a * d, 1) !== 1)
        throw new Error(`autodiff: loss ${loss} has shape ${JSON.stringify(lossShape)}; expected a scalar (one element)`);
    for (const w of wrt) {
        const dt = (0, shapes_1.valueDtype)(graph, w);
        if (!shapes_1.FLOAT_DTYPES.has(dt))
            throw new Error(`autodiff: cannot differentiate with respect to ${w}: dtype ${dt} is not a float type`);
    }
    const order = topoOrder(graph);
    // Values that depend (differentiably) on some wrt tensor.
    const active = new Set(wrt);
    for (const n of order) {
        if (rules_1.NON_DIFFERENTIABLE.has(n.opType) && n.domain === '')
            continue;
        if (!n.inputs.some((i) => i && active.has(i)))
            continue;
        for (const o of n.outputs)
            if (o && isFloat(graph, o))
                active.add(o);
    }
    // Values on a path to the loss, and the nodes to differentiate.
    const needed = new Set();
    const onPath = [];
    const starts = opts.seeds ? [...opts.seeds.keys()].filter((v) => active.has(v)) : active.has(loss) ? [loss] : [];
    if (starts.length > 0) {
        for (const v of starts)
            needed.add(v);
        for (let k = order.length - 1; k >= 0; k--) {
            const n = order[k];
            if (!n.outputs.some((o) => o && needed.has(o) && active.has(o)))
                continue;
            onPath.push(n);
            for (const i of n.inputs)
                if (i && active.has(i))
                    needed.add(i);
        }
    }
    const forwardCount = graph.nodes.length;
    const b = new ir_1.GraphBuilder(graph);
    const contributions = new Map();
    const accumulated = new Map();
    const addContribution = (name, g) => {
        let list = contributions.get(name);
        if (!list)
            contributions.set(name, (list = []));
        list.push(g);
    };
    /** The total gradient of a value (summing fan-out once); undefined when none flows. */
    const gradOf = (name) => {
        if (accumulated.has(name))
            return accumulated.get(name);
        const list = contributions.get(name);
        let g;
        if (!list || list.length === 0)
            g = undefined;
        else if (list.length === 1)
            g = list[0];
        else
            g = b.op('Sum', list, {}, { scope: `${sanitize(name)}_grad_accum` })[0];
        if (g !== undefined)
            recordInfo(graph, g, name);
        accumulated.set(name, g);
        return g;
    };
    if (opts.seeds) {
        for (const v of starts)
            addContribution(v, opts.seeds.get(v));
    }
    else if (active.has(loss)) {
        const seed = b.constant({
            name: `${sanitize(loss)}_grad_seed`, dtype: 'float32', dims: lossShape, data: Float32Array.of(1),
        });
        addContribution(loss, lossDtype === 'float32' ? seed : b.op('Cast', [seed], { to: ir_1.attr.i(dtypeCode(lossDtype)) }, { scope: `${sanitize(loss)}_grad_seed` })[0]);
    }
    for (const n of (0, composites_1.withComposites)(graph, onPath)) {
        const spec = n.domain === '' ? rules_1.RULES[n.opType] : undefined;
        if (!spec)
            throw new Error(`autodiff: no gradient rule for op ${n.domain ? `${n.domain}.` : ''}${n.opType} at node ${n.name}; add one under native-runtime/autodiff/rules/ (see ARCHITECTURE.md) or freeze the weights that reach it`);
        const ctx = new context_1.GradContext(graph, b, n, opset, gradOf, (i) => needed.has(i) && active.has(i));
        const result = spec.rule(ctx);
        n.inputs.forEach((input, i) => {
            if (!input || !needed.has(input) || !active.has(input))
                return;
            const g = result[i];
            if (g === undefined)
                return;
            const target = (0, shapes_1.valueShape)(graph, input);
            const known = graph.valueInfo.get(g)?.shape;
            const gShape = known ?? (spec.broadcast ? (0, shapes_1.valueShape)(graph, n.outputs[0]) : target);
            addContribution(input, unbroadcast(b, g, gShape, target, opset, n));
        });
    }
    const result = new Map();
    for (const w of wrt) {
        let g = gradOf(w);
        if (g === undefined) {
            g = (0, context_1.zerosOfShape)(b, (0, shapes_1.valueShape)(graph, w), (0, shapes_1.valueDtype)(graph, w), `${sanitize(w)}_grad_zero`);
            recordInfo(graph, g, w);
        }
        result.set(w, g);
    }
    if (opts.recompute) {
        const recompute = (0, recompute_1.rematerialize)({ graph, forwardCount, forwardOrder: order, differentiated: [...onPath].reverse(), gradOf: (v) => accumulated.get(v) });
        if (opts.report)
            opts.report.recompute = recompute;
    }
    return result;
}
function sanitize(name) {
    return name.replace(/[^A-Za-z0-9_./:-]/g, '_');
}
function dtypeCode(d) {
    return { float32: 1, float16: 10, float64: 11, bfloat16: 16 }[d];
}
function recordInfo(graph, g, like) {
    if (graph.initializers.has(g) || graph.valueInfo.has(g))
        return;
    const vi = (0, shapes_1.findValueInfo)(graph, like);
    if (vi)
        graph.valueInfo.set(g, { name: g, dtype: vi.dtype, shape: vi.shape ? [...vi.shape] : undefined });
}
/**
 * Reduces a gradient of (broadcast) shape `from` to the input's shape `to`: sums over the
 * leading axes `to` lacks and over axes where `to` has 1, then reshapes.
 */
function unbroadcast(b, g, from, to, opset, node) {
    if ((0, shapes_1.sameShape)(from, to))
        return g;
    const lead = from.length - to.length;
    if (lead < 0)
        throw new Error(`autodiff: node ${node.name} (${node.opType}): gradient of shape ${JSON.stringify(from)} cannot be reduced to input shape ${JSON.stringify(to)}`);
    const axes = [];
    for (let k = 0; k < from.length; k++) {
        if (k < lead) {
            axes.push(k);
            continue;
        }
        const t = to[k - lead];
        if (t === from[k])
            continue;
        if (t !== 1)
            throw new Error(`autodiff: node ${node.name} (${node.opType}): gradient of shape ${JSON.stringify(from)} does not broadcast from input shape ${JSON.stringify(to)} (dim ${k})`);
        axes.push(k);
    }
    const scope = `${node.name}_grad`;
    // keepdims=1 leaves rank `from.length`; a Reshape drops the leading axes `to` lacks.
    const r = axes.length > 0 ? (0, context_1.emitReduceSum)(b, g, axes, true, opset, scope) : g;
    if (lead === 0)
        return r;
    return b.op('Reshape', [r, b.constInt64(to, false, `${scope}/shape`)], {}, { scope })[0];
}
/** Emits sum over all elements of x_i^2 for every tensor in `names` (a float scalar, shape []). */
function emitSumOfSquares(b, names, opts = {}) {
    if (names.length === 0)
        throw new Error('emitSumOfSquares: no tensors given');
    const scope = opts.scope ?? 'sum_of_squares';
    const parts = names.map((n) => b.op('ReduceSumSquare', [n], { keepdims: ir_1.attr.i(0) }, { scope })[0]);
    return parts.length === 1 ? parts[0] : b.op('Sum', parts, {}, { scope })[0];
}
//# sourceMappingURL=walker.js.map