"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.MATMUL_RULES = void 0;
const ir_1 = require("../../onnx/ir");
function swapLast2(rank) {
    const p = Array.from({ length: rank }, (_, k) => k);
    [p[rank - 2], p[rank - 1]] = [p[rank - 1], p[rank - 2]];
    return p;
}
function matmulRule(c) {
    const a = c.I(0);
    const b = c.I(1);
    const aShape = c.shape(a);
    const bShape = c.shape(b);
    const dtype = c.dtype(a);
    if (aShape.length >= 2 && bShape.length === 2)
        return weightMatmulRule(c, aShape, bShape, dtype);
    // Promote 1-D operands: a [K] -> [1, K], b [K] -> [K, 1]; the output lost those axes.
    const a2 = aShape.length === 1 ? c.reshape(a, [1, aShape[0]]) : a;
    const b2 = bShape.length === 1 ? c.reshape(b, [bShape[0], 1]) : b;
    const a2Shape = aShape.length === 1 ? [1, aShape[0]] : aShape;
    const b2Shape = bShape.length === 1 ? [bShape[0], 1] : bShape;
    const outShape = c.shape(c.O(0));
    const m = a2Shape[a2Shape.length - 2];
    const n = b2Shape[b2Shape.length - 1];
    const batch = outShape.slice(0, outShape.length - (aShape.length === 1 ? 0 : 1) - (bShape.length === 1 ? 0 : 1));
    const g2Shape = [...batch, m, n];
    const g = outShape.length === g2Shape.length ? c.GO(0) : c.reshape(c.GO(0), g2Shape);
    let ga;
    let gb;
    if (c.needs(0)) {
        // dA = g B^T, in the broadcast batch shape [..., M, K]; the walker reduces extra batch axes.
        const bt = c.transpose(b2, swapLast2(b2Shape.length));
        ga = c.op('MatMul', [g, bt]);
        const gaShape = [...batch, m, a2Shape[a2Shape.length - 1]];
        if (aShape.length === 1) {
            // Sum out the batch axes here and drop the promoted M=1 axis.
            ga = c.reshape(batch.length > 0 ? c.reduceSum(ga, batch.map((_, k) => k), false) : ga, aShape);
            c.setShape(ga, aShape, dtype);
        }
        else
            c.setShape(ga, gaShape, dtype);
    }
    if (c.needs(1)) {
        // dB = A^T g, shape [..., K, N].
        const at = c.transpose(a2, swapLast2(a2Shape.length));
        gb = c.op('MatMul', [at, g]);
        const gbShape = [...batch, b2Shape[b2Shape.length - 2], n];
        if (bShape.length === 1) {
            gb = c.reshape(batch.length > 0 ? c.reduceSum(gb, batch.map((_, k) => k), false) : gb, bShape);
            c.setShape(gb, bShape, dtype);
        }
        else
            c.setShape(gb, gbShape, dtype);
    }
    return [ga, gb];
}
// x W with a 2-D W (a linear layer's weight, frozen or trained) and x of any rank >= 2: both
// gradients as 2-D Gemms over all rows, transposes as Gemm flags.
//   dx = g W^T: a Transpose node on a frozen weight would be constant-folded by onnxruntime
//   into a second, transposed copy of the weight; Gemm(transB=1) reads the one copy.
//   dW = x^T g: one product over all rows, already reduced (no batched [b, K, N] partials).
function weightMatmulRule(c, aShape, bShape, dtype) {
    const k = aShape[aShape.length - 1];
    const n = bShape[1];
    const rows = aShape.slice(0, -1).reduce((p, d) => p * d, 1);
    const flat = (x, shape) => (aShape.length === 2 ? x : c.setShape(c.reshape(x, shape), shape, dtype));
    const g2 = flat(c.GO(0), [rows, n]);
    let ga;
    let gb;
    if (c.needs(0)) {
        const ga2 = c.setShape(c.op('Gemm', [g2, c.I(1)], { transB: ir_1.attr.i(1) }), [rows, k], dtype);
        ga = aShape.length === 2 ? ga2 : c.setShape(c.reshape(ga2, aShape), aShape, dtype);
    }
    if (c.needs(1))
        gb = c.setShape(c.op('Gemm', [flat(c.I(0), [rows, k]), g2], { transA: ir_1.attr.i(1) }), [k, n], dtype);
    return [ga, gb];
}
// Gemm: Y = alpha A' B' + beta C with A' = transA ? A^T : A, B' = transB ? B^T : B.
//   dA' = alpha g B'^T  -> dA = transA ? alpha B' g^T : alpha g B'^T
//   dB' = alpha A'^T g  -> dB = transB ? alpha g^T A' : alpha A'^T g
function gemmRule(c) {
    const transA = c.attrInt('transA', 0);
    const transB = c.attrInt('transB', 0);
    const alpha = ir_1.attr.f(c.attrFloat('alpha', 1));
    const beta = c.attrFloat('beta', 1);
    const g = c.GO(0);
    const ga = !c.needs(0) ? undefined : transA
        ? c.op('Gemm', [c.I(1), g], { transA: ir_1.attr.i(transB), transB: ir_1.attr.i(1), alpha })
        : c.op('Gemm', [g, c.I(1)], { transB: ir_1.attr.i(1 - transB), alpha });
    const gb = !c.needs(1) ? undefined : transB
        ? c.op('Gemm', [g, c.I(0)], { transA: ir_1.attr.i(1), transB: ir_1.attr.i(transA), alpha })
        : c.op('Gemm', [c.I(0), g], { transA: ir_1.attr.i(1 - transA), alpha });
    if (ga)
        c.setShape(ga, c.shape(c.I(0)), c.dtype(c.I(0)));
    if (gb)
        c.setShape(gb, c.shape(c.I(1)), c.dtype(c.I(1)));
    // dC = beta g, in the output's shape; the walker reduces it to C's broadcast shape.
    const gc = c.needs(2) ? (beta === 1 ? g : c.mul(g, c.scalar(beta, c.O(0)))) : undefined;
    return [ga, gb, gc];
}
// Einsum: the gradient of operand i is an einsum of g with the other operands, producing
// operand i's subscripts. Letters only operand i has (summed in the forward pass) are absent
// from that product and come back by broadcasting.
function einsumRule(c) {
    const eq = c.attrString('equation', '').replace(/\s+/g, '');
    if (eq.includes('.'))
        c.fail(`equation "${eq}" uses an ellipsis, which has no gradient rule`);
    const [lhs, rhsGiven] = eq.split('->');
    const subs = lhs.split(',');
    if (subs.length !== c.numInputs)
        c.fail(`equation "${eq}" names ${subs.length} operands but the node has ${c.numInputs}`);
    const counts = new Map();
    for (const ch of lhs.replace(/,/g, ''))
        counts.set(ch, (counts.get(ch) ?? 0) + 1);
    // Implicit output: letters that occur once, in alphabetical order.
    const rhs = rhsGiven ?? [...counts].filter(([, n]) => n === 1).map(([ch]) => ch).sort().join('');
    return subs.map((si, i) => {
        if (!c.needs(i))
            return undefined;
        if (new Set(si).size !== si.length)
            c.fail(`operand ${i} repeats a subscript ("${si}"), which has no gradient rule`);
        const others = [rhs, ...subs.filter((_, j) => j !== i)];
        const operands = [c.GO(0), ...c.node.inputs.filter((_, j) => j !== i)];
        const available = new Set(others.join(''));
        const target = [...si].filter((ch) => available.has(ch)).join('');
        const g = c.op('Einsum', operands, { equation: ir_1.attr.s(`${others.join(',')}->${target}`) });
        if (target.length === si.length)
            return g;
        const shape = c.shape(c.I(i));
        return c.expand(c.reshape(g, [...si].map((ch, k) => (available.has(ch) ? shape[k] : 1))), shape);
    });
}
exports.MATMUL_RULES = {
    Einsum: { rule: einsumRule },
    MatMul: { broadcast: true, rule: matmulRule },
    Gemm: { broadcast: true, rule: gemmRule },
};
//# sourceMappingURL=matmul.js.map