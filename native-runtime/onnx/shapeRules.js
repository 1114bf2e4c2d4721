"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.SHAPE_RULES = exports.RuleInput = void 0;
const ir_1 = require("./ir");
const proto_1 = require("./proto");
const shapeData_1 = require("./shapeData");
class RuleInput {
    node;
    ins;
    opset;
    constructor(node, ins, opset) {
        this.node = node;
        this.ins = ins;
        this.opset = opset;
    }
    has(i) {
        return i < this.node.inputs.length && this.node.inputs[i] !== '';
    }
    get count() {
        return this.node.inputs.length;
    }
    known(i) {
        const k = this.ins[i];
        if (!k)
            throw new Error('shape rule read an unknown input'); // the walker guarantees known inputs
        return k;
    }
    dims(i) {
        return this.known(i).dims;
    }
    dtype(i) {
        return this.known(i).dtype;
    }
    tensor(i) {
        const k = this.ins[i];
        return k?.data ? { dims: k.dims, data: k.data } : undefined;
    }
    /** The values of input i as numbers (axes, shapes, pads), or undefined when unknown. */
    ints(i) {
        return this.ins[i]?.data?.map(Number);
    }
    int(name, dflt) {
        return (0, ir_1.getAttrInt)(this.node, name, dflt);
    }
    attrInts(name) {
        return (0, ir_1.getAttrInts)(this.node, name);
    }
}
exports.RuleInput = RuleInput;
const norm = (axis, rank) => (axis < 0 ? axis + rank : axis);
const same = (c, dtype) => [{ dtype: dtype ?? c.dtype(0), dims: [...c.dims(0)] }];
function fromTensor(dtype, t, dims) {
    return t ? { dtype, dims: dims ?? t.dims, data: t.data } : { dtype, dims: dims ?? [] };
}
// ---------------------------------------------------------------------------
// Elementwise
const BOOL_RESULT = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Not', 'IsNaN', 'IsInf']);
const B = (x) => (x ? 1n : 0n);
const INT_OPS = {
    Add: ([a, b]) => a + b,
    Sub: ([a, b]) => a - b,
    Mul: ([a, b]) => a * b,
    Div: ([a, b]) => (b === 0n ? 0n : a / b), // C++ integer division truncates toward zero, as BigInt does
    Mod: ([a, b]) => {
        if (b === 0n)
            return 0n;
        const r = a % b;
        return r !== 0n && (r < 0n) !== (b < 0n) ? r + b : r;
    },
    Max: (xs) => xs.reduce((m, x) => (x > m ? x : m)),
    Min: (xs) => xs.reduce((m, x) => (x < m ? x : m)),
    Sum: (xs) => xs.reduce((s, x) => s + x, 0n),
    Neg: ([a]) => -a,
    Abs: ([a]) => (a < 0n ? -a : a),
    Identity: ([a]) => a,
    Equal: ([a, b]) => B(a === b),
    Less: ([a, b]) => B(a < b),
    Greater: ([a, b]) => B(a > b),
    LessOrEqual: ([a, b]) => B(a <= b),
    GreaterOrEqual: ([a, b]) => B(a >= b),
    And: ([a, b]) => B(a !== 0n && b !== 0n),
    Or: ([a, b]) => B(a !== 0n || b !== 0n),
    Xor: ([a, b]) => B((a !== 0n) !== (b !== 0n)),
    Not: ([a]) => B(a === 0n),
    Where: ([c, x, y]) => (c !== 0n ? x : y),
};
const elementwiseRule = (c) => {
    const n = c.count;
    const present = Array.from({ length: n }, (_, i) => i).filter((i) => c.has(i));
    const op = c.node.opType;
    // Clip's min/max and Dropout's ratio/training_mode are scalars that do not shape the output.
    const shaping = op === 'Clip' || op === 'Dropout' ? [0] : present;
    const dims = (0, shapeData_1.broadcastDims)(shaping.map((i) => c.dims(i)));
    if (!dims)
        return undefined;
    const dtype = BOOL_RESULT.has(op) ? 'bool' : op === 'Where' ? c.dtype(1) : c.dtype(0);
    const f = INT_OPS[op];
    const ts = shaping.map((i) => c.tensor(i));
    const data = f && ts.every((t) => t) ? (0, shapeData_1.elementwise)(ts, f)?.data : undefined;
    const outs = [{ dtype, dims, data }];
    if (op === 'Dropout')
        outs.push({ dtype: 'bool', dims: [...dims] });
    return outs;
};
const castRule = (c) => {
    const to = (0, proto_1.dtypeFromOnnx)(c.int('to', 0));
    const t = c.tensor(0);
    let data;
    if (t) {
        if (to === 'bool')
            data = t.data.map((v) => B(v !== 0n));
        else if (to === 'int64')
            data = t.data.map((v) => BigInt.asIntN(64, v));
        else if (to === 'int32')
            data = t.data.map((v) => BigInt.asIntN(32, v));
    }
    return [{ dtype: to, dims: [...c.dims(0)], data }];
};
// ---------------------------------------------------------------------------
// Linear algebra
const matmulRule = (c) => {
    const a = c.dims(0), b = c.dims(1);
    if (a.length === 0 || b.length === 0)
        return undefined;
    const a2 = a.length === 1 ? [1, a[0]] : a;
    const b2 = b.length === 1 ? [b[0], 1] : b;
    if (a2[a2.length - 1] !== b2[b2.length - 2])
        return undefined;
    const batch = (0, shapeData_1.broadcastDims)([a2.slice(0, -2), b2.slice(0, -2)]);
    if (!batch)
        return undefined;
    const dims = [...batch];
    if (a.length > 1)
        dims.push(a2[a2.length - 2]);
    if (b.length > 1)
        dims.push(b2[b2.length - 1]);
    return [{ dtype: c.dtype(0), dims }];
};
const gemmRule = (c) => {
    const a = c.dims(0), b = c.dims(1);
    if (a.length !== 2 || b.length !== 2)
        return undefined;
    const m = c.int('transA', 0) ? a[1] : a[0];
    const n = c.int('transB', 0) ? b[0] : b[1];
    return [{ dtype: c.dtype(0), dims: [m, n] }];
};
const einsumRule = (c) => {
    const eq = (0, ir_1.getAttrString)(c.node, 'equation', '').replace(/\s+/g, '');
    if (eq.includes('.'))
        return undefined;
    const [lhs, rhsGiven] = eq.split('->');
    const subs = lhs.split(',');
    if (subs.length !== c.count)
        return undefined;
    const size = new Map();
    const counts = new Map();
    for (let i = 0; i < subs.length; i++) {
        const d = c.dims(i);
        if (d.length !== subs[i].length)
            return undefined;
        [...subs[i]].forEach((ch, k) => {
            counts.set(ch, (counts.get(ch) ?? 0) + 1);
            const prev = size.get(ch);
            if (prev === undefined || prev === 1)
                size.set(ch, d[k]);
        });
    }
    const rhs = rhsGiven ?? [...counts].filter(([, n]) => n === 1).map(([ch]) => ch).sort().join('');
    const dims = [...rhs].map((ch) => size.get(ch));
    if (dims.some((d) => d === undefined))
        return undefined;
    return [{ dtype: c.dtype(0), dims: dims }];
};
// ---------------------------------------------------------------------------
// Reductions and normalisation
/** Reduce ops whose axes became an input: ReduceSum at opset 13, the others at 18. */
function reduceAxes(c) {
    const fromInput = c.node.opType === 'ReduceSum' ? c.opset >= 13 : c.opset >= 18;
    if (!fromInput)
        return c.attrInts('axes');
    if (!c.has(1))
        return undefined;
    return c.ints(1) ?? 'unknown';
}
const reduceRule = (c) => {
    const dims = c.dims(0);
    const axes = reduceAxes(c);
    if (axes === 'unknown')
        return undefined;
    const keep = c.int('keepdims', 1);
    if ((!axes || axes.length === 0) && c.int('noop_with_empty_axes', 0))
        return same(c);
    const set = new Set((axes && axes.length ? axes : dims.map((_, k) => k)).map((a) => norm(a, dims.length)));
    const out = [];
    dims.forEach((d, k) => {
        if (!set.has(k))
            out.push(d);
        else if (keep)
            out.push(1);
    });
    return [{ dtype: c.dtype(0), dims: out }];
};
const argReduceRule = (c) => {
    const dims = c.dims(0);
    const axis = norm(c.int('axis', 0), dims.length);
    const out = c.int('keepdims', 1) ? dims.map((d, k) => (k === axis ? 1 : d)) : dims.filter((_, k) => k !== axis);
    return [{ dtype: 'int64', dims: out }];
};
const layerNormRule = (c) => {
    const dims = c.dims(0);
    const axis = norm(c.int('axis', -1), dims.length);
    const stats = dims.map((d, k) => (k < axis ? d : 1));
    const stash = (0, proto_1.dtypeFromOnnx)(c.int('stash_type', 1));
    return [{ dtype: c.dtype(0), dims: [...dims] }, { dtype: stash, dims: stats }, { dtype: stash, dims: [...stats] }];
};
const topKRule = (c) => {
    const dims = c.dims(0);
    const k = c.opset >= 10 ? c.ints(1)?.[0] : c.int('k', -1);
    if (k === undefined || k < 0)
        return undefined;
    const axis = norm(c.int('axis', -1), dims.length);
    const out = dims.map((d, i) => (i === axis ? k : d));
    return [{ dtype: c.dtype(0), dims: out }, { dtype: 'int64', dims: [...out] }];
};
// ---------------------------------------------------------------------------
// Shapes and data movement
const shapeRule = (c) => {
    const dims = c.dims(0);
    const r = dims.length;
    const clampAxis = (a) => Math.min(Math.max(a < 0 ? a + r : a, 0), r);
    const start = clampAxis(c.int('start', 0));
    const end = clampAxis(getAttrIntOr(c.node, 'end', r));
    const vals = dims.slice(start, Math.max(start, end)).map(BigInt);
    return [{ dtype: 'int64', dims: [vals.length], data: vals }];
};
function getAttrIntOr(n, name, dflt) {
    return n.attrs[name] ? (0, ir_1.getAttrInt)(n, name, dflt) : dflt;
}
const sizeRule = (c) => [{ dtype: 'int64', dims: [], data: [BigInt((0, shapeData_1.numel)(c.dims(0)))] }];
const reshapeRule = (c) => {
    const dims = c.dims(0);
    const spec = c.ints(1);
    if (!spec)
        return undefined;
    const allowZero = c.int('allowzero', 0);
    const out = spec.map((d, k) => (d === 0 && !allowZero ? dims[k] : d));
    const minus = out.indexOf(-1);
    if (minus >= 0) {
        const rest = (0, shapeData_1.numel)(out.filter((_, k) => k !== minus));
        if (rest === 0)
            return undefined;
        out[minus] = (0, shapeData_1.numel)(dims) / rest;
    }
    if (out.some((d) => d === undefined || d < 0 || !Number.isInteger(d)) || (0, shapeData_1.numel)(out) !== (0, shapeData_1.numel)(dims))
        return undefined;
    const t = c.tensor(0);
    return [{ dtype: c.dtype(0), dims: out, data: t?.data }];
};
const flattenRule = (c) => {
    const dims = c.dims(0);
    const axis = norm(c.int('axis', 1), dims.length);
    const t = c.tensor(0);
    return [{ dtype: c.dtype(0), dims: [(0, shapeData_1.numel)(dims.slice(0, axis)), (0, shapeData_1.numel)(dims.slice(axis))], data: t?.data }];
};
const squeezeRule = (c) => {
    const dims = c.dims(0);
    const axes = c.opset >= 13 ? (c.has(1) ? c.ints(1) : []) : c.attrInts('axes') ?? [];
    if (!axes)
        return undefined;
    const set = new Set(axes.map((a) => norm(a, dims.length)));
    const out = axes.length ? dims.filter((_, k) => !set.has(k)) : dims.filter((d) => d !== 1);
    return [{ dtype: c.dtype(0), dims: out, data: c.tensor(0)?.data }];
};
const unsqueezeRule = (c) => {
    const dims = c.dims(0);
    const axes = c.opset >= 13 ? c.ints(1) : c.attrInts('axes');
    if (!axes)
        return undefined;
    const rank = dims.length + axes.length;
    const set = new Set(axes.map((a) => norm(a, rank)));
    const out = [];
    let j = 0;
    for (let k = 0; k < rank; k++)
        out.push(set.has(k) ? 1 : dims[j++]);
    return [{ dtype: c.dtype(0), dims: out, data: c.tensor(0)?.data }];
};
const transposeRule = (c) => {
    const dims = c.dims(0);
    const perm = c.attrInts('perm') ?? dims.map((_, k) => dims.length - 1 - k);
    const t = c.tensor(0);
    return [fromTensor(c.dtype(0), t && (0, shapeData_1.transposeData)(t, perm), perm.map((p) => dims[p]))];
};
const concatRule = (c) => {
    const present = Array.from({ length: c.count }, (_, i) => i).filter((i) => c.has(i));
    const first = c.dims(present[0]);
    const axis = norm(c.int('axis', 0), first.length);
    const dims = [...first];
    dims[axis] = present.reduce((s, i) => s + c.dims(i)[axis], 0);
    const ts = present.map((i) => c.tensor(i)).filter((t) => t && (0, shapeData_1.numel)(t.dims) > 0);
    const nonEmpty = present.filter((i) => (0, shapeData_1.numel)(c.dims(i)) > 0);
    const data = ts.length === nonEmpty.length ? (ts.length ? (0, shapeData_1.concat)(ts, axis).data : []) : undefined;
    return [{ dtype: c.dtype(present[0]), dims, data }];
};
const splitRule = (c) => {
    const dims = c.dims(0);
    const axis = norm(c.int('axis', 0), dims.length);
    const outs = c.node.outputs.length;
    let parts = c.opset >= 13 ? (c.has(1) ? c.ints(1) : undefined) : c.attrInts('split');
    if (c.opset >= 13 && c.has(1) && !parts)
        return undefined;
    if (!parts) {
        const n = c.int('num_outputs', outs);
        const each = Math.ceil(dims[axis] / n);
        parts = Array.from({ length: n }, (_, k) => Math.min(each, dims[axis] - each * k));
    }
    return parts.map((p) => ({ dtype: c.dtype(0), dims: dims.map((d, k) => (k === axis ? p : d)) }));
};
const sliceRule = (c) => {
    const dims = c.dims(0);
    let starts, ends, axes, steps;
    if (c.opset >= 10) {
        const big = (i) => (c.has(i) ? c.tensor(i)?.data : undefined);
        starts = big(1);
        ends = big(2);
        if (!starts || !ends)
            return undefined;
        axes = c.has(3) ? c.ints(3) : undefined;
        if (c.has(3) && !axes)
            return undefined;
        steps = c.has(4) ? big(4) : undefined;
        if (c.has(4) && !steps)
            return undefined;
    }
    else {
        starts = c.attrInts('starts');
        ends = c.attrInts('ends');
        axes = c.attrInts('axes');
        if (!starts || !ends)
            return undefined;
    }
    const per = dims.map((d) => ({ first: 0, count: d, step: 1 }));
    const ax = axes ?? starts.map((_, k) => k);
    for (let k = 0; k < ax.length; k++) {
        const a = norm(ax[k], dims.length);
        const step = steps ? BigInt(steps[k]) : 1n;
        if (step === 0n)
            return undefined;
        per[a] = (0, shapeData_1.sliceAxis)(dims[a], BigInt(starts[k]), BigInt(ends[k]), step);
    }
    const t = c.tensor(0);
    return [fromTensor(c.dtype(0), t && (0, shapeData_1.sliceData)(t, per), per.map((p) => p.count))];
};
const gatherRule = (c) => {
    const dims = c.dims(0);
    const idx = c.dims(1);
    const axis = norm(c.int('axis', 0), dims.length);
    const out = [...dims.slice(0, axis), ...idx, ...dims.slice(axis + 1)];
    const t = c.tensor(0), i = c.tensor(1);
    return [fromTensor(c.dtype(0), t && i ? (0, shapeData_1.gather)(t, i, axis) : undefined, out)];
};
const gatherNDRule = (c) => {
    const data = c.dims(0), idx = c.dims(1);
    const b = c.int('batch_dims', 0);
    const last = idx[idx.length - 1];
    return [{ dtype: c.dtype(0), dims: [...idx.slice(0, -1), ...data.slice(b + last)] }];
};
const expandRule = (c) => {
    const shape = c.ints(1);
    if (!shape)
        return undefined;
    const dims = (0, shapeData_1.broadcastDims)([c.dims(0), shape]);
    if (!dims)
        return undefined;
    const t = c.tensor(0);
    return [fromTensor(c.dtype(0), t && (0, shapeData_1.expandTo)(t, dims), dims)];
};
const tileRule = (c) => {
    const reps = c.ints(1);
    if (!reps)
        return undefined;
    return [{ dtype: c.dtype(0), dims: c.dims(0).map((d, k) => d * reps[k]) }];
};
const padRule = (c) => {
    const dims = c.dims(0);
    const pads = c.opset >= 11 ? c.ints(1) : c.attrInts('pads');
    if (!pads)
        return undefined;
    const axes = c.opset >= 18 && c.has(3) ? c.ints(3) : dims.map((_, k) => k);
    if (!axes)
        return undefined;
    const out = [...dims];
    axes.forEach((a, k) => (out[norm(a, dims.length)] += pads[k] + pads[k + axes.length]));
    return [{ dtype: c.dtype(0), dims: out }];
};
const constantOfShapeRule = (c) => {
    const shape = c.ints(0);
    if (!shape)
        return undefined;
    const v = c.node.attrs.value;
    const tensor = v && v.kind === 'tensor' ? v.value : undefined;
    const dtype = tensor?.dtype ?? 'float32';
    let data;
    if (tensor && (dtype === 'int64' || dtype === 'int32' || dtype === 'bool')) {
        const fill = BigInt(tensor.data[0] ?? 0);
        data = new Array((0, shapeData_1.numel)(shape)).fill(fill);
    }
    return [{ dtype, dims: shape, data }];
};
const rangeRule = (c) => {
    const [s, l, d] = [c.tensor(0), c.tensor(1), c.tensor(2)];
    if (!s || !l || !d || d.data[0] === 0n)
        return undefined;
    const start = s.data[0], limit = l.data[0], delta = d.data[0];
    const diff = limit - start;
    // ceil(diff / delta) for integers, as the spec defines the count: max(ceil((limit - start) / delta), 0).
    let n = diff / delta;
    if (n * delta !== diff && (diff > 0n) === (delta > 0n))
        n += 1n;
    const count = Number(n < 0n ? 0n : n);
    const data = Array.from({ length: count }, (_, k) => start + BigInt(k) * delta);
    return [{ dtype: c.dtype(0), dims: [count], data }];
};
const eyeLikeRule = (c) => {
    const dt = c.node.attrs.dtype ? (0, proto_1.dtypeFromOnnx)(c.int('dtype', 1)) : c.dtype(0);
    return [{ dtype: dt, dims: [...c.dims(0)] }];
};
const constantRule = (c) => {
    const v = c.node.attrs.value;
    if (!v || v.kind !== 'tensor')
        return undefined; // value_float(s)/value_int(s): specialize converts them first
    const t = v.value;
    const tracked = t.dtype === 'int64' || t.dtype === 'int32' || t.dtype === 'bool';
    const data = tracked ? Array.from(t.data, (x) => BigInt(x)) : undefined;
    return [{ dtype: t.dtype, dims: [...t.dims], data }];
};
const sameShape = (c) => same(c);
const sameShapeBool = (c) => same(c, 'bool');
exports.SHAPE_RULES = {
    // elementwise (numpy broadcasting)
    ...Object.fromEntries([
        'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Mod', 'BitShift', 'Max', 'Min', 'Sum', 'Mean', 'PRelu', 'Where',
        'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Not',
        'Neg', 'Abs', 'Identity', 'Clip', 'Dropout',
    ].map((op) => [op, elementwiseRule])),
    ...Object.fromEntries([
        'Sqrt', 'Reciprocal', 'Exp', 'Log', 'Sin', 'Cos', 'Relu', 'LeakyRelu', 'Tanh', 'Sigmoid', 'Softplus', 'Erf', 'Gelu',
        'Softmax', 'LogSoftmax', 'Floor', 'Ceil', 'Round', 'Sign', 'Trilu', 'CumSum', 'ScatterND', 'ScatterElements',
    ].map((op) => [op, sameShape])),
    IsNaN: sameShapeBool,
    IsInf: sameShapeBool,
    Cast: castRule,
    MatMul: matmulRule,
    Gemm: gemmRule,
    Einsum: einsumRule,
    ...Object.fromEntries([
        'ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceSumSquare', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp',
    ].map((op) => [op, reduceRule])),
    ArgMax: argReduceRule,
    ArgMin: argReduceRule,
    LayerNormalization: layerNormRule,
    TopK: topKRule,
    Shape: shapeRule,
    Size: sizeRule,
    Reshape: reshapeRule,
    Flatten: flattenRule,
    Squeeze: squeezeRule,
    Unsqueeze: unsqueezeRule,
    Transpose: transposeRule,
    Concat: concatRule,
    Split: splitRule,
    Slice: sliceRule,
    Gather: gatherRule,
    GatherElements: (c) => [{ dtype: c.dtype(0), dims: [...c.dims(1)] }],
    GatherND: gatherNDRule,
    Expand: expandRule,
    Tile: tileRule,
    Pad: padRule,
    ConstantOfShape: constantOfShapeRule,
    Range: rangeRule,
    EyeLike: eyeLikeRule,
    Constant: constantRule,
};
//# sourceMappingURL=shapeRules.js.map