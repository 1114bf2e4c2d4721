// Learning-rate schedules, computed in JS and fed to the step graph as a scalar each step.
// They equal Hugging Face's get_{constant,linear,cosine}_schedule_with_warmup (a LambdaLR):
// the lr used by optimizer step k (0-based, k steps already taken) is lr * lambda(k). Note that
// with warmup the very first step has lr 0, as in HF.

export interface ScheduleOptions {
  /** Peak learning rate. */
  lr: number;
  schedule: 'constant' | 'linear' | 'cosine';
  warmup_steps: number;
  /** Total optimizer steps of the run (HF's num_training_steps). */
  total_steps: number;
}

/** HF's lambda: the multiplier of the peak lr at step k. */
export function lrMultiplier(k: number, s: Omit<ScheduleOptions, 'lr'>): number {
  const warmup = s.warmup_steps;
  if (k < warmup) return k / Math.max(1, warmup);
  if (s.schedule === 'constant') return 1;
  const remaining = Math.max(1, s.total_steps - warmup);
  if (s.schedule === 'linear') return Math.max(0, (s.total_steps - k) / remaining);
  // cosine with num_cycles = 0.5: one half-cosine from 1 down to 0.
  const progress = (k - warmup) / remaining;
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * progress)));
}

/** The learning rate for optimizer step k (0-based). */
export function learningRate(k: number, s: ScheduleOptions): number {
  return s.lr * lrMultiplier(k, s);
}
