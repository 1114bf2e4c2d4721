"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.IGNORE_INDEX = void 0;
exports.addLoss = addLoss;
const ir_1 = require("../onnx/ir");
const emit_1 = require("../adapters/emit");
exports.IGNORE_INDEX = -100;
/**
 * Adds the task's loss on `logits` and a labels input named `labelInput`:
 * - sequence-classification: logits [batch, C], labels int64 [batch];
 * - regression: logits [batch, 1] or [batch], labels float32 [batch] (MSE);
 * - token-classification: logits [batch, seq, C], labels int64 [batch, seq], -100 ignored;
 * - causal-lm: logits [batch, seq, V], labels int64 [batch, seq] (usually the input ids with
 *   -100 at padding); position t is scored against labels[t + 1], as Hugging Face shifts them.
 */
function addLoss(model, e, task, logits, labelInput) {
    const shape = (0, emit_1.staticShape)(model, logits);
    if (!shape)
        throw new Error(`loss: the logits output "${logits}" has no static shape; specialise the model to a batch shape first`);
    const g = model.graph;
    if (g.inputs.some((i) => i.name === labelInput)) {
        throw new Error(`loss: the model already has an input named "${labelInput}"; choose another label input name`);
    }
    const scope = 'loss';
    switch (task) {
        case 'sequence-classification': {
            if (shape.length !== 2)
                throw new Error(`loss (sequence-classification): logits "${logits}" have shape [${shape.join(', ')}]; expected [batch, num_labels]`);
            const labels = addInput(model, labelInput, 'int64', [shape[0]]);
            return { ...crossEntropy(e, logits, labels, shape, scope), labels: { name: labels, dtype: 'int64', shape: [shape[0]] } };
        }
        case 'token-classification':
        case 'causal-lm': {
            if (shape.length !== 3)
                throw new Error(`loss (${task}): logits "${logits}" have shape [${shape.join(', ')}]; expected [batch, seq, classes]`);
            const [bsz, seq] = shape;
            const labels = addInput(model, labelInput, 'int64', [bsz, seq]);
            const targets = task === 'causal-lm' ? shiftLeft(e, labels, bsz, seq, scope) : labels;
            return { ...crossEntropy(e, logits, targets, shape, scope), labels: { name: labels, dtype: 'int64', shape: [bsz, seq] } };
        }
        case 'regression': {
            if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
                throw new Error(`loss (regression): logits "${logits}" have shape [${shape.join(', ')}]; expected [batch] or [batch, 1]`);
            }
            const n = shape[0];
            const labels = addInput(model, labelInput, 'float32', [n]);
            const pred = e.setShape(e.reshape(logits, [n], scope), [n]);
            const diff = e.op('Sub', [pred, labels], {}, [n], scope);
            const sq = e.op('Mul', [diff, diff], {}, [n], scope);
            const loss = e.setShape(e.reduceMean(sq, undefined, false, scope), []);
            return { loss, count: e.scalar(n, `${scope}/count`), labels: { name: labels, dtype: 'float32', shape: [n] } };
        }
        default:
            throw new Error(`loss: unknown task ${JSON.stringify(task)}; expected sequence-classification, regression, causal-lm or token-classification`);
    }
}
function addInput(model, name, dtype, shape) {
    model.graph.inputs.push({ name, dtype, shape });
    return name;
}
/** labels[:, 1:] followed by -100: the next-token targets of each position. */
function shiftLeft(e, labels, bsz, seq, scope) {
    const b = e.b;
    const rest = e.op('Slice', [labels, b.constInt64([1], false, `${scope}/start`), b.constInt64([seq], false, `${scope}/end`), b.constInt64([1], false, `${scope}/axis`)], {}, [bsz, seq - 1], scope, 'int64');
    const pad = b.constant({ name: `${scope}/ignore`, dtype: 'int64', dims: [bsz, 1], data: new BigInt64Array(bsz).fill(BigInt(exports.IGNORE_INDEX)) });
    return e.op('Concat', [rest, pad], { axis: ir_1.attr.i(1) }, [bsz, seq], scope, 'int64');
}
/** Mean cross-entropy of logits [..., C] against int64 labels [...] (ignored: ids outside 0..C-1). */
function crossEntropy(e, logits, labels, shape, scope) {
    const b = e.b;
    const c = shape[shape.length - 1];
    const rows = (0, ir_1.tensorSize)(shape) / c;
    const flat = shape.length === 2 ? logits : e.setShape(e.reshape(logits, [rows, c], scope), [rows, c]);
    const logp = e.op('LogSoftmax', [flat], { axis: ir_1.attr.i(1) }, [rows, c], scope);
    const labelCol = e.setShape(e.reshape(labels, [rows, 1], scope), [rows, 1], 'int64');
    const classes = b.constant({ name: `${scope}/classes`, dtype: 'int64', dims: [1, c], data: BigInt64Array.from({ length: c }, (_, i) => BigInt(i)) });
    const hit = e.op('Equal', [labelCol, classes], {}, [rows, c], scope, 'bool');
    const oneHot = e.op('Cast', [hit], { to: ir_1.attr.i(1) }, [rows, c], scope);
    const picked = e.op('Mul', [oneHot, logp], {}, [rows, c], scope);
    const total = e.setShape(e.reduceSum(picked, undefined, false, scope), []);
    const validRows = e.setShape(e.reduceSum(oneHot, undefined, false, scope), []);
    const count = e.op('Max', [validRows, e.scalar(1, `${scope}/one`)], {}, [], scope);
    const mean = e.op('Div', [total, count], {}, [], scope);
    return { loss: e.op('Neg', [mean], {}, [], scope), count };
}
//# sourceMappingURL=losses.js.map