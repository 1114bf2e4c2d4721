"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.liveMemory = liveMemory;
const proto_1 = require("../onnx/proto");
function liveMemory(g) {
    const lastUse = new Map();
    g.nodes.forEach((n, k) => n.inputs.forEach((i) => i && lastUse.set(i, k)));
    const outputs = new Set(g.outputs.map((o) => o.name));
    const size = (name) => {
        const vi = g.valueInfo.get(name);
        if (!vi?.shape)
            return 0;
        return vi.shape.reduce((a, d) => a * (typeof d === 'number' ? d : 0), 1) * (0, proto_1.bytesPerElement)(vi.dtype);
    };
    const live = new Map();
    const freeAt = new Map();
    let cur = 0, peak = 0, peakAt = 0;
    let peakSet = [];
    g.nodes.forEach((n, k) => {
        for (const o of n.outputs) {
            if (!o || outputs.has(o))
                continue;
            const b = size(o);
            live.set(o, { bytes: b, op: n.opType, name: o });
            cur += b;
            const end = lastUse.get(o) ?? k;
            freeAt.set(end, [...(freeAt.get(end) ?? []), o]);
        }
        if (cur > peak) {
            peak = cur;
            peakAt = k;
            peakSet = [...live.values()];
        }
        for (const o of freeAt.get(k) ?? []) {
            cur -= live.get(o)?.bytes ?? 0;
            live.delete(o);
        }
    });
    const groups = new Map();
    for (const v of peakSet) {
        const e = groups.get(v.op) ?? { bytes: 0, count: 0 };
        e.bytes += v.bytes;
        e.count++;
        groups.set(v.op, e);
    }
    const values = [...peakSet].sort((a, b) => b.bytes - a.bytes);
    return { values, peakBytes: peak, peakAtNode: peakAt, byProducer: [...groups].map(([op, e]) => ({ op, ...e })).sort((a, b) => b.bytes - a.bytes) };
}
//# sourceMappingURL=liveMemory.js.map