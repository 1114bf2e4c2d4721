"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.CHUNK_LOGITS = void 0;
exports.findLmHead = findLmHead;
exports.addChunkedLoss = addChunkedLoss;
const ir_1 = require("../onnx/ir");
const emit_1 = require("../adapters/emit");
const losses_1 = require("./losses");
/** Default rows per chunk: about this many logits ([rows, vocab] float32: 64 MB) at once. */
exports.CHUNK_LOGITS = 16 * 1024 * 1024;
/** The LM head producing `logits` when it is a frozen linear map the chunked loss can take over. */
function findLmHead(model, logits) {
    const g = model.graph;
    const prod = (0, ir_1.producers)(g);
    const users = (0, ir_1.consumers)(g);
    const onlyUser = (value, user) => (users.get(value) ?? []).length === 1 && users.get(value)[0] === user;
    const nodes = [];
    let out = logits;
    let node = prod.get(out);
    let bias;
    if (node && node.opType === 'Add' && node.domain === '') {
        const [a, b] = node.inputs;
        const constSide = g.initializers.has(b) ? b : g.initializers.has(a) ? a : undefined;
        if (!constSide)
            return undefined;
        bias = constSide;
        nodes.push(node);
        out = constSide === b ? a : b;
        node = prod.get(out);
        if (!node || !onlyUser(out, nodes[0]))
            return undefined;
    }
    if (!node || node.opType !== 'MatMul' || node.domain !== '')
        return undefined;
    nodes.push(node);
    const [hidden, wIn] = node.inputs;
    let weight = wIn;
    let layout = 'dv';
    const tr = prod.get(wIn);
    if (!g.initializers.has(wIn)) {
        if (!tr || tr.opType !== 'Transpose' || !g.initializers.has(tr.inputs[0]))
            return undefined;
        const perm = tr.attrs.perm?.kind === 'ints' ? tr.attrs.perm.value : [1, 0];
        if (perm.length !== 2 || perm[0] !== 1 || perm[1] !== 0)
            return undefined;
        weight = tr.inputs[0];
        layout = 'vd';
        if (onlyUser(wIn, node))
            nodes.push(tr);
    }
    const w = g.initializers.get(weight);
    if (w.dtype !== 'float32' || w.dims.length !== 2)
        return undefined;
    const [d, vocab] = layout === 'dv' ? w.dims : [w.dims[1], w.dims[0]];
    const hShape = (0, emit_1.staticShape)(model, hidden);
    if (!hShape || hShape.length !== 3 || hShape[2] !== d)
        return undefined;
    if (bias) {
        const bt = g.initializers.get(bias);
        if (bt.dtype !== 'float32' || bt.dims.reduce((a, x) => a * x, 1) !== vocab)
            return undefined;
    }
    return { hidden, weight, layout, bias, d, vocab, nodes };
}
/**
 * Replaces the head's nodes in `model` by the chunked loss over `labelInput` (added as an
 * input). `task` is causal-lm (targets shifted as Hugging Face does) or token-classification.
 */
function addChunkedLoss(model, e, head, task, labelInput, chunkRows, mode = 'train') {
    const g = model.graph;
    if (task !== 'causal-lm' && task !== 'token-classification')
        throw new Error(`chunked loss: task ${task} has no per-token head`);
    if (g.inputs.some((i) => i.name === labelInput))
        throw new Error(`loss: the model already has an input named "${labelInput}"; choose another label input name`);
    const [bsz, seq, d] = (0, emit_1.staticShape)(model, head.hidden);
    const V = head.vocab;
    const rows = bsz * seq;
    const c = Math.max(1, Math.min(rows, chunkRows ?? Math.floor(exports.CHUNK_LOGITS / V)));
    const K = Math.ceil(rows / c);
    const padded = K * c;
    const removed = new Set(head.nodes);
    g.nodes = g.nodes.filter((n) => !removed.has(n));
    for (const n of head.nodes)
        for (const o of n.outputs)
            g.valueInfo.delete(o);
    const b = e.b;
    const scope = 'chunked_loss';
    g.inputs.push({ name: labelInput, dtype: 'int64', shape: [bsz, seq] });
    // Targets [padded] (causal-lm: labels[:, 1:] then -100), the labelled rows, 1/count weights.
    let targets = labelInput;
    if (task === 'causal-lm') {
        const rest = e.op('Slice', [labelInput, b.constInt64([1], false, `${scope}/start`), b.constInt64([seq], false, `${scope}/end`), b.constInt64([1], false, `${scope}/axis`)], {}, [bsz, seq - 1], scope, 'int64');
        const ign = b.constant({ name: `${scope}/ignore`, dtype: 'int64', dims: [bsz, 1], data: new BigInt64Array(bsz).fill(BigInt(losses_1.IGNORE_INDEX)) });
        targets = e.op('Concat', [rest, ign], { axis: ir_1.attr.i(1) }, [bsz, seq], scope, 'int64');
    }
    let y = e.op('Reshape', [targets, b.constInt64([rows, 1], false, `${scope}/col`)], {}, [rows, 1], scope, 'int64');
    let hFlat = e.op('Reshape', [head.hidden, b.constInt64([rows, d], false, `${scope}/rows`)], {}, [rows, d], scope);
    if (padded > rows) {
        const padY = b.constant({ name: `${scope}/pad_labels`, dtype: 'int64', dims: [padded - rows, 1], data: new BigInt64Array(padded - rows).fill(BigInt(losses_1.IGNORE_INDEX)) });
        y = e.op('Concat', [y, padY], { axis: ir_1.attr.i(0) }, [padded, 1], scope, 'int64');
        const padH = b.constant({ name: `${scope}/pad_hidden`, dtype: 'float32', dims: [padded - rows, d], data: new Float32Array((padded - rows) * d) });
        hFlat = e.op('Concat', [hFlat, padH], { axis: ir_1.attr.i(0) }, [padded, d], scope);
    }
    const lo = e.op('GreaterOrEqual', [y, b.constInt64([0], true, `${scope}/zero`)], {}, [padded, 1], scope, 'bool');
    const hi = e.op('Less', [y, b.constInt64([V], true, `${scope}/vocab`)], {}, [padded, 1], scope, 'bool');
    const valid = e.op('And', [lo, hi], {}, [padded, 1], scope, 'bool');
    const ySafe = e.op('Where', [valid, y, b.constInt64([0], true, `${scope}/zero_id`)], {}, [padded, 1], scope, 'int64');
    const validF = e.op('Cast', [valid], { to: ir_1.attr.i(1) }, [padded, 1], scope);
    const labelled = e.setShape(e.reduceSum(validF, undefined, false, scope), []);
    const count = e.op('Max', [labelled, e.scalar(1, `${scope}/one`)], {}, [], scope);
    const w = e.op('Div', [validF, count], {}, [padded, 1], scope);
    const chunkLen = b.constInt64([c], false, `${scope}/chunk`);
    const axis0 = b.constInt64([0], false, `${scope}/axis0`);
    const body = chunkBody(model, b.fresh(`${scope}_body`), head, { hFlat, ySafe, w, chunkLen, axis0, c, d, V }, mode);
    const zeroLoss = e.scalar(0, `${scope}/zero_loss`);
    const trips = b.constInt64([K], true, `${scope}/trips`);
    const labels = { name: labelInput, dtype: 'int64', shape: [bsz, seq] };
    if (mode === 'eval') {
        const [lossSum, predStack, logpStack] = b.op('Loop', [trips, '', zeroLoss], { body: { kind: 'graph', value: body } }, { outputs: 3, scope });
        e.setShape(lossSum, []);
        e.setShape(predStack, [K, c], 'int64');
        e.setShape(logpStack, [K, c]);
        const perPosition = (stack, dtype) => {
            let v = e.op('Reshape', [stack, b.constInt64([padded], false, `${scope}/flat`)], {}, [padded], scope, dtype);
            if (padded > rows)
                v = e.op('Slice', [v, b.constInt64([0], false, `${scope}/s0`), b.constInt64([rows], false, `${scope}/s1`), axis0], {}, [rows], scope, dtype);
            return e.op('Reshape', [v, b.constInt64([bsz, seq], false, `${scope}/positions`)], {}, [bsz, seq], scope, dtype);
        };
        const loss = e.op('Identity', [lossSum], {}, [], scope);
        return { loss, count, labels, seeds: new Map(), tokens: { predictions: perPosition(predStack, 'int64'), labelLogp: perPosition(logpStack, 'float32') }, chunks: K, chunkRows: c };
    }
    const [lossSum, dhStack] = b.op('Loop', [trips, '', zeroLoss], { body: { kind: 'graph', value: body } }, { outputs: 2, scope });
    e.setShape(lossSum, []);
    e.setShape(dhStack, [K, c, d]);
    let dh = e.op('Reshape', [dhStack, b.constInt64([padded, d], false, `${scope}/dh_rows`)], {}, [padded, d], scope);
    if (padded > rows)
        dh = e.op('Slice', [dh, b.constInt64([0], false, `${scope}/s0`), b.constInt64([rows], false, `${scope}/s1`), axis0], {}, [rows, d], scope);
    dh = e.op('Reshape', [dh, b.constInt64([bsz, seq, d], false, `${scope}/dh_shape`)], {}, [bsz, seq, d], scope);
    const loss = e.op('Identity', [lossSum], {}, [], scope);
    return { loss, count, labels, seeds: new Map([[head.hidden, dh]]), chunks: K, chunkRows: c };
}
/**
 * One iteration: (i, cond, loss) -> (cond, loss - chunk's sum, dh of the chunk [c, d]) in train
 * mode; (cond, loss - chunk's sum, arg-max [c], log-probability of the target [c]) in eval mode.
 */
function chunkBody(model, scope, head, x, mode) {
    const body = (0, ir_1.emptyGraph)(scope);
    const e = new emit_1.Emitter(new ir_1.GraphBuilder(body), model);
    const b = e.b;
    const { c, d, V } = x;
    const iter = `${scope}/i`;
    const cond = `${scope}/cond`;
    const acc = `${scope}/loss_in`;
    body.inputs.push({ name: iter, dtype: 'int64', shape: [] }, { name: cond, dtype: 'bool', shape: [] }, { name: acc, dtype: 'float32', shape: [] });
    // Rows [i*c, i*c + c) of the outer-scope tensors.
    const iterVec = e.op('Reshape', [iter, b.constInt64([1], false, `${scope}/one_dim`)], {}, [1], scope, 'int64');
    const start = e.op('Mul', [iterVec, x.chunkLen], {}, [1], scope, 'int64');
    const end = e.op('Add', [start, x.chunkLen], {}, [1], scope, 'int64');
    const h = e.op('Slice', [x.hFlat, start, end, x.axis0], {}, [c, d], scope);
    const y = e.op('Slice', [x.ySafe, start, end, x.axis0], {}, [c, 1], scope, 'int64');
    const w = e.op('Slice', [x.w, start, end, x.axis0], {}, [c, 1], scope);
    let z = head.layout === 'dv'
        ? e.op('MatMul', [h, head.weight], {}, [c, V], scope)
        : e.op('Gemm', [h, head.weight], { transB: ir_1.attr.i(1) }, [c, V], scope);
    if (head.bias)
        z = e.op('Add', [z, head.bias], {}, [c, V], scope);
    const logp = e.op('LogSoftmax', [z], { axis: ir_1.attr.i(1) }, [c, V], scope);
    const picked = e.op('GatherElements', [logp, y], { axis: ir_1.attr.i(1) }, [c, 1], scope);
    const weighted = e.op('Mul', [picked, w], {}, [c, 1], scope);
    const part = e.setShape(e.reduceSum(weighted, undefined, false, scope), []);
    const accOut = e.op('Sub', [acc, part], {}, [], scope);
    if (mode === 'eval') {
        const pred = e.op('ArgMax', [z], { axis: ir_1.attr.i(1), keepdims: ir_1.attr.i(0) }, [c], scope, 'int64');
        const logpY = e.op('Reshape', [picked, b.constInt64([c], false, `${scope}/rows`)], {}, [c], scope);
        const condOut = e.op('Identity', [cond], {}, [], scope, 'bool');
        body.outputs.push({ name: condOut, dtype: 'bool', shape: [] }, { name: accOut, dtype: 'float32', shape: [] }, { name: pred, dtype: 'int64', shape: [c] }, { name: logpY, dtype: 'float32', shape: [c] });
        return body;
    }
    // dz = softmax * w - onehot(y) * w
    const p = e.op('Exp', [logp], {}, [c, V], scope);
    const pw = e.op('Mul', [p, w], {}, [c, V], scope);
    const negW = e.op('Neg', [w], {}, [c, 1], scope);
    let dz;
    if (e.opset >= 16) {
        dz = e.op('ScatterElements', [pw, y, negW], { axis: ir_1.attr.i(1), reduction: ir_1.attr.s('add') }, [c, V], scope);
    }
    else {
        const classes = b.constant({ name: `${scope}/classes`, dtype: 'int64', dims: [1, V], data: BigInt64Array.from({ length: V }, (_, k) => BigInt(k)) });
        const hot = e.op('Cast', [e.op('Equal', [y, classes], {}, [c, V], scope, 'bool')], { to: ir_1.attr.i(1) }, [c, V], scope);
        dz = e.op('Add', [pw, e.op('Mul', [hot, negW], {}, [c, V], scope)], {}, [c, V], scope);
    }
    const dh = head.layout === 'dv'
        ? e.op('Gemm', [dz, head.weight], { transB: ir_1.attr.i(1) }, [c, d], scope)
        : e.op('MatMul', [dz, head.weight], {}, [c, d], scope);
    const condOut = e.op('Identity', [cond], {}, [], scope, 'bool');
    body.outputs.push({ name: condOut, dtype: 'bool', shape: [] }, { name: accOut, dtype: 'float32', shape: [] }, { name: dh, dtype: 'float32', shape: [c, d] });
    return body;
}
//# sourceMappingURL=chunkedLoss.js.map