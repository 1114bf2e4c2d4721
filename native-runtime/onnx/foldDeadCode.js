"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.nodeReads = nodeReads;
exports.removeDeadCode = removeDeadCode;
/** Names a node reads, including outer-scope names read inside its subgraphs (If/Loop/Scan). */
function nodeReads(n) {
    const out = n.inputs.filter((i) => i !== '');
    for (const a of Object.values(n.attrs)) {
        if (a.kind !== 'graph')
            continue;
        for (const sn of a.value.nodes)
            out.push(...nodeReads(sn));
    }
    return out;
}
function removeDeadCode(graph, keep = []) {
    const live = new Set([...graph.outputs.map((o) => o.name), ...keep]);
    const kept = [];
    for (let k = graph.nodes.length - 1; k >= 0; k--) {
        const n = graph.nodes[k];
        if (!n.outputs.some((o) => o && live.has(o)))
            continue;
        kept.push(n);
        for (const i of nodeReads(n))
            live.add(i);
    }
    kept.reverse();
    graph.nodes = kept;
    for (const name of [...graph.initializers.keys()])
        if (!live.has(name))
            graph.initializers.delete(name);
    const produced = new Set(kept.flatMap((n) => n.outputs));
    for (const name of [...graph.valueInfo.keys()])
        if (!produced.has(name))
            graph.valueInfo.delete(name);
}
//# sourceMappingURL=foldDeadCode.js.map