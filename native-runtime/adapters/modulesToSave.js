"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.resolveSavedTensors = resolveSavedTensors;
// `modules_to_save`: whole modules trained besides the adapter (typically a classifier head).
// A name selects the weight and bias of the linear layer with that module path, plus any
// initializer named `<name>` or `<name>.<something>` (e.g. a LayerNorm's weight and bias).
const fastest_levenshtein_1 = require("fastest-levenshtein");
function resolveSavedTensors(model, linear, names) {
    const g = model.graph;
    const out = [];
    const taken = new Set();
    const take = (t) => {
        if (taken.has(t.name))
            return;
        untieIdentityCopy(model, t.name);
        const init = g.initializers.get(t.name);
        if (!init || init.dtype !== 'float32')
            return;
        taken.add(t.name);
        out.push(t);
    };
    for (const module of names) {
        const before = out.length;
        for (const l of linear.filter((x) => x.module === module)) {
            // torch Linear weight is [d_out, d_in]: Gemm transB=1 and Transpose-fed MatMul store it so.
            take({ name: l.weight, module, peftName: `${module}.weight`, transposed: !l.transB });
            if (l.bias)
                take({ name: l.bias, module, peftName: `${module}.bias`, transposed: false });
        }
        for (const name of g.initializers.keys()) {
            if (name === module || name.startsWith(`${module}.`))
                take({ name, module, peftName: name, transposed: false });
        }
        if (out.length === before) {
            const candidates = [...new Set([...linear.map((l) => l.module), ...[...g.initializers.keys()].filter((k) => !k.includes('::')).map((k) => k.replace(/\.(weight|bias)$/, ''))])];
            const hint = candidates.length ? ` (did you mean "${(0, fastest_levenshtein_1.closest)(module, candidates)}"?)` : '';
            throw new Error(`adapter.modules_to_save: "${module}" names no float parameter of the model${hint}; give a module path such as a linear layer's name`);
        }
    }
    return out;
}
/**
 * TorchScript exports keep one copy of identical initializers and feed the others through
 * `Identity` (a fresh head's zero bias becomes `Identity(some.LayerNorm.bias)`). Training the
 * tensor in full needs its own copy: the Identity is replaced by an initializer of that name,
 * so the weight it was tied to by value stays frozen. Tensors with no such Identity are left alone.
 */
function untieIdentityCopy(model, name) {
    const g = model.graph;
    if (g.initializers.has(name))
        return;
    const at = g.nodes.findIndex((n) => n.opType === 'Identity' && (n.domain === '' || n.domain === 'ai.onnx') && n.outputs[0] === name);
    if (at < 0)
        return;
    const source = g.initializers.get(g.nodes[at].inputs[0]);
    if (!source || source.dtype !== 'float32')
        return;
    g.initializers.set(name, { name, dtype: source.dtype, dims: [...source.dims], data: source.data.slice() });
    g.nodes.splice(at, 1);
}
//# sourceMappingURL=modulesToSave.js.map