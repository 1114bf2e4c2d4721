"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.stateSlots = stateSlots;
exports.addOptimizer = addOptimizer;
function stateSlots(optimizer, momentum) {
    if (optimizer === 'adamw')
        return ['exp_avg', 'exp_avg_sq'];
    return momentum > 0 ? ['momentum_buffer'] : [];
}
/** Appends clipping and the update of every parameter; adds the scalar inputs and all outputs to the graph. */
function addOptimizer(e, params, grads, o, names = { lr: 'lr', step: 'step', gradNorm: 'grad_norm' }) {
    const g = e.b.graph;
    const scope = 'optimizer';
    const scalarInput = (name) => {
        g.inputs.push({ name, dtype: 'float32', shape: [] });
        return name;
    };
    const lr = scalarInput(names.lr);
    const step = scalarInput(names.step);
    const c = (v, what) => e.scalar(v, `${scope}/${what}`);
    // Global norm over every gradient.
    const sumsq = params.map((p) => {
        const gr = gradOf(grads, p.name);
        return e.setShape(e.reduceSum(e.op('Mul', [gr, gr], {}, p.dims, scope), undefined, false, scope), []);
    });
    const total = sumsq.length === 1 ? sumsq[0] : e.op('Sum', sumsq, {}, [], scope);
    const norm = e.op('Sqrt', [total], {}, [], scope);
    e.b.op('Identity', [norm], {}, { outputs: [names.gradNorm], scope });
    e.setShape(names.gradNorm, []);
    g.outputs.push({ name: names.gradNorm, dtype: 'float32', shape: [] });
    let clipCoef;
    if (o.max_grad_norm > 0) {
        const coef = e.op('Div', [c(o.max_grad_norm, 'max_norm'), e.op('Add', [norm, c(1e-6, 'clip_eps')], {}, [], scope)], {}, [], scope);
        clipCoef = e.op('Min', [coef, c(1, 'one')], {}, [], scope);
    }
    // Step-wide scalars, computed once.
    const slots = stateSlots(o.optimizer, o.momentum);
    let adam;
    if (o.optimizer === 'adamw') {
        const [b1, b2] = o.betas;
        const bc1 = e.op('Sub', [c(1, 'one'), e.op('Pow', [c(b1, 'beta1'), step], {}, [], scope)], {}, [], scope);
        const bc2 = e.op('Sub', [c(1, 'one'), e.op('Pow', [c(b2, 'beta2'), step], {}, [], scope)], {}, [], scope);
        adam = { stepSize: e.op('Div', [lr, bc1], {}, [], scope), bc2Sqrt: e.op('Sqrt', [bc2], {}, [], scope) };
    }
    const decayFactor = o.optimizer === 'adamw' && o.weight_decay > 0
        ? e.op('Sub', [c(1, 'one'), e.op('Mul', [lr, c(o.weight_decay, 'wd')], {}, [], scope)], {}, [], scope)
        : undefined;
    const paramOutputs = new Map();
    const states = new Map();
    for (const p of params) {
        const s = `${scope}/${p.name}`;
        const d = p.dims;
        const op = (type, ins) => e.op(type, ins, {}, d, s);
        let grad = gradOf(grads, p.name);
        if (clipCoef)
            grad = op('Mul', [grad, clipCoef]);
        const stIn = slots.map((slot) => `${p.name}.${slot}`);
        for (const n of stIn)
            g.inputs.push({ name: n, dtype: 'float32', shape: d });
        const stOut = [];
        let updated;
        if (o.optimizer === 'adamw') {
            const [b1, b2] = o.betas;
            const param = decayFactor ? op('Mul', [p.name, decayFactor]) : p.name;
            const m = op('Add', [op('Mul', [stIn[0], c(b1, 'beta1')]), op('Mul', [grad, c(1 - b1, 'one_minus_beta1')])]);
            const v = op('Add', [op('Mul', [stIn[1], c(b2, 'beta2')]), op('Mul', [op('Mul', [grad, grad]), c(1 - b2, 'one_minus_beta2')])]);
            const denom = op('Add', [op('Div', [op('Sqrt', [v]), adam.bc2Sqrt]), c(o.eps, 'eps')]);
            updated = op('Sub', [param, op('Mul', [op('Div', [m, denom]), adam.stepSize])]);
            stOut.push(m, v);
        }
        else {
            if (o.weight_decay > 0)
                grad = op('Add', [grad, op('Mul', [p.name, c(o.weight_decay, 'wd')])]);
            let direction = grad;
            if (o.momentum > 0) {
                direction = op('Add', [op('Mul', [stIn[0], c(o.momentum, 'momentum')]), grad]);
                stOut.push(direction);
            }
            updated = op('Sub', [p.name, op('Mul', [direction, lr])]);
        }
        paramOutputs.set(p.name, exposeAs(e, updated, `${p.name}.next`, d));
        states.set(p.name, { inputs: stIn, outputs: stOut.map((v, k) => exposeAs(e, v, `${stIn[k]}.next`, d)) });
    }
    return { lrInput: lr, stepInput: step, gradNormOutput: names.gradNorm, paramOutputs, states, stateSlots: slots };
}
function gradOf(grads, name) {
    const gr = grads.get(name);
    if (!gr)
        throw new Error(`optimizer: no gradient for trainable tensor "${name}" (it does not influence the loss); remove it from modules_to_save or check the targets`);
    return gr;
}
/** Names a value as a graph output (Identity, so internal names stay free to change). */
function exposeAs(e, value, name, dims) {
    const out = e.b.fresh(name);
    e.b.op('Identity', [value], {}, { outputs: [out], scope: 'optimizer' });
    e.setShape(out, dims);
    e.b.graph.outputs.push({ name: out, dtype: 'float32', shape: dims });
    return out;
}
//# sourceMappingURL=optimizers.js.map