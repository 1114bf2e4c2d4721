"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.moduleNameOf = moduleNameOf;
exports.findLinearLayers = findLinearLayers;
exports.targetSuffix = targetSuffix;
exports.listTargetGroups = listTargetGroups;
exports.displayNames = displayNames;
exports.layerIndexOf = layerIndexOf;
exports.matchTargets = matchTargets;
// Finding the linear layers of an ONNX model, naming them as the PyTorch modules they came from,
// and matching PEFT-style `target_modules` against them.
const fastest_levenshtein_1 = require("fastest-levenshtein");
const ir_1 = require("../onnx/ir");
const nodeMetadata_1 = require("../onnx/nodeMetadata");
const GENERIC_NAME = /::|^(MatMul|Gemm)(_\d+)?$/;
function isFloat2d(graph, name) {
    const t = graph.initializers.get(name);
    return !!t && t.dtype === 'float32' && t.dims.length === 2;
}
/** The weight of a MatMul: an initializer, or a [1,0] Transpose of one. */
function matmulWeight(graph, prod, w) {
    if (isFloat2d(graph, w))
        return { weight: w, transB: false };
    const p = prod.get(w);
    if (p && p.opType === 'Transpose' && isFloat2d(graph, p.inputs[0])) {
        const perm = (0, ir_1.getAttrInts)(p, 'perm');
        if (!perm || (perm[0] === 1 && perm[1] === 0))
            return { weight: p.inputs[0], transB: true };
    }
    return undefined;
}
/** The bias added right after a MatMul (torch exports `Add(bias, MatMul_out)`). */
/**
 * The initializer holding `name`'s value: itself, or the one an `Identity` copies (TorchScript
 * keeps one copy of identical tensors: a fresh head's zero bias becomes `Identity(other.bias)`).
 */
function initializerBehind(graph, prod, name) {
    const direct = graph.initializers.get(name);
    if (direct)
        return direct;
    const copy = prod.get(name);
    return copy?.opType === 'Identity' && copy.domain === '' ? graph.initializers.get(copy.inputs[0]) : undefined;
}
function followingBias(graph, prod, cons, out, dOut) {
    const users = cons.get(out) ?? [];
    if (users.length !== 1 || users[0].opType !== 'Add')
        return undefined;
    const other = users[0].inputs.find((i) => i !== out);
    const t = other ? initializerBehind(graph, prod, other) : undefined;
    if (t && t.dtype === 'float32' && t.dims.length === 1 && t.dims[0] === dOut)
        return other;
    return undefined;
}
/**
 * A module path from the node name (`/encoder/layer.3/attention/self/value/MatMul` ->
 * `encoder.layer.3.attention.self.value`, torch's TorchScript exporter), else from the node's
 * name scopes (torch's dynamo exporter, whose node names are generic: `node_linear_3`), else
 * from the weight or bias initializer name (`h.0.attn.c_attn.weight` behind a `Gemm_67`), else
 * the node name itself.
 */
function moduleNameOf(nodeName, weight, bias, metadata) {
    if (nodeName.includes('/')) {
        const parts = nodeName.split('/').filter(Boolean);
        parts.pop(); // the op's own name, e.g. MatMul or MatMul_1
        if (parts.length > 0)
            return parts.join('.');
    }
    const scoped = (0, nodeMetadata_1.moduleFromNameScopes)(metadata);
    if (scoped)
        return scoped;
    if (weight.endsWith('.weight') && !weight.includes('::'))
        return weight.slice(0, -'.weight'.length);
    if (bias && bias.endsWith('.bias') && !bias.includes('::'))
        return bias.slice(0, -'.bias'.length);
    return nodeName.replace(/[^A-Za-z0-9_.]/g, '_');
}
/** MatMul/Gemm nodes whose weight is a 2-D float32 initializer, in model order. */
function findLinearLayers(model) {
    const g = model.graph;
    const prod = (0, ir_1.producers)(g);
    const cons = (0, ir_1.consumers)(g);
    const layers = [];
    for (const node of g.nodes) {
        if (node.domain !== '' || g.initializers.has(node.inputs[0]))
            continue;
        let found;
        if (node.opType === 'MatMul') {
            const w = matmulWeight(g, prod, node.inputs[1]);
            if (!w)
                continue;
            const dims = g.initializers.get(w.weight).dims;
            const [dIn, dOut] = w.transB ? [dims[1], dims[0]] : [dims[0], dims[1]];
            found = { node: node.name, weight: w.weight, d_in: dIn, d_out: dOut, kind: 'matmul', transB: w.transB, bias: followingBias(g, prod, cons, node.outputs[0], dOut) };
        }
        else if (node.opType === 'Gemm') {
            if ((0, ir_1.getAttrInt)(node, 'transA', 0) !== 0 || !isFloat2d(g, node.inputs[1]))
                continue;
            const transB = (0, ir_1.getAttrInt)(node, 'transB', 0) === 1;
            const dims = g.initializers.get(node.inputs[1]).dims;
            const [dIn, dOut] = transB ? [dims[1], dims[0]] : [dims[0], dims[1]];
            const c = node.inputs[2];
            found = { node: node.name, weight: node.inputs[1], d_in: dIn, d_out: dOut, kind: 'gemm', transB, bias: c && initializerBehind(g, prod, c) ? c : undefined };
        }
        if (!found)
            continue;
        layers.push({ module: moduleNameOf(node.name, found.weight, found.bias, node.metadata), ...found });
    }
    // Two nodes in one module (rare) would collide in adapter files: make names unique.
    const seen = new Map();
    for (const l of layers) {
        const n = seen.get(l.module) ?? 0;
        seen.set(l.module, n + 1);
        if (n > 0)
            l.module = `${l.module}_${n}`;
    }
    return layers;
}
const isIndex = (s) => /^\d+$/.test(s);
/** The last 1-3 name components after the last layer index: `encoder.layer.3.attention.self.value` -> `attention.self.value`. */
function targetSuffix(module) {
    const parts = module.split('.');
    let start = 0;
    for (let i = parts.length - 1; i >= 0; i--)
        if (isIndex(parts[i])) {
            start = i + 1;
            break;
        }
    const tail = parts.slice(start);
    const use = tail.length > 0 ? tail : parts.slice(-1);
    return use.slice(-3).join('.');
}
/** Layers grouped by suffix and weight shape, in model order, for "which targets can I pick". */
function listTargetGroups(model) {
    const groups = new Map();
    for (const l of findLinearLayers(model)) {
        const suffix = targetSuffix(l.module);
        const key = `${suffix}\u0000${l.d_in}x${l.d_out}`;
        let grp = groups.get(key);
        if (!grp)
            groups.set(key, (grp = { suffix, d_in: l.d_in, d_out: l.d_out, modules: [] }));
        grp.modules.push(l.module);
    }
    return distinctSuffixes([...groups.values()]);
}
/**
 * Groups that share a suffix but differ in shape (TF exports: `...attention.output.dense.Tensordot`
 * and `...output.dense.Tensordot` both end in `output.dense.Tensordot`) would show the same name.
 * Each such group gets the longest name tail all its modules share instead, which is still a
 * valid `target_modules` entry (`attention.output.dense.Tensordot`). Groups whose modules have
 * identical tails keep the suffix: one `target_modules` entry matches them all, and the trainer
 * keys them `suffix@d_inxd_out`, which `lily targets` shows (see formatGroups).
 */
function distinctSuffixes(groups) {
    const bySuffix = new Map();
    for (const g of groups)
        bySuffix.set(g.suffix, [...(bySuffix.get(g.suffix) ?? []), g]);
    for (const same of bySuffix.values()) {
        if (same.length < 2)
            continue;
        for (const g of same) {
            const tail = commonTail(g.modules.map((m) => m.split('.')));
            if (tail.length > g.suffix.split('.').length)
                g.suffix = tail.join('.');
        }
    }
    return groups;
}
/** The longest list of trailing components all `names` share, stopping before a layer index. */
function commonTail(names) {
    const out = [];
    for (let k = 1;; k++) {
        const part = names[0][names[0].length - k];
        if (part === undefined || isIndex(part) || /\d$/.test(part) || names.some((n) => n[n.length - k] !== part))
            return out;
        out.unshift(part);
    }
}
/** The name `lily targets` shows for each group: its suffix, with the shape where two groups share one. */
function displayNames(groups) {
    const count = new Map();
    for (const g of groups)
        count.set(g.suffix, (count.get(g.suffix) ?? 0) + 1);
    return groups.map((g) => (count.get(g.suffix) > 1 ? `${g.suffix}@${g.d_in}x${g.d_out}` : g.suffix));
}
/** The layer index of a module: the number after `layer.`/`layers.`/`h.`/`blocks.`, else the first number component. */
function layerIndexOf(module) {
    const parts = module.split('.');
    for (let i = 0; i + 1 < parts.length; i++) {
        if (['layer', 'layers', 'h', 'blocks', 'block'].includes(parts[i]) && isIndex(parts[i + 1]))
            return Number(parts[i + 1]);
    }
    const first = parts.find(isIndex);
    return first === undefined ? undefined : Number(first);
}
function compileRegex(pattern, field) {
    try {
        // PEFT uses re.fullmatch: anchor the whole pattern.
        return new RegExp(`^(?:${pattern})$`);
    }
    catch (e) {
        throw new Error(`adapter.${field}: "${pattern}" is not a valid regular expression (${e.message}); give a list of module name suffixes or fix the pattern`);
    }
}
const suffixMatches = (module, entry) => module === entry || module.endsWith(`.${entry}`);
/**
 * PEFT's target selection. A list entry matches a module whose name equals it or ends with
 * `.entry`; a string is a regex that must match the whole name and counts as one target.
 * Layers are grouped for sharing by the matched entry (the first matching one in list order)
 * and the weight shape, in model order.
 */
function matchTargets(layers, cfg) {
    const available = [...new Set(layers.map((l) => targetSuffix(l.module)))];
    const avail = available.join(', ');
    let entryOf;
    if (typeof cfg.target_modules === 'string') {
        const re = compileRegex(cfg.target_modules, 'target_modules');
        const pattern = cfg.target_modules;
        entryOf = (m) => (re.test(m) ? pattern : undefined);
        if (!layers.some((l) => re.test(l.module))) {
            throw new Error(`adapter.target_modules: the regex "${pattern}" matches no linear layer of the model; it must match a whole module name such as "${layers[0]?.module ?? '?'}". Available suffixes: ${avail}`);
        }
    }
    else {
        const entries = cfg.target_modules;
        if (entries.length === 0)
            throw new Error(`adapter.target_modules is empty; list module name suffixes to adapt. Available suffixes: ${avail}`);
        for (const e of entries) {
            if (!layers.some((l) => suffixMatches(l.module, e))) {
                // Suggest among suffixes and their last components: a typo is usually in one word.
                const candidates = [...new Set([...available, ...available.map((a) => a.split('.').pop())])];
                const hint = candidates.length ? ` (did you mean "${(0, fastest_levenshtein_1.closest)(e, candidates)}"?)` : '';
                throw new Error(`adapter.target_modules: "${e}" matches no linear layer of the model${hint}. Available suffixes: ${avail}`);
            }
        }
        entryOf = (m) => entries.find((e) => suffixMatches(m, e));
    }
    let excluded = () => false;
    if (typeof cfg.exclude_modules === 'string') {
        const re = compileRegex(cfg.exclude_modules, 'exclude_modules');
        excluded = (m) => re.test(m);
    }
    else if (cfg.exclude_modules) {
        const list = cfg.exclude_modules;
        excluded = (m) => list.some((e) => suffixMatches(m, e));
    }
    const allowLayers = cfg.layers_to_transform ? new Set(cfg.layers_to_transform) : undefined;
    const groups = new Map();
    for (const l of layers) {
        const entry = entryOf(l.module);
        if (entry === undefined || excluded(l.module))
            continue;
        if (allowLayers) {
            const idx = layerIndexOf(l.module);
            if (idx === undefined || !allowLayers.has(idx))
                continue;
        }
        const key = `${entry}\u0000${l.d_in}x${l.d_out}`;
        let grp = groups.get(key);
        if (!grp)
            groups.set(key, (grp = { target: entry, key: entry, d_in: l.d_in, d_out: l.d_out, layers: [] }));
        grp.layers.push(l);
    }
    const out = [...groups.values()];
    if (out.length === 0) {
        throw new Error(`adapter: target_modules matched layers, but exclude_modules/layers_to_transform removed all of them; nothing would be trained. Available suffixes: ${avail}`);
    }
    const perTarget = new Map();
    for (const t of out)
        perTarget.set(t.target, (perTarget.get(t.target) ?? 0) + 1);
    for (const t of out)
        if (perTarget.get(t.target) > 1)
            t.key = `${t.target}@${t.d_in}x${t.d_out}`;
    return out;
}
//# sourceMappingURL=targets.js.map