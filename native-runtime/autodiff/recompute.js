"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.findCuts = findCuts;
exports.rematerialize = rematerialize;
const ir_1 = require("../onnx/ir");
const shapes_1 = require("./shapes");
/** Ops whose repetition would not reproduce the forward values. */
const NONDETERMINISTIC = new Set(['RandomNormal', 'RandomNormalLike', 'RandomUniform', 'RandomUniformLike', 'Multinomial', 'Bernoulli', 'Dropout']);
/** Cut values over `nodes` (forward order): values that are the only open differentiated value right after their producer. */
function findCuts(nodes) {
    const onPath = new Set(nodes);
    const readers = new Map();
    for (const n of nodes)
        for (const i of n.inputs)
            if (i)
                readers.set(i, (readers.get(i) ?? 0) + 1);
    const producedHere = new Set();
    for (const n of nodes)
        for (const o of n.outputs)
            if (o)
                producedHere.add(o);
    const remaining = new Map();
    const cuts = [];
    for (const n of nodes) {
        if (!onPath.has(n))
            continue;
        for (const i of n.inputs) {
            const left = remaining.get(i);
            if (left === undefined)
                continue;
            if (left <= 1)
                remaining.delete(i);
            else
                remaining.set(i, left - 1);
        }
        for (const o of n.outputs)
            if (o && producedHere.has(o) && (readers.get(o) ?? 0) > 0)
                remaining.set(o, readers.get(o));
        if (remaining.size === 1) {
            const [only] = remaining.keys();
            if (n.outputs.includes(only))
                cuts.push(only);
        }
    }
    return cuts;
}
function rematerialize(input) {
    const { graph, forwardCount, forwardOrder, differentiated, gradOf } = input;
    const cuts = findCuts(differentiated);
    const report = { segments: 0, clonedNodes: 0, cuts };
    if (cuts.length === 0)
        return report;
    // Segment of each forward node: k = number of cuts produced before it (its exit is cuts[k]).
    // Nodes that are not differentiated count too (e.g. IsNaN of attention probabilities, whose
    // boolean output the backward pass of Where reads): recomputed when they read the segment.
    const cutIndex = new Map(cuts.map((c, k) => [c, k]));
    const segmentOf = new Map(); // value -> segment that produced it
    const producer = new Map();
    const differentiatedValues = new Set();
    for (const n of differentiated)
        for (const o of n.outputs)
            if (o)
                differentiatedValues.add(o);
    let seg = 0;
    for (const n of forwardOrder) {
        for (const o of n.outputs)
            if (o) {
                segmentOf.set(o, seg);
                producer.set(o, n);
            }
        const cut = n.outputs.find((o) => cutIndex.has(o));
        if (cut !== undefined)
            seg = cutIndex.get(cut) + 1;
    }
    report.segments = cuts.length + 1;
    const blocked = new Set();
    for (const n of forwardOrder) {
        const s = segmentOf.get(n.outputs[0]);
        if (s === undefined)
            continue;
        if (NONDETERMINISTIC.has(n.opType) || Object.values(n.attrs).some((a) => a.kind === 'graph'))
            blocked.add(s);
    }
    const forwardProduced = new Set();
    for (let k = 0; k < forwardCount; k++)
        for (const o of graph.nodes[k].outputs)
            if (o)
                forwardProduced.add(o);
    const isFloat = (v) => { const vi = (0, shapes_1.findValueInfo)(graph, v); return !!vi && shapes_1.FLOAT_DTYPES.has(vi.dtype); };
    // Values the backward pass reads that a recomputable segment produced (its exit cut excepted).
    const later = graph.nodes.slice(forwardCount);
    const wanted = new Map();
    for (const n of later) {
        for (const i of n.inputs) {
            const s = i ? segmentOf.get(i) : undefined;
            if (s === undefined || s >= cuts.length || blocked.has(s) || cuts[s] === i)
                continue;
            let set = wanted.get(s);
            if (!set)
                wanted.set(s, (set = new Set()));
            set.add(i);
        }
    }
    const b = new ir_1.GraphBuilder(graph);
    const cloneOf = new Map();
    const inserts = new Map(); // first reader -> nodes to list before it
    for (const [s, values] of wanted) {
        const exitGrad = gradOf(cuts[s]);
        if (!exitGrad)
            continue;
        const entry = s > 0 ? cuts[s - 1] : undefined;
        const emitted = [];
        const gated = new Map();
        // The gate: zero, computed from the exit's gradient.
        let zero;
        const gate = (v) => {
            let g = gated.get(v);
            if (g)
                return g;
            if (!zero) {
                const size = (0, shapes_1.valueShape)(graph, exitGrad).reduce((a, d) => a * d, 1);
                const flat = push(emitted, b, 'Reshape', [exitGrad, b.constInt64([size], false, `recompute/s${s}/flat`)], `recompute/s${s}`);
                const one = push(emitted, b, 'Gather', [flat, b.constInt64([0], true, `recompute/s${s}/first`)], `recompute/s${s}`);
                const no = b.constant({ name: `recompute/s${s}/never`, dtype: 'bool', dims: [], data: Uint8Array.of(0) });
                zero = push(emitted, b, 'Where', [no, one, b.constFloat(0, `recompute/s${s}/zero`)], `recompute/s${s}`);
                setInfo(graph, zero, []);
            }
            g = push(emitted, b, 'Add', [v, zero], `recompute/s${s}`);
            setInfo(graph, g, (0, shapes_1.valueShape)(graph, v));
            gated.set(v, g);
            return g;
        };
        // Which in-segment values can be recomputed behind the gate (they depend on a gated input).
        const memo = new Map();
        const gatedInput = (v) => {
            if (entry !== undefined)
                return v === entry;
            // Before the first cut: the activations coming from the part that is not differentiated.
            return forwardProduced.has(v) && !differentiatedValues.has(v) && isFloat(v);
        };
        const recomputable = (v) => {
            const known = memo.get(v);
            if (known !== undefined)
                return known;
            memo.set(v, false);
            const n = producer.get(v);
            const ok = !!n && segmentOf.get(v) === s && n.inputs.some((i) => i && (gatedInput(i) || recomputable(i)));
            memo.set(v, ok);
            return ok;
        };
        const toClone = new Set();
        const visit = (v) => {
            if (!recomputable(v))
                return;
            const n = producer.get(v);
            if (toClone.has(n))
                return;
            toClone.add(n);
            for (const i of n.inputs)
                if (i && segmentOf.get(i) === s && !gatedInput(i))
                    visit(i);
        };
        for (const v of values)
            visit(v);
        if (toClone.size === 0)
            continue;
        const mapInput = (i) => {
            if (!i)
                return i;
            if (cloneOf.has(i))
                return cloneOf.get(i);
            if (gatedInput(i))
                return gate(i);
            return i;
        };
        for (const n of forwardOrder) {
            if (!toClone.has(n))
                continue;
            const outs = n.outputs.map((o) => {
                if (!o)
                    return o;
                const c = b.fresh(`${o}/recompute`);
                cloneOf.set(o, c);
                const vi = graph.valueInfo.get(o);
                if (vi)
                    graph.valueInfo.set(c, { ...vi, name: c });
                return c;
            });
            emitted.push({ name: b.fresh(`${n.name}/recompute`), opType: n.opType, domain: n.domain, inputs: n.inputs.map(mapInput), outputs: outs, attrs: n.attrs });
            report.clonedNodes++;
        }
        // Listed before the first later node that reads one of them.
        const first = later.find((n) => n.inputs.some((i) => values.has(i) && cloneOf.has(i)));
        if (first)
            inserts.set(first, [...(inserts.get(first) ?? []), ...emitted]);
    }
    // GraphBuilder appended the gate nodes and constants; the clones were kept aside. Take the
    // appended gate nodes out again (they are in `emitted`) and rebuild the list in order.
    const placed = new Set();
    for (const list of inserts.values())
        for (const n of list)
            placed.add(n);
    const rest = graph.nodes.filter((n) => !placed.has(n));
    const nodes = [];
    for (let k = 0; k < rest.length; k++) {
        const n = rest[k];
        if (k >= forwardCount) {
            const before = inserts.get(n);
            if (before)
                nodes.push(...before);
            n.inputs = n.inputs.map((i) => (i && cloneOf.has(i) ? cloneOf.get(i) : i));
        }
        nodes.push(n);
    }
    graph.nodes = nodes;
    return report;
}
/** Emits a one-output node through the builder (which appends it) and records it in `list`. */
function push(list, b, opType, inputs, scope) {
    const [out] = b.op(opType, inputs, {}, { scope });
    list.push(b.graph.nodes[b.graph.nodes.length - 1]);
    return out;
}
function setInfo(graph, name, shape) {
    graph.valueInfo.set(name, { name, dtype: 'float32', shape });
}
//# sourceMappingURL=recompute.js.map