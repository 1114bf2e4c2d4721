"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.INDEXING_RULES = void 0;
exports.gatherGrad = gatherGrad;
exports.slicePositions = slicePositions;
const ir_1 = require("../../onnx/ir");
/** Indices with negatives wrapped (Gather allows them; Scatter* in ORT do not all). */
function wrapIndices(c, indices, dim) {
    const t = c.constTensor(indices);
    if (t) {
        const vals = Array.from(t.data, (v) => Number(v));
        if (vals.every((v) => v >= 0))
            return indices;
    }
    const idx = c.dtype(indices) === 'int64' ? indices : c.cast(indices, 'int64');
    const neg = c.op('Less', [idx, c.ints([0], true)]);
    return c.op('Where', [neg, c.add(idx, c.ints([dim], true)), idx]);
}
/**
 * Gradient of Gather(data, indices, axis): scatter-add g into zeros of data's shape.
 * ScatterND adds along the leading axis, so move `axis` to the front and back again.
 */
function gatherGrad(c, g, indices, axis) {
    const dataShape = c.shape(c.I(0));
    const q = c.rank(indices);
    const r = dataShape.length;
    const rest = [...dataShape.slice(0, axis), ...dataShape.slice(axis + 1)];
    // g: data[:axis] + idx + data[axis+1:]  ->  idx + data[:axis] + data[axis+1:]
    const permG = [
        ...Array.from({ length: q }, (_, k) => axis + k),
        ...Array.from({ length: axis }, (_, k) => k),
        ...Array.from({ length: r - 1 - axis }, (_, k) => axis + q + k),
    ];
    const gT = axis === 0 ? g : c.transpose(g, permG);
    const zeros = c.zeros([dataShape[axis], ...rest], c.dtype(g));
    const idx = c.op('Unsqueeze', [wrapIndices(c, indices, dataShape[axis]), c.ints([-1])]);
    const scattered = c.op('ScatterND', [zeros, idx, gT], { reduction: ir_1.attr.s('add') });
    if (axis === 0)
        return scattered;
    // [data[axis]] + data[:axis] + data[axis+1:]  ->  data
    const back = [...Array.from({ length: axis }, (_, k) => k + 1), 0, ...Array.from({ length: r - 1 - axis }, (_, k) => axis + 1 + k)];
    return c.transpose(scattered, back);
}
// Slice: with unit steps the gradient is g padded back to the input's extent; other steps
// select an index list per axis, undone by scatter-adds (a strided Gather in reverse).
function sliceRule(c) {
    const inShape = c.shape(c.I(0));
    const rank = inShape.length;
    const starts = c.constInts(c.I(1), 'starts');
    const ends = c.constInts(c.I(2), 'ends');
    const axes = c.I(3) ? c.constInts(c.I(3), 'axes').map((a) => (a < 0 ? a + rank : a)) : starts.map((_, k) => k);
    const steps = c.I(4) ? c.constInts(c.I(4), 'steps') : starts.map(() => 1);
    const picks = axes.map((axis, k) => slicePositions(inShape[axis], starts[k], ends[k], steps[k]));
    if (steps.every((s) => s === 1)) {
        const pads = new Array(2 * rank).fill(0);
        axes.forEach((axis, k) => {
            const p = picks[k];
            pads[axis] = p.length > 0 ? p[0] : 0;
            pads[axis + rank] = inShape[axis] - pads[axis] - p.length;
        });
        return [c.op('Pad', [c.GO(0), c.ints(pads)], { mode: ir_1.attr.s('constant') })];
    }
    // General steps: undo one axis at a time (each step a Gather gradient along that axis).
    let g = c.GO(0);
    let shape = c.shape(c.O(0));
    for (let k = axes.length - 1; k >= 0; k--) {
        const axis = axes[k];
        const target = [...shape];
        target[axis] = inShape[axis];
        g = scatterAlongAxis(c, g, picks[k], axis, target);
        shape = target;
    }
    return [g];
}
/** Positions ONNX Slice selects on one axis (clamping rules of the spec). */
function slicePositions(dim, start, end, step) {
    if (step === 0)
        throw new Error('Slice: step 0 is invalid');
    const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
    let s = start < 0 ? start + dim : start;
    let e = end < 0 ? end + dim : end;
    if (step > 0) {
        s = clamp(s, 0, dim);
        e = clamp(e, 0, dim);
    }
    else {
        s = clamp(s, 0, dim - 1);
        e = clamp(e, -1, dim - 1);
    }
    const out = [];
    for (let i = s; step > 0 ? i < e : i > e; i += step)
        out.push(i);
    return out;
}
/** Puts g (shape `from`, holding positions `pos` of `axis`) into zeros of shape `to`. */
function scatterAlongAxis(c, g, pos, axis, to) {
    const rank = to.length;
    const perm = [axis, ...Array.from({ length: rank }, (_, k) => k).filter((k) => k !== axis)];
    const inv = new Array(rank);
    perm.forEach((p, k) => { inv[p] = k; });
    const gT = axis === 0 ? g : c.transpose(g, perm);
    const zeros = c.zeros(perm.map((p) => to[p]), c.dtype(c.O(0)));
    const idx = c.reshape(c.ints(pos), [pos.length, 1]);
    const out = c.op('ScatterND', [zeros, idx, gT], { reduction: ir_1.attr.s('add') });
    return axis === 0 ? out : c.transpose(out, inv);
}
/** GatherND-style index tuples (last axis) with negatives wrapped per component. */
function wrapTuples(c, indices, dataShape) {
    const t = c.constTensor(indices);
    if (t && Array.from(t.data).every((v) => Number(v) >= 0))
        return indices;
    const k = c.shape(indices).at(-1);
    const neg = c.op('Less', [indices, c.ints([0], true)]);
    return c.op('Where', [neg, c.add(indices, c.ints(dataShape.slice(0, k))), indices]);
}
function scatterReduction(c) {
    const r = c.attrString('reduction', 'none');
    if (r !== 'none' && r !== 'add')
        c.fail(`reduction="${r}" has no gradient rule (only none and add)`);
    return r;
}
exports.INDEXING_RULES = {
    GatherND: {
        rule: (c) => {
            if (c.attrInt('batch_dims', 0) !== 0)
                c.fail('batch_dims > 0 has no gradient rule');
            const shape = c.shape(c.I(0));
            const idx = wrapTuples(c, c.I(1), shape);
            return [c.op('ScatterND', [c.zeros(shape, c.dtype(c.I(0))), idx, c.GO(0)], { reduction: ir_1.attr.s('add') }), undefined];
        },
    },
    // ScatterND: overwritten positions of data get no gradient; updates read g there.
    ScatterND: {
        rule: (c) => {
            const add = scatterReduction(c) === 'add';
            const gData = !c.needs(0) ? undefined : add ? c.GO(0)
                : c.op('ScatterND', [c.GO(0), c.I(1), c.zeros(c.shape(c.I(2)), c.dtype(c.I(2)))]);
            const gUpd = c.needs(2) ? c.op('GatherND', [c.GO(0), c.I(1)]) : undefined;
            return [gData, undefined, gUpd];
        },
    },
    ScatterElements: {
        rule: (c) => {
            const add = scatterReduction(c) === 'add';
            const axis = ir_1.attr.i(c.attrInt('axis', 0));
            const gData = !c.needs(0) ? undefined : add ? c.GO(0)
                : c.op('ScatterElements', [c.GO(0), c.I(1), c.zeros(c.shape(c.I(2)), c.dtype(c.I(2)))], { axis });
            const gUpd = c.needs(2) ? c.op('GatherElements', [c.GO(0), c.I(1)], { axis }) : undefined;
            return [gData, undefined, gUpd];
        },
    },
    Gather: {
        rule: (c) => {
            const rank = c.rank(c.I(0));
            const a = c.attrInt('axis', 0);
            return [gatherGrad(c, c.GO(0), c.I(1), a < 0 ? a + rank : a), undefined];
        },
    },
    GatherElements: {
        rule: (c) => {
            const rank = c.rank(c.I(0));
            const a = c.attrInt('axis', 0);
            const axis = a < 0 ? a + rank : a;
            const zeros = c.zeros(c.shape(c.I(0)), c.dtype(c.GO(0)));
            const idx = wrapIndices(c, c.I(1), c.shape(c.I(0))[axis]);
            return [c.op('ScatterElements', [zeros, idx, c.GO(0)], { axis: ir_1.attr.i(axis), reduction: ir_1.attr.s('add') }), undefined];
        },
    },
    Slice: { rule: sliceRule },
    // Where broadcasts its three inputs; the walker reduces each branch's gradient.
    Where: {
        broadcast: true,
        rule: (c) => [
            undefined,
            c.needs(1) ? c.maskOr0(c.I(0), c.GO(0)) : undefined,
            c.needs(2) ? c.op('Where', [c.I(0), c.scalar(0, c.GO(0)), c.GO(0)]) : undefined,
        ],
    },
    // Trilu keeps a triangle: the gradient keeps the same triangle of g.
    Trilu: { rule: (c) => [c.op('Trilu', c.I(1) ? [c.GO(0), c.I(1)] : [c.GO(0)], { upper: ir_1.attr.i(c.attrInt('upper', 1)) }), undefined] },
};
//# sourceMappingURL=indexing.js.map