// Reverse-mode autodiff over ONNX graphs: `buildGradients` appends gradient nodes for a
// scalar loss with respect to chosen tensors. See walker.ts (the one traversal) and rules/
// (one short rule per op, by family).
export { buildGradients, emitSumOfSquares, topoOrder, unbroadcast } from './walker';
export type { GradientOptions } from './walker';
export { GradContext } from './context';
export type { GradResult, Rule, RuleSpec } from './context';
export { KNOWN_OPS, NON_DIFFERENTIABLE, RULES } from './rules';
export { findCuts, rematerialize } from './recompute';
export type { RecomputeReport } from './recompute';
