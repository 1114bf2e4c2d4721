"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.findGeluComposites = findGeluComposites;
exports.withComposites = withComposites;
const ir_1 = require("../onnx/ir");
function scalarValue(graph, name) {
    const t = graph.initializers.get(name);
    if (!t || t.dims.reduce((a, b) => a * b, 1) !== 1)
        return undefined;
    if (t.dtype !== 'float32' && t.dtype !== 'float64')
        return undefined;
    return Number(t.data[0]);
}
const near = (v, want) => v !== undefined && Math.abs(v - want) <= 1e-6 * Math.abs(want);
/** For a binary node, the non-constant operand when the other is the scalar `want`. */
function otherThanScalar(graph, n, want) {
    if (n.inputs.length !== 2)
        return undefined;
    if (near(scalarValue(graph, n.inputs[1]), want))
        return n.inputs[0];
    if (near(scalarValue(graph, n.inputs[0]), want))
        return n.inputs[1];
    return undefined;
}
function findGeluComposites(graph) {
    const users = (0, ir_1.consumers)(graph);
    const outputs = new Set(graph.outputs.map((o) => o.name));
    const only = (value, user) => !outputs.has(value) && (users.get(value) ?? []).length === 1 && users.get(value)[0] === user;
    const found = [];
    for (const erf of graph.nodes) {
        if (erf.opType !== 'Erf' || erf.domain !== '')
            continue;
        // u = x / sqrt(2) or x * (1 / sqrt(2))
        const divNode = graph.nodes.find((n) => n.outputs[0] === erf.inputs[0]);
        if (!divNode || divNode.domain !== '' || !only(erf.inputs[0], erf))
            continue;
        const x = divNode.opType === 'Div' && near(scalarValue(graph, divNode.inputs[1]), Math.SQRT2) ? divNode.inputs[0]
            : divNode.opType === 'Mul' ? otherThanScalar(graph, divNode, Math.SQRT1_2) : undefined;
        if (!x)
            continue;
        // a = e + 1
        const addNode = (users.get(erf.outputs[0]) ?? [])[0];
        if (!addNode || addNode.opType !== 'Add' || !only(erf.outputs[0], addNode) || otherThanScalar(graph, addNode, 1) !== erf.outputs[0])
            continue;
        const a = addNode.outputs[0];
        const first = (users.get(a) ?? [])[0];
        if (!first || first.opType !== 'Mul' || !only(a, first))
            continue;
        let last;
        let half;
        if (first.inputs.includes(x) && first.inputs.includes(a)) {
            // (x * a) * 0.5
            last = (users.get(first.outputs[0]) ?? [])[0];
            if (!last || last.opType !== 'Mul' || !only(first.outputs[0], last) || otherThanScalar(graph, last, 0.5) !== first.outputs[0])
                continue;
        }
        else {
            // (x * 0.5) * a
            const h = first.inputs.find((i) => i !== a);
            half = graph.nodes.find((n) => n.outputs[0] === h);
            if (!h || !half || half.opType !== 'Mul' || !only(h, first) || otherThanScalar(graph, half, 0.5) !== x)
                continue;
            last = first;
        }
        const members = [divNode, erf, addNode, first, ...(half ? [half] : []), ...(last !== first ? [last] : [])];
        if (members.some((m) => m.domain !== ''))
            continue;
        found.push({
            node: { name: `${last.name}/gelu`, opType: 'Gelu', domain: '', inputs: [x], outputs: [last.outputs[0]], attrs: {} },
            members,
        });
    }
    return found;
}
/**
 * `onPath` (nodes to differentiate, reverse topological order) with each complete composite's
 * members replaced by its stand-in, placed where its last member was.
 */
function withComposites(graph, onPath) {
    const composites = findGeluComposites(graph);
    if (composites.length === 0)
        return onPath;
    const present = new Set(onPath);
    const byLast = new Map();
    const drop = new Set();
    for (const c of composites) {
        // Every member must be on the path: otherwise some gradient would need an intermediate.
        if (!c.members.every((m) => present.has(m)))
            continue;
        const last = c.members.find((m) => m.outputs[0] === c.node.outputs[0]);
        byLast.set(last, c);
        for (const m of c.members)
            drop.add(m);
    }
    const out = [];
    for (const n of onPath) {
        const c = byLast.get(n);
        if (c)
            out.push(c.node);
        else if (!drop.has(n))
            out.push(n);
    }
    return out;
}
//# sourceMappingURL=composites.js.map