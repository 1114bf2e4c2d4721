"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.emitLoraDelta = emitLoraDelta;
function emitLoraDelta(ctx, p, s) {
    const h = ctx.op('MatMul', [ctx.x, p.A], {}, [ctx.rows, s.r]);
    // The scale goes on B ([r, d_out]), the smaller side.
    return ctx.op('MatMul', [h, ctx.scaled(p.B, s.scaling, [s.r, s.d_out])], {}, [ctx.rows, s.d_out]);
}
//# sourceMappingURL=lora.js.map