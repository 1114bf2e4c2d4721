"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.emitLilyDelta = emitLilyDelta;
// The Lily forward for one adapted layer (LILY.md), on the layer input flattened to rows:
//   h = x A_g;  p_tok = softmax(h R_l);  p = mean of p_tok (batch | masked);  B_mix = sum_e p[e] B_e
//   delta = scaling * h B_mix            (token routing: scaling * sum_e p_tok[:,e] (h B_e))
const ir_1 = require("../onnx/ir");
function emitLilyDelta(ctx, p, s) {
    const { e, scope } = ctx;
    const b = e.b;
    const { r, num_B: nB, d_out: dOut } = s;
    const h = ctx.op('MatMul', [ctx.x, p.A], {}, [ctx.rows, r]);
    const logits = ctx.op('MatMul', [h, p.router], {}, [ctx.rows, nB]);
    const pTok = ctx.op('Softmax', [logits], { axis: ir_1.attr.i(-1) }, [ctx.rows, nB]);
    // The mean router probability: over every row (batch routing: padding included, as the
    // references do), or over rows whose attention-mask entry is 1 (masked routing).
    let probs;
    if (ctx.maskColumn) {
        const weighted = ctx.op('Mul', [pTok, ctx.maskColumn.column], {}, [ctx.rows, nB]);
        const sum = ctx.setShape(e.reduceSum(weighted, [0], true, scope), [1, nB]);
        probs = ctx.op('Div', [sum, ctx.maskColumn.count], {}, [1, nB]);
    }
    else {
        probs = ctx.setShape(e.reduceMean(pTok, [0], true, scope), [1, nB]);
    }
    let delta;
    if (s.routing === 'token') {
        // sum_e p_tok[:,e] (h B_e) = [p_tok[:,e] * h]_e (concatenated over e) @ B viewed as [num_B*r, d_out]:
        // one matmul of width num_B*r instead of num_B matmuls.
        const pCol = ctx.op('Reshape', [pTok, b.constInt64([-1, nB, 1], false, `${scope}/shape`)], {}, [ctx.rows, nB, 1]);
        const hRow = ctx.op('Reshape', [h, b.constInt64([-1, 1, r], false, `${scope}/shape`)], {}, [ctx.rows, 1, r]);
        const mixed = ctx.op('Mul', [pCol, hRow], {}, [ctx.rows, nB, r]);
        const z = ctx.op('Reshape', [mixed, b.constInt64([-1, nB * r], false, `${scope}/shape`)], {}, [ctx.rows, nB * r]);
        const bFlat = ctx.op('Reshape', [p.B, b.constInt64([nB * r, dOut], false, `${scope}/shape`)], {}, [nB * r, dOut]);
        delta = ctx.op('MatMul', [z, ctx.scaled(bFlat, s.scaling, [nB * r, dOut])], {}, [ctx.rows, dOut]);
    }
    else {
        // B_mix = p @ B viewed as [num_B, r*d_out], then [r, d_out]; scaling folded into the small B_mix.
        const bFlat = ctx.op('Reshape', [p.B, b.constInt64([nB, r * dOut], false, `${scope}/shape`)], {}, [nB, r * dOut]);
        const mixFlat = ctx.op('MatMul', [probs, bFlat], {}, [1, r * dOut]);
        const mix = ctx.op('Reshape', [mixFlat, b.constInt64([r, dOut], false, `${scope}/shape`)], {}, [r, dOut]);
        delta = ctx.op('MatMul', [h, ctx.scaled(mix, s.scaling, [r, dOut])], {}, [ctx.rows, dOut]);
    }
    return { delta, probs, tokenProbs: pTok };
}
//# sourceMappingURL=lily.js.map