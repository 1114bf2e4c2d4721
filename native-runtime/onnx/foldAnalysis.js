"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.analyzeStatic = analyzeStatic;
const ir_1 = require("./ir");
/** Ops whose output depends only on the input's shape, not its data. */
const SHAPE_ONLY_OPS = new Set(['Shape', 'Size']);
/** Ops that must never be folded even when their inputs are constant. */
const NONDETERMINISTIC_OPS = new Set([
    'RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli', 'Dropout',
]);
const FLOAT_TYPES = new Set(['float32', 'float64', 'float16', 'bfloat16']);
function hasSubgraph(n) {
    return Object.values(n.attrs).some((a) => a.kind === 'graph');
}
function analyzeStatic(graph) {
    const isStatic = new Set();
    const touchesWeight = new Set();
    for (const [name, t] of graph.initializers) {
        isStatic.add(name);
        if (FLOAT_TYPES.has(t.dtype) && (0, ir_1.tensorSize)(t.dims) > 1)
            touchesWeight.add(name);
    }
    for (const n of graph.nodes) {
        if (n.domain !== '' || NONDETERMINISTIC_OPS.has(n.opType) || hasSubgraph(n))
            continue;
        const present = n.inputs.filter((i) => i !== '');
        let stat;
        let weight = false;
        if (SHAPE_ONLY_OPS.has(n.opType)) {
            stat = true;
        }
        else {
            stat = present.every((i) => isStatic.has(i));
            weight = present.some((i) => touchesWeight.has(i));
        }
        if (!stat)
            continue;
        for (const o of n.outputs) {
            if (!o)
                continue;
            isStatic.add(o);
            if (weight)
                touchesWeight.add(o);
        }
    }
    return { isStatic, touchesWeight };
}
//# sourceMappingURL=foldAnalysis.js.map