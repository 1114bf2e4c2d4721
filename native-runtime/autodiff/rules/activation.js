"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.ACTIVATION_RULES = void 0;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
/** d/dx of GELU (exact, erf form): Phi(x) + x phi(x). */
function geluErfGrad(c, x) {
    const phiCdf = c.mul(c.scalar(0.5, x), c.add(c.scalar(1, x), c.op('Erf', [c.mul(x, c.scalar(Math.SQRT1_2, x))])));
    const pdf = c.mul(c.scalar(INV_SQRT_2PI, x), c.op('Exp', [c.mul(c.mul(x, x), c.scalar(-0.5, x))]));
    return c.add(phiCdf, c.mul(x, pdf));
}
/** d/dx of GELU (tanh approximation): 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3k x^2). */
function geluTanhGrad(c, x) {
    const k = 0.044715;
    const x2 = c.mul(x, x);
    const u = c.mul(c.scalar(SQRT_2_OVER_PI, x), c.add(x, c.mul(c.scalar(k, x), c.mul(x2, x))));
    const t = c.op('Tanh', [u]);
    const du = c.mul(c.scalar(SQRT_2_OVER_PI, x), c.add(c.scalar(1, x), c.mul(c.scalar(3 * k, x), x2)));
    const left = c.mul(c.scalar(0.5, x), c.add(c.scalar(1, x), t));
    const right = c.mul(c.mul(c.scalar(0.5, x), x), c.mul(c.sub(c.scalar(1, x), c.mul(t, t)), du));
    return c.add(left, right);
}
exports.ACTIVATION_RULES = {
    Relu: { rule: (c) => [c.maskOr0(c.op('Greater', [c.I(0), c.scalar(0, c.I(0))]), c.GO(0))] },
    LeakyRelu: {
        rule: (c) => {
            const slope = c.mul(c.GO(0), c.scalar(c.attrFloat('alpha', 0.01), c.I(0)));
            return [c.op('Where', [c.op('Greater', [c.I(0), c.scalar(0, c.I(0))]), c.GO(0), slope])];
        },
    },
    // PRelu: y = x for x > 0, slope * x otherwise; slope broadcasts against x.
    PRelu: {
        broadcast: true,
        rule: (c) => {
            const pos = c.op('Greater', [c.I(0), c.scalar(0, c.I(0))]);
            const gx = c.needs(0) ? c.op('Where', [pos, c.GO(0), c.mul(c.GO(0), c.I(1))]) : undefined;
            const gs = c.needs(1) ? c.op('Where', [pos, c.scalar(0, c.I(0)), c.mul(c.GO(0), c.I(0))]) : undefined;
            return [gx, gs];
        },
    },
    Tanh: { rule: (c) => [c.mul(c.GO(0), c.sub(c.scalar(1, c.O(0)), c.mul(c.O(0), c.O(0))))] },
    Sigmoid: { rule: (c) => [c.mul(c.GO(0), c.mul(c.O(0), c.sub(c.scalar(1, c.O(0)), c.O(0))))] },
    // softplus(x) = ln(1 + e^x); its derivative is sigmoid(x).
    Softplus: { rule: (c) => [c.mul(c.GO(0), c.op('Sigmoid', [c.I(0)]))] },
    // d erf(x) = 2/sqrt(pi) e^(-x^2).
    Erf: {
        rule: (c) => {
            const x = c.I(0);
            const e = c.op('Exp', [c.neg(c.mul(x, x))]);
            return [c.mul(c.GO(0), c.mul(e, c.scalar(2 / Math.sqrt(Math.PI), x)))];
        },
    },
    // Gelu exists as an op from opset 20 (older exports spell it with Erf or Tanh).
    Gelu: {
        rule: (c) => {
            const approx = c.attrString('approximate', 'none');
            const d = approx === 'tanh' ? geluTanhGrad(c, c.I(0)) : approx === 'none' ? geluErfGrad(c, c.I(0)) : c.fail(`unknown approximate="${approx}" (expected none or tanh)`);
            return [c.mul(c.GO(0), d)];
        },
    },
    // Softmax (opset >= 13): dx = y (g - sum(g y)) over the axis. Before 13 the op flattened
    // the input from `axis` on, so the sum runs over all trailing axes.
    Softmax: {
        rule: (c) => {
            const axes = softmaxAxes(c);
            const y = c.O(0);
            const gy = c.mul(c.GO(0), y);
            return [c.mul(y, c.sub(c.GO(0), c.reduceSum(gy, axes, true)))];
        },
    },
    // LogSoftmax: dx = g - softmax(x) sum(g).
    LogSoftmax: {
        rule: (c) => {
            const axes = softmaxAxes(c);
            const p = c.op('Exp', [c.O(0)]);
            return [c.sub(c.GO(0), c.mul(p, c.reduceSum(c.GO(0), axes, true)))];
        },
    },
    // Clip: gradient passes where min <= x <= max (bounds are inputs from opset 11).
    Clip: {
        rule: (c) => {
            const x = c.I(0);
            let lo;
            let hi;
            if (c.opset >= 11) {
                lo = c.I(1) || undefined;
                hi = c.I(2) || undefined;
            }
            else {
                if (c.node.attrs.min)
                    lo = c.scalar(c.attrFloat('min', 0), x);
                if (c.node.attrs.max)
                    hi = c.scalar(c.attrFloat('max', 0), x);
            }
            const conds = [];
            if (lo)
                conds.push(c.op('GreaterOrEqual', [x, lo]));
            if (hi)
                conds.push(c.op('LessOrEqual', [x, hi]));
            if (conds.length === 0)
                return [c.GO(0)];
            const cond = conds.length === 2 ? c.op('And', conds) : conds[0];
            return [c.maskOr0(cond, c.GO(0))];
        },
    },
    // Dropout: identity at inference; in training mode the kept mask scales by 1/(1-ratio).
    Dropout: {
        rule: (c) => {
            const trainingName = c.opset >= 12 ? c.I(2) : '';
            const training = trainingName ? c.constInts(trainingName, 'training_mode')[0] !== 0 : c.opset < 7 && c.attrInt('is_test', 0) === 0;
            if (!training)
                return [c.GO(0)];
            if (!c.O(1))
                c.fail('training-mode Dropout without a mask output cannot be differentiated; export it with the mask output');
            const ratioT = c.opset >= 12 && c.I(1) ? c.constTensor(c.I(1)) : undefined;
            const ratio = ratioT ? Number(ratioT.data[0]) : c.attrFloat('ratio', 0.5);
            const mask = c.cast(c.O(1), c.dtype(c.I(0)));
            return [c.mul(c.GO(0), c.mul(mask, c.scalar(1 / (1 - ratio), c.I(0))))];
        },
    },
};
function softmaxAxes(c) {
    const rank = c.rank(c.I(0));
    if (c.opset >= 13) {
        const a = c.attrInt('axis', -1);
        return [a < 0 ? a + rank : a];
    }
    const a = c.attrInt('axis', 1);
    const start = a < 0 ? a + rank : a;
    return Array.from({ length: rank - start }, (_, k) => start + k);
}
//# sourceMappingURL=activation.js.map