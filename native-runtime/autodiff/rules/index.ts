// The rule table: every op the engine knows is either differentiable (a rule here) or marked
// non-differentiable. test/autodiff/coverage.test.ts keeps the two lists honest.
import type { RuleSpec } from '../context';
import { ACTIVATION_RULES } from './activation';
import { ELEMENTWISE_RULES } from './elementwise';
import { INDEXING_RULES } from './indexing';
import { MATMUL_RULES } from './matmul';
import { NORMALIZATION_RULES } from './normalization';
import { REDUCE_RULES } from './reduce';
import { SHAPE_RULES } from './shape';

const FAMILIES: Record<string, RuleSpec>[] = [
  ELEMENTWISE_RULES, ACTIVATION_RULES, MATMUL_RULES, REDUCE_RULES, NORMALIZATION_RULES, SHAPE_RULES, INDEXING_RULES,
];

function mergeFamilies(): Record<string, RuleSpec> {
  const all: Record<string, RuleSpec> = {};
  for (const fam of FAMILIES) {
    for (const [op, spec] of Object.entries(fam)) {
      if (all[op]) throw new Error(`autodiff: two gradient rules for op ${op}`);
      all[op] = spec;
    }
  }
  return all;
}

/** Gradient rules by ONNX op type (default domain). */
export const RULES: Readonly<Record<string, RuleSpec>> = mergeFamilies();

/**
 * Ops through which no gradient flows: integer/boolean results, shape queries, piecewise
 * constant functions (their derivative is zero almost everywhere), random sources.
 * Trilu is NOT here: applied to data it is differentiable (it keeps a triangle of g); on
 * masks built from shapes, specialisation folds it away before autodiff sees it.
 */
export const NON_DIFFERENTIABLE: ReadonlySet<string> = new Set([
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
export const KNOWN_OPS: readonly string[] = [
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
  ...NON_DIFFERENTIABLE,
];
