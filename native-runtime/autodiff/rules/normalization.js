"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.NORMALIZATION_RULES = void 0;
exports.NORMALIZATION_RULES = {
    // y = xhat * scale + bias, xhat = (x - mean) * rstd, over axes [axis, rank).
    //   dscale = g xhat, dbias = g (reduced to their broadcast shapes by the walker)
    //   dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)),  dxhat = g scale
    LayerNormalization: {
        broadcast: true,
        rule: (c) => {
            if (c.hasGO(1) || c.hasGO(2))
                c.fail('gradients through the Mean/InvStdDev outputs are not supported');
            const x = c.I(0);
            const rank = c.rank(x);
            const a = c.attrInt('axis', -1);
            const start = a < 0 ? a + rank : a;
            const axes = Array.from({ length: rank - start }, (_, k) => start + k);
            const eps = c.attrFloat('epsilon', 1e-5);
            const g = c.GO(0);
            const xc = c.sub(x, c.reduceMean(x, axes, true));
            const variance = c.reduceMean(c.mul(xc, xc), axes, true);
            const rstd = c.op('Reciprocal', [c.op('Sqrt', [c.add(variance, c.scalar(eps, x))])]);
            const xhat = c.mul(xc, rstd);
            let gx;
            if (c.needs(0)) {
                const dxhat = c.mul(g, c.I(1));
                const m1 = c.reduceMean(dxhat, axes, true);
                const m2 = c.reduceMean(c.mul(dxhat, xhat), axes, true);
                gx = c.mul(rstd, c.sub(c.sub(dxhat, m1), c.mul(xhat, m2)));
            }
            const gscale = c.needs(1) ? c.mul(g, xhat) : undefined;
            const gbias = c.needs(2) ? g : undefined;
            return [gx, gscale, gbias];
        },
    },
};
//# sourceMappingURL=normalization.js.map