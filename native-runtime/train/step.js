"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.DEFAULT_OPTIMIZER = exports.STEP_IO = void 0;
exports.buildTrainingStep = buildTrainingStep;
// The training step as ONE ONNX graph: specialised forward with the adapter injected, the task
// loss, reverse-mode gradients of the trainable tensors only (adapter + modules_to_save),
// global-norm clipping and the optimizer update. Plus the matching eval graph (forward + loss,
// no gradients). Frozen weights stay initializers; trainable tensors and optimizer states are
// graph inputs whose updated values are graph outputs (the runner swaps them between steps).
const resolved_1 = require("../config/resolved");
const ir_1 = require("../onnx/ir");
const specialize_1 = require("../onnx/specialize");
const opset_1 = require("../onnx/opset");
const autodiff_1 = require("../autodiff");
const defaults_1 = require("../adapters/defaults");
const emit_1 = require("../adapters/emit");
const inject_1 = require("../adapters/inject");
const losses_1 = require("./losses");
const chunkedLoss_1 = require("./chunkedLoss");
const optimizers_1 = require("./optimizers");
/** Fixed names of the step's scalar inputs and outputs. */
exports.STEP_IO = {
    lr: 'lr',
    step: 'step',
    loss: 'loss',
    /** Number of labels the loss averaged over (tokens for LM / token classification). */
    lossCount: 'loss_count',
    gradNorm: 'grad_norm',
    /** Eval graph with the chunked head: arg-max prediction per position [batch, seq] (int64). */
    tokenPredictions: 'token_predictions',
    /** Eval graph with the chunked head: log-probability of each position's target [batch, seq] (0 where unlabelled). */
    tokenLabelLogp: 'token_label_logp',
};
const T = resolved_1.DEFAULTS.training;
exports.DEFAULT_OPTIMIZER = { optimizer: T.optimizer, betas: [...T.betas], eps: T.eps, weight_decay: T.weight_decay, momentum: T.momentum, max_grad_norm: T.max_grad_norm };
async function buildTrainingStep(model, opts) {
    // First, so that a model too old to train says so rather than failing somewhere later.
    (0, opset_1.checkTrainableOpset)(model);
    const adapter = (0, defaults_1.resolveAdapterConfig)(opts.adapter);
    const optimizer = { ...exports.DEFAULT_OPTIMIZER, ...stripUndefined(opts.optimizer ?? {}) };
    const logits = opts.logitsOutput ?? model.graph.outputs[0]?.name;
    if (!logits || !model.graph.outputs.some((o) => o.name === logits)) {
        throw new Error(`model.output: "${logits}" is not an output of the model (outputs: ${model.graph.outputs.map((o) => o.name).join(', ')})`);
    }
    const hasMask = model.graph.inputs.some((i) => i.name === 'attention_mask');
    const maskInput = opts.maskInput ?? (hasMask ? 'attention_mask' : undefined);
    // Forward: keep only the logits as a model output (so specialisation drops whatever else the
    // export computes, e.g. hidden states), then specialise: static shapes everywhere.
    const logitsOnly = (0, specialize_1.cloneModel)(model);
    logitsOnly.graph.outputs = logitsOnly.graph.outputs.filter((o) => o.name === logits);
    const fwd = await (0, specialize_1.specialize)(logitsOnly, opts.inputShapes);
    // Specialised at the model's own opset; adapters, loss, gradients and optimizer are emitted at
    // >= 17 (Gather's gradient needs ScatterND's reduction, opset 16). See onnx/opset.ts.
    (0, opset_1.raiseToStepOpset)(fwd);
    const dataInputs = fwd.graph.inputs.map((i) => i.name);
    const injection = (0, inject_1.injectAdapters)(fwd, adapter, { seed: opts.seed, initial: opts.initial, maskInput, exposeTokenProbs: opts.exposeTokenProbs });
    const routerOutputs = injection.layers
        .filter((l) => l.routerOutput)
        .map((l) => ({ module: l.module, target: l.target, output: l.routerOutput, tokenOutput: l.tokenProbsOutput }));
    const labelInput = opts.labelInput ?? 'labels';
    // Train: drop the per-row router outputs (statistics are computed on the eval graph).
    const train = (0, specialize_1.cloneModel)(fwd);
    const tokenOutputs = new Set(routerOutputs.map((r) => r.tokenOutput).filter((t) => !!t));
    train.graph.outputs = train.graph.outputs.filter((o) => !tokenOutputs.has(o.name));
    train.graph.nodes = train.graph.nodes.filter((n) => !n.outputs.some((o) => tokenOutputs.has(o)));
    // The train graph's head: chunked when it is a frozen per-token head (no [tokens, vocab] tensor).
    const perToken = opts.task === 'causal-lm' || opts.task === 'token-classification';
    const head = perToken && opts.lossChunks !== 'off' ? (0, chunkedLoss_1.findLmHead)(train, logits) : undefined;
    const logitsShape = fwd.graph.valueInfo.get(logits)?.shape ?? fwd.graph.outputs.find((o) => o.name === logits)?.shape;
    // Eval: the same chunked head when it applies (per-position predictions and target
    // log-probabilities instead of [tokens, vocab] logits), else the plain loss beside the logits.
    const e = new emit_1.Emitter(new ir_1.GraphBuilder(fwd.graph), fwd);
    const evalHead = head ? (0, chunkedLoss_1.findLmHead)(fwd, logits) : undefined;
    let evalTokens;
    let labels;
    if (evalHead) {
        fwd.graph.outputs = fwd.graph.outputs.filter((o) => o.name !== logits);
        const chunked = (0, chunkedLoss_1.addChunkedLoss)(fwd, e, evalHead, opts.task, labelInput, typeof opts.lossChunks === 'number' ? opts.lossChunks : undefined, 'eval');
        expose(e, chunked.loss, exports.STEP_IO.loss);
        expose(e, chunked.count, exports.STEP_IO.lossCount);
        exposeAs(e, chunked.tokens.predictions, exports.STEP_IO.tokenPredictions, 'int64', chunked.labels.shape);
        exposeAs(e, chunked.tokens.labelLogp, exports.STEP_IO.tokenLabelLogp, 'float32', chunked.labels.shape);
        evalTokens = { predictions: exports.STEP_IO.tokenPredictions, labelLogp: exports.STEP_IO.tokenLabelLogp };
        labels = chunked.labels;
    }
    else {
        const loss = (0, losses_1.addLoss)(fwd, e, opts.task, logits, labelInput);
        expose(e, loss.loss, exports.STEP_IO.loss);
        expose(e, loss.count, exports.STEP_IO.lossCount);
        labels = loss.labels;
    }
    const evalModel = fwd;
    const te = new emit_1.Emitter(new ir_1.GraphBuilder(train.graph), train);
    let seeds;
    let lossChunks;
    if (head) {
        train.graph.outputs = train.graph.outputs.filter((o) => o.name !== logits);
        const chunked = (0, chunkedLoss_1.addChunkedLoss)(train, te, head, opts.task, labelInput, typeof opts.lossChunks === 'number' ? opts.lossChunks : undefined);
        expose(te, chunked.loss, exports.STEP_IO.loss);
        expose(te, chunked.count, exports.STEP_IO.lossCount);
        seeds = chunked.seeds;
        lossChunks = { chunks: chunked.chunks, rows: chunked.chunkRows };
    }
    else {
        const plain = (0, losses_1.addLoss)(train, te, opts.task, logits, labelInput);
        expose(te, plain.loss, exports.STEP_IO.loss);
        expose(te, plain.count, exports.STEP_IO.lossCount);
    }
    const params = injection.params;
    const gradReport = {};
    const grads = (0, autodiff_1.buildGradients)(train.graph, exports.STEP_IO.loss, params.map((p) => p.name), { opset: te.opset, seeds, recompute: !!opts.gradientCheckpointing, report: gradReport });
    let gradOutputs;
    if (opts.exposeGradients) {
        gradOutputs = new Map();
        for (const p of params) {
            const out = te.b.fresh(`${p.name}.grad`);
            te.b.op('Identity', [grads.get(p.name)], {}, { outputs: [out], scope: 'grad' });
            te.setShape(out, p.dims);
            train.graph.outputs.push({ name: out, dtype: 'float32', shape: p.dims });
            gradOutputs.set(p.name, out);
        }
    }
    const opt = (0, optimizers_1.addOptimizer)(te, params.map((p) => ({ name: p.name, dims: p.dims })), grads, optimizer, { lr: exports.STEP_IO.lr, step: exports.STEP_IO.step, gradNorm: exports.STEP_IO.gradNorm });
    return {
        train,
        eval: evalModel,
        adapter,
        injection,
        params,
        optimizer: opt,
        resolvedOptimizer: optimizer,
        dataInputs,
        labels,
        logits,
        logitsShape: logitsShape?.every((d) => typeof d === 'number') ? logitsShape : undefined,
        evalTokens,
        routerOutputs,
        gradOutputs,
        lossChunks,
        recompute: gradReport.recompute,
    };
}
/** Adds `value` ([dims] of `dtype`) as a graph output named `name` (through Identity). */
function exposeAs(e, value, name, dtype, dims) {
    e.b.op('Identity', [value], {}, { outputs: [name], scope: name });
    e.setShape(name, dims, dtype);
    e.b.graph.outputs.push({ name, dtype, shape: dims });
}
/** Adds `value` as a graph output named `name` (through Identity). */
function expose(e, value, name) {
    e.b.op('Identity', [value], {}, { outputs: [name], scope: name });
    e.setShape(name, []);
    e.b.graph.outputs.push({ name, dtype: 'float32', shape: [] });
}
function stripUndefined(o) {
    return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
//# sourceMappingURL=step.js.map