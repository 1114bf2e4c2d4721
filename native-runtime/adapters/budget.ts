// Trainable-parameter counts (LILY.md): Lily per target
//   ceil(L/stride_A)*r*d_in + num_B*r*d_out + L*r*num_B,
// LoRA at rank r': L*r'*(d_in+d_out). Used by `lily init` (the budget beside LoRA's rank), the
// server's lily/budget request (the config's code lens), "Compare with LoRA" and the spectrum report.

/** One sharing group: its number of adapted layers and weight shape. */
export interface BudgetTarget {
  layers: number;
  d_in: number;
  d_out: number;
}

export interface LilyShape {
  r: number;
  stride_A: number;
  num_B: number;
}

export function lilyTargetParamCount(t: BudgetTarget, s: LilyShape): number {
  return Math.ceil(t.layers / s.stride_A) * s.r * t.d_in + s.num_B * s.r * t.d_out + t.layers * s.r * s.num_B;
}

export function lilyParamCount(targets: BudgetTarget[], s: LilyShape): number {
  return targets.reduce((sum, t) => sum + lilyTargetParamCount(t, s), 0);
}

export function loraTargetParamCount(t: BudgetTarget, r: number): number {
  return t.layers * r * (t.d_in + t.d_out);
}

export function loraParamCount(targets: BudgetTarget[], r: number): number {
  return targets.reduce((sum, t) => sum + loraTargetParamCount(t, r), 0);
}

/** The LoRA rank (>= 1) whose parameter count over `targets` is nearest to `budget`. */
export function loraRankAtBudget(targets: BudgetTarget[], budget: number): number {
  const perRank = loraParamCount(targets, 1);
  if (perRank === 0) return 1;
  return Math.max(1, Math.round(budget / perRank));
}
