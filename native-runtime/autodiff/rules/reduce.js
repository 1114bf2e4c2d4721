"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.REDUCE_RULES = void 0;
exports.reduceAxes = reduceAxes;
const ir_1 = require("../../onnx/ir");
/** Reduced axes (normalised), from the `axes` input (ReduceSum >= 13, others >= 18) or attribute. */
function reduceAxes(c) {
    const rank = c.rank(c.I(0));
    const axesAsInput = c.node.opType === 'ReduceSum' ? c.opset >= 13 : c.opset >= 18;
    let axes;
    if (axesAsInput)
        axes = c.I(1) ? c.constInts(c.I(1), 'axes') : undefined;
    else
        axes = c.attrInts('axes');
    if (!axes || axes.length === 0) {
        if (c.attrInt('noop_with_empty_axes', 0) === 1)
            return [];
        return Array.from({ length: rank }, (_, k) => k);
    }
    return axes.map((a) => (a < 0 ? a + rank : a)).sort((x, y) => x - y);
}
/** The output gradient broadcast back over the input shape. */
function expandBack(c, g, axes) {
    const inShape = c.shape(c.I(0));
    const kept = inShape.map((d, k) => (axes.includes(k) ? 1 : d));
    return c.expand(c.reshape(g, kept), inShape);
}
/** Same for a forward output (e.g. the max), to compare it with the input. */
function expandOutput(c, axes) {
    return expandBack(c, c.O(0), axes);
}
exports.REDUCE_RULES = {
    ReduceSum: { rule: (c) => [expandBack(c, c.GO(0), reduceAxes(c))] },
    ReduceMean: {
        rule: (c) => {
            const axes = reduceAxes(c);
            const shape = c.shape(c.I(0));
            const count = axes.reduce((n, a) => n * shape[a], 1);
            return [expandBack(c, c.mul(c.GO(0), c.scalar(1 / count, c.O(0))), axes)];
        },
    },
    // d sum(x^2) = 2 x g.
    ReduceSumSquare: {
        rule: (c) => [c.mul(expandBack(c, c.GO(0), reduceAxes(c)), c.mul(c.I(0), c.scalar(2, c.I(0))))],
    },
    // d ||x||_2 = x / ||x||.
    ReduceL2: {
        rule: (c) => {
            const axes = reduceAxes(c);
            return [c.mul(expandBack(c, c.div(c.GO(0), c.O(0)), axes), c.I(0))];
        },
    },
    // d logsumexp(x) = softmax(x) = exp(x - lse).
    ReduceLogSumExp: {
        rule: (c) => {
            const axes = reduceAxes(c);
            const p = c.op('Exp', [c.sub(c.I(0), expandOutput(c, axes))]);
            return [c.mul(expandBack(c, c.GO(0), axes), p)];
        },
    },
    ReduceMax: { rule: (c) => [extremumGrad(c)] },
    ReduceMin: { rule: (c) => [extremumGrad(c)] },
    // CumSum: the gradient is the cumulative sum of g in the opposite direction.
    CumSum: {
        rule: (c) => [c.op('CumSum', [c.GO(0), c.I(1)], { exclusive: ir_1.attr.i(c.attrInt('exclusive', 0)), reverse: ir_1.attr.i(1 - c.attrInt('reverse', 0)) })],
    },
};
/** ReduceMax/Min: the gradient is shared equally by the elements that attain the extremum. */
function extremumGrad(c) {
    const axes = reduceAxes(c);
    const x = c.I(0);
    const hit = c.cast(c.op('Equal', [x, expandOutput(c, axes)]), c.dtype(x));
    const count = c.reduceSum(hit, axes, true);
    return c.mul(expandBack(c, c.GO(0), axes), c.div(hit, c.expand(count, c.shape(x))));
}
//# sourceMappingURL=reduce.js.map