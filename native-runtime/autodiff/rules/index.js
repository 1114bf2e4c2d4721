"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.KNOWN_OPS = exports.NON_DIFFERENTIABLE = exports.RULES = void 0;
const activation_1 = require("./activation");
const elementwise_1 = require("./elementwise");
const indexing_1 = require("./indexing");
const matmul_1 = require("./matmul");
const normalization_1 = require("./normalization");
const reduce_1 = require("./reduce");
const shape_1 = require("./shape");
const FAMILIES = [
    elementwise_1.ELEMENTWISE_RULES, activation_1.ACTIVATION_RULES, matmul_1.MATMUL_RULES, reduce_1.REDUCE_RULES, normalization_1.NORMALIZATION_RULES, shape_1.SHAPE_RULES, indexing_1.INDEXING_RULES,
];
function mergeFamilies() {
    const all = {};
    for (const fam of FAMILIES) {
        for (const [op, spec] of Object.entries(fam)) {
            if (all[op])
                throw new Error(`autodiff: two gradient rules for op ${op}`);
            all[op] = spec;
        }
    }
    return all;
}
/** Gradient rules by ONNX op type (default domain). */
exports.RULES = mergeFamilies();
/**
 * Ops through which no gradient flows: integer/boolean results, shape queries, piecewise
 * constant functions (their derivative is zero almost everywhere), random sources.
 * Trilu is NOT here: applied to data it is differentiable (it keeps a triangle of g); on
 * masks built from shapes, specialisation folds it away before autodiff sees it.
 */
exports.NON_DIFFERENTIABLE = new Set([
    'Shape', 'Size', 'Constant', 'ConstantOfShape', 'Range', 'EyeLike',
    'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor',
    'IsNaN', 'IsInf', 'ArgMax', 'ArgMin', 'NonZero', 'OneHot', 'TopK',
    'Floor', 'Ceil', 'Round', 'Sign', 'Mod', 'BitShift',
    'RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Bernoulli', 'Multinomial',
]);
/**
 * Every op the engine claims to handle: what torch/HF exports of transformer models and the
 * adapter/step builders emit. Each must have a rule or a non-differentiable mark.
 */
exports.KNOWN_OPS = [
    // arithmetic
    'Add', 'Sub', 'Mul', 'Div', 'Neg', 'Pow', 'Sqrt', 'Reciprocal', 'Exp', 'Log', 'Abs', 'Sin', 'Cos',
    'Sum', 'Mean', 'Max', 'Min', 'Identity',
    // activations
    'Relu', 'LeakyRelu', 'PRelu', 'Tanh', 'Sigmoid', 'Softplus', 'Erf', 'Gelu', 'Softmax', 'LogSoftmax', 'Clip', 'Dropout',
    // linear algebra, reductions, normalisation
    'MatMul', 'Gemm', 'Einsum', 'ReduceSum', 'ReduceMean', 'ReduceSumSquare', 'ReduceL2', 'ReduceLogSumExp', 'ReduceMax',
    'ReduceMin', 'CumSum', 'LayerNormalization',
    // data movement
    'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Transpose', 'Concat', 'Split', 'Expand', 'Tile', 'Pad', 'Cast',
    'Gather', 'GatherElements', 'GatherND', 'ScatterND', 'ScatterElements', 'Slice', 'Where', 'Trilu',
    // non-differentiable
    ...exports.NON_DIFFERENTIABLE,
];
//# sourceMappingURL=index.js.map