"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.STEP_MIN_OPSET = exports.MIN_TRAIN_OPSET = void 0;
exports.opsetTooOld = opsetTooOld;
exports.checkTrainableOpset = checkTrainableOpset;
exports.raiseToStepOpset = raiseToStepOpset;
const ir_1 = require("./ir");
/** Adapters and training need opset >= 13 (Squeeze/Unsqueeze/ReduceSum/Split take axes as inputs). */
exports.MIN_TRAIN_OPSET = 13;
/** The opset the training step is built at when the model's is older. */
exports.STEP_MIN_OPSET = 17;
/** The message for a model too old to train; undefined when its opset is fine. */
function opsetTooOld(model) {
    const v = (0, ir_1.defaultOpset)(model);
    if (v >= exports.MIN_TRAIN_OPSET)
        return undefined;
    return `model opset ${v} is too old: adapters and training need opset >= ${exports.MIN_TRAIN_OPSET}; re-export the model with opset_version=17 (torch.onnx.export(..., opset_version=17), or optimum-cli export onnx --opset 17)`;
}
/** Throws the opset message for a model too old to train (call it before any other work). */
function checkTrainableOpset(model) {
    const msg = opsetTooOld(model);
    if (msg)
        throw new Error(msg);
}
/**
 * Raises the default-domain opset of `model` (in place) to STEP_MIN_OPSET when it is lower and
 * every op keeps its meaning there (see the file comment). Returns the opset now declared.
 */
function raiseToStepOpset(model) {
    const v = (0, ir_1.defaultOpset)(model);
    if (v >= exports.STEP_MIN_OPSET)
        return v;
    if (model.graph.nodes.some((n) => n.opType === 'RoiAlign' && (n.domain ?? '') === ''))
        return v;
    const imp = model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx');
    if (imp)
        imp.version = exports.STEP_MIN_OPSET;
    else
        model.opsetImports.push({ domain: '', version: exports.STEP_MIN_OPSET });
    // Opset 17 needs IR version 8 (ORT refuses a newer opset under an older IR).
    model.irVersion = Math.max(model.irVersion || 8, 8);
    return exports.STEP_MIN_OPSET;
}
//# sourceMappingURL=opset.js.map