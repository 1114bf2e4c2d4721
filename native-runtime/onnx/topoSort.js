"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.sortNodesTopologically = sortNodesTopologically;
/**
 * `nodes` reordered so that every node comes after the producers of its inputs. Names no node
 * produces (graph inputs, initializers, outer-scope values of a subgraph) count as available.
 * Nodes on a cycle (invalid anyway) keep their relative order at the end, for later checks to name.
 */
function sortNodesTopologically(nodes) {
    const producer = new Map();
    nodes.forEach((n, k) => { for (const o of n.outputs)
        if (o)
            producer.set(o, k); });
    const waitingOn = new Array(nodes.length).fill(0);
    const dependents = nodes.map(() => []);
    nodes.forEach((n, k) => {
        const deps = new Set();
        for (const i of n.inputs) {
            const p = i ? producer.get(i) : undefined;
            if (p !== undefined && p !== k)
                deps.add(p);
        }
        waitingOn[k] = deps.size;
        for (const p of deps)
            dependents[p].push(k);
    });
    if (isOrdered(nodes, producer))
        return nodes;
    // Ready nodes are taken in file order: a min-heap would do, but a sorted insert is enough for
    // the graphs this handles (one pass per node, ready lists stay short).
    const ready = [];
    waitingOn.forEach((w, k) => { if (w === 0)
        ready.push(k); });
    const out = [];
    const done = new Array(nodes.length).fill(false);
    while (ready.length) {
        const k = ready.shift();
        done[k] = true;
        out.push(nodes[k]);
        for (const d of dependents[k]) {
            if (--waitingOn[d] === 0)
                insertSorted(ready, d);
        }
    }
    nodes.forEach((n, k) => { if (!done[k])
        out.push(n); });
    return out;
}
/** True when every input a node produces comes from an earlier node (the common case: no copy). */
function isOrdered(nodes, producer) {
    return nodes.every((n, k) => n.inputs.every((i) => { const p = i ? producer.get(i) : undefined; return p === undefined || p < k; }));
}
function insertSorted(list, v) {
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    list.splice(lo, 0, v);
}
//# sourceMappingURL=topoSort.js.map