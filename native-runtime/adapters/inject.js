"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.injectAdapters = injectAdapters;
exports.bakeAdapterParams = bakeAdapterParams;
const ir_1 = require("../onnx/ir");
const emit_1 = require("./emit");
const init_1 = require("./init");
const layerContext_1 = require("./layerContext");
const lily_1 = require("./lily");
const lora_1 = require("./lora");
const modulesToSave_1 = require("./modulesToSave");
const targets_1 = require("./targets");
const ROUTER_SUFFIX = '.lily_router_probs';
const TOKEN_PROBS_SUFFIX = '.lily_router_token_probs';
/** Adds the adapter to `model` in place and returns what was added. */
function injectAdapters(model, cfg, opts = {}) {
    const g = model.graph;
    const seed = opts.seed ?? 42;
    const linear = (0, targets_1.findLinearLayers)(model);
    const matched = (0, targets_1.matchTargets)(linear, cfg);
    const e = new emit_1.Emitter(new ir_1.GraphBuilder(g), model);
    const params = [];
    const addParam = (name, dims, role, init) => {
        params.push({ name, dims, role, init });
        g.inputs.push({ name, dtype: 'float32', shape: dims });
    };
    // Sharing: one A per stride_A consecutive layers, one B pool per target (Lily).
    const layers = [];
    for (const t of matched) {
        if (cfg.method === 'lily') {
            const bName = `${t.layers[0].module}.lily_B`;
            addParam(bName, [cfg.num_B, cfg.r, t.d_out], 'lily_B', new Float32Array(cfg.num_B * cfg.r * t.d_out));
            let aName = '';
            t.layers.forEach((l, i) => {
                const group = Math.floor(i / cfg.stride_A);
                if (i % cfg.stride_A === 0) {
                    aName = `${l.module}.lily_A`;
                    addParam(aName, [t.d_in, cfg.r], 'lily_A', (0, init_1.kaimingUniform)(t.d_in * cfg.r, t.d_in, seed, aName));
                }
                const router = `${l.module}.lily_router`;
                addParam(router, [cfg.r, cfg.num_B], 'lily_router', (0, init_1.kaimingUniform)(cfg.r * cfg.num_B, cfg.r, seed, router));
                layers.push({ module: l.module, target: t.key, index: i, a_group: group, layer: l, tensors: { A: aName, B: bName, router } });
            });
        }
        else {
            t.layers.forEach((l, i) => {
                const A = `${l.module}.lora_A`;
                const B = `${l.module}.lora_B`;
                addParam(A, [t.d_in, cfg.r], 'lora_A', (0, init_1.kaimingUniform)(t.d_in * cfg.r, t.d_in, seed, A));
                addParam(B, [cfg.r, t.d_out], 'lora_B', new Float32Array(cfg.r * t.d_out));
                layers.push({ module: l.module, target: t.key, index: i, a_group: i, layer: l, tensors: { A, B } });
            });
        }
    }
    const maskColumn = prepareMask(model, e, cfg, opts.maskInput);
    const nodeByName = new Map(g.nodes.map((n) => [n.name, n]));
    const order = new Map(g.nodes.map((n, i) => [n.name, i]));
    const inModelOrder = [...layers].sort((a, b) => order.get(a.layer.node) - order.get(b.layer.node));
    for (const al of inModelOrder) {
        const node = nodeByName.get(al.layer.node);
        const start = g.nodes.length;
        emitLayer(model, e, node, al, cfg, maskColumn, opts.exposeTokenProbs ?? false);
        // Keep the node list topologically sorted: the new nodes go right after the base node.
        const added = g.nodes.splice(start);
        g.nodes.splice(g.nodes.indexOf(node) + 1, 0, ...added);
    }
    const saved = (0, modulesToSave_1.resolveSavedTensors)(model, linear, cfg.modules_to_save);
    for (const s of saved) {
        const t = g.initializers.get(s.name);
        g.initializers.delete(s.name);
        addParam(s.name, [...t.dims], 'saved', Float32Array.from(t.data));
    }
    applyInitial(params, opts.initial);
    const targets = matched.map((t) => ({
        target: t.key,
        d_in: t.d_in,
        d_out: t.d_out,
        layers: layers.filter((l) => l.target === t.key).map((l) => ({ module: l.module, index: l.index, a_group: l.a_group })),
    }));
    return { config: cfg, targets, layers, params, saved };
}
/** The attention mask as a float column [rows, 1] and its count, emitted once at the top of the graph. */
function prepareMask(model, e, cfg, maskInput) {
    if (cfg.method !== 'lily')
        return undefined;
    if (cfg.routing === 'masked' && !maskInput) {
        throw new Error('adapter.routing is "masked" but the model has no attention-mask input to average over; give the mask input name, or use routing "batch" or "token"');
    }
    if (!maskInput || cfg.routing === 'batch')
        return undefined;
    if (!model.graph.inputs.some((i) => i.name === maskInput)) {
        throw new Error(`attention-mask input "${maskInput}" is not an input of the model (inputs: ${model.graph.inputs.map((i) => i.name).join(', ')})`);
    }
    const g = model.graph;
    const start = g.nodes.length;
    const rows = (0, ir_1.tensorSize)((0, emit_1.staticShape)(model, maskInput) ?? [-1]);
    const scope = 'lily_mask';
    const asFloat = e.op('Cast', [maskInput], { to: ir_1.attr.i(1) }, (0, emit_1.staticShape)(model, maskInput), scope);
    const column = e.setShape(e.reshape(asFloat, [-1, 1], scope), [rows, 1]);
    const total = e.setShape(e.reduceSum(column, undefined, false, scope), []);
    const count = e.op('Max', [total, e.scalar(1, `${scope}/one`)], {}, [], scope);
    g.nodes.unshift(...g.nodes.splice(start));
    return { column, count, rows };
}
function emitLayer(model, e, node, al, cfg, mask, exposeTokenProbs) {
    const g = model.graph;
    const b = e.b;
    const { d_in: dIn, d_out: dOut } = al.layer;
    const scope = al.module;
    const x = node.inputs[0];
    const y = node.outputs[0];
    const xShape = (0, emit_1.staticShape)(model, x);
    const yShape = (0, emit_1.staticShape)(model, y);
    const rows = xShape ? (0, ir_1.tensorSize)(xShape) / dIn : -1;
    const xRank = (g.valueInfo.get(x) ?? g.inputs.find((i) => i.name === x))?.shape?.length;
    // Rename the base output; the adapted sum takes over its name, so consumers are untouched.
    const yBase = b.fresh(`${scope}/base_out`);
    node.outputs[0] = yBase;
    const yInfo = g.valueInfo.get(y);
    if (yInfo)
        g.valueInfo.set(yBase, { ...yInfo, name: yBase });
    const ctx0 = (maskCol, x2) => new layerContext_1.LayerContext(e, scope, x2, rows, maskCol);
    const x2 = xShape && xShape.length === 2 ? x : e.reshape(x, [-1, dIn], scope);
    if (x2 !== x)
        e.setShape(x2, [rows, dIn]);
    let delta2;
    if (cfg.method === 'lily') {
        // The mask applies to layers that see one row per token; others (a pooled head) average over their rows.
        const perToken = (xRank ?? 3) >= 3 && (rows < 0 || mask === undefined || mask.rows < 0 || rows === mask.rows);
        const useMask = mask && perToken ? mask : undefined;
        const ctx = ctx0(useMask, x2);
        const out = (0, lily_1.emitLilyDelta)(ctx, { A: al.tensors.A, B: al.tensors.B, router: al.tensors.router }, { r: cfg.r, num_B: cfg.num_B, d_out: dOut, scaling: cfg.scaling, routing: cfg.routing });
        delta2 = out.delta;
        al.routerOutput = `${scope}${ROUTER_SUFFIX}`;
        b.op('Reshape', [out.probs, b.constInt64([cfg.num_B], false, `${scope}/shape`)], {}, { outputs: [al.routerOutput], scope });
        e.setShape(al.routerOutput, [cfg.num_B]);
        g.outputs.push({ name: al.routerOutput, dtype: 'float32', shape: [cfg.num_B] });
        if (exposeTokenProbs) {
            al.tokenProbsOutput = `${scope}${TOKEN_PROBS_SUFFIX}`;
            b.op('Identity', [out.tokenProbs], {}, { outputs: [al.tokenProbsOutput], scope });
            g.outputs.push({ name: al.tokenProbsOutput, dtype: 'float32', shape: [rows >= 0 ? rows : 'rows', cfg.num_B] });
        }
    }
    else {
        delta2 = (0, lora_1.emitLoraDelta)(ctx0(undefined, x2), { A: al.tensors.A, B: al.tensors.B }, { r: cfg.r, d_out: dOut, scaling: cfg.lora_alpha / cfg.r });
    }
    let delta = delta2;
    if (!(yShape && yShape.length === 2)) {
        const shape = yShape ? b.constInt64(yShape, false, `${scope}/shape`) : b.op1('Shape', [yBase], {}, scope);
        delta = b.op1('Reshape', [delta2, shape], {}, scope);
        e.setShape(delta, yShape);
    }
    b.op('Add', [yBase, delta], {}, { outputs: [y], scope });
}
function applyInitial(params, initial) {
    if (!initial)
        return;
    const byName = new Map(params.map((p) => [p.name, p]));
    for (const [name, values] of initial) {
        const p = byName.get(name);
        if (!p) {
            const known = params.slice(0, 6).map((q) => q.name).join(', ');
            throw new Error(`initial adapter tensor "${name}" is not a tensor of this adapter (expected names like ${known}, ...); check that the adapter file was made for this model and target_modules`);
        }
        if (values.length !== p.init.length) {
            throw new Error(`initial adapter tensor "${name}" has ${values.length} values, expected ${p.init.length} (shape [${p.dims.join(', ')}]); check r, num_B and the model`);
        }
        p.init = Float32Array.from(values);
    }
}
/** Turns adapter inputs into initializers holding `values` (an adapted model for inference/export). */
function bakeAdapterParams(model, injection, values) {
    const g = model.graph;
    for (const p of injection.params) {
        const data = values.get(p.name) ?? p.init;
        g.initializers.set(p.name, { name: p.name, dtype: 'float32', dims: [...p.dims], data: Float32Array.from(data) });
    }
    const names = new Set(injection.params.map((p) => p.name));
    g.inputs = g.inputs.filter((i) => !names.has(i.name));
}
//# sourceMappingURL=inject.js.map