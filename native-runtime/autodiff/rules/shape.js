"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.SHAPE_RULES = void 0;
const ir_1 = require("../../onnx/ir");
const shapes_1 = require("../shapes");
/** Gradient of a pure re-view of the data: reshape g to the input's shape. */
const reshapeBack = { rule: (c) => [c.reshape(c.GO(0), c.shape(c.I(0)))] };
function concatRule(c) {
    const rank = c.rank(c.O(0));
    const a = c.attrInt('axis', 0);
    const axis = a < 0 ? a + rank : a;
    const sizes = c.node.inputs.map((x) => c.shape(x)[axis]);
    const parts = c.opset >= 13
        ? c.opN('Split', [c.GO(0), c.ints(sizes)], { axis: ir_1.attr.i(axis) }, sizes.length)
        : c.opN('Split', [c.GO(0)], { axis: ir_1.attr.i(axis), split: ir_1.attr.ints(sizes) }, sizes.length);
    return parts;
}
function splitRule(c) {
    const rank = c.rank(c.I(0));
    const a = c.attrInt('axis', 0);
    const axis = a < 0 ? a + rank : a;
    const grads = c.node.outputs.map((_, i) => c.GO(i));
    return [grads.length === 1 ? grads[0] : c.op('Concat', grads, { axis: ir_1.attr.i(axis) })];
}
function transposeRule(c) {
    const rank = c.rank(c.I(0));
    const perm = c.attrInts('perm') ?? Array.from({ length: rank }, (_, k) => rank - 1 - k);
    const inverse = new Array(rank);
    perm.forEach((p, k) => { inverse[p] = k; });
    return [c.transpose(c.GO(0), inverse)];
}
// Tile: output dim k is repeats[k] copies of input dim k. View g as [r0, d0, r1, d1, ...]
// and sum the repeat axes.
function tileRule(c) {
    const inShape = c.shape(c.I(0));
    const reps = c.constInts(c.I(1), 'repeats');
    const split = inShape.flatMap((d, k) => [reps[k], d]);
    const summed = c.reduceSum(c.reshape(c.GO(0), split), inShape.map((_, k) => 2 * k), false);
    return [c.reshape(summed, inShape), undefined];
}
// Pad (constant mode): the gradient is the un-padded window of g.
function padRule(c) {
    const mode = c.attrString('mode', 'constant');
    if (mode !== 'constant')
        c.fail(`mode="${mode}" has no gradient rule (only constant padding)`);
    const inShape = c.shape(c.I(0));
    const rank = inShape.length;
    let pads = c.opset >= 11 ? c.constInts(c.I(1), 'pads') : c.attrInts('pads') ?? [];
    if (c.opset >= 18 && c.I(3)) {
        // Pads given only for some axes.
        const axes = c.constInts(c.I(3), 'axes').map((x) => (x < 0 ? x + rank : x));
        const full = new Array(2 * rank).fill(0);
        axes.forEach((ax, k) => { full[ax] = pads[k]; full[ax + rank] = pads[k + axes.length]; });
        pads = full;
    }
    if (pads.some((p) => p < 0))
        c.fail('negative pads (cropping) have no gradient rule');
    const starts = pads.slice(0, rank);
    const ends = starts.map((s, k) => s + inShape[k]);
    const axesAll = inShape.map((_, k) => k);
    return [c.op('Slice', [c.GO(0), c.ints(starts), c.ints(ends), c.ints(axesAll)])];
}
exports.SHAPE_RULES = {
    Reshape: reshapeBack,
    Flatten: reshapeBack,
    Squeeze: reshapeBack,
    Unsqueeze: reshapeBack,
    Transpose: { rule: transposeRule },
    Concat: { rule: concatRule },
    Split: { rule: splitRule },
    // Expand broadcasts: the walker sums the gradient back to the input's shape.
    Expand: { broadcast: true, rule: (c) => [c.GO(0), undefined] },
    Tile: { rule: tileRule },
    Pad: { rule: padRule },
    // Cast between float types casts the gradient back; from integers no gradient flows.
    Cast: {
        rule: (c) => {
            const from = c.dtype(c.I(0));
            if (!shapes_1.FLOAT_DTYPES.has(from))
                return [undefined];
            return [from === c.dtype(c.O(0)) ? c.GO(0) : c.cast(c.GO(0), from)];
        },
    },
};
//# sourceMappingURL=shape.js.map