// Divergence detection. NaN/inf is the late symptom: at lr 1e6 the loss went 0.71 -> 8.3e6 and
// the weights to 3.6e30 while every value stayed finite, and the run ended `completed` with that
// adapter. After every step the trainer asks this monitor; the limits are the config's
// training.divergence (types.ts documents them; 0 switches a check off):
//   - loss: an exponential average of the step losses (weight 0.1 on the newest) against its own
//     lowest value so far. Averaging keeps one hard batch from tripping it (a single step must
//     be ~10x the limit to move the average past it), while an exploding loss passes it within a
//     step or two. The reference never drops below 1% of the first loss, so a loss that has
//     fallen near 0 does not make ordinary noise look like divergence.
//   - the gradient norm before clipping, and the largest trainable weight magnitude: both blow up
//     at once under a far too large learning rate, before the loss has caught up.
import type { ResolvedDivergence } from '../config/resolved';

/** The monitor's state; it rides in checkpoints so a resumed run judges like an uninterrupted one. */
export interface DivergenceState {
  first?: number;
  ema?: number;
  min?: number;
}

export interface DivergenceVerdict {
  /** What crossed which limit, in words (e.g. `the loss rose to 8.3e+6, 1.2e+7x its lowest average 0.69`). */
  reason: string;
  /** The config field that sets the crossed limit. */
  field: string;
}

const SMOOTHING = 0.1;

export class DivergenceMonitor {
  private state: DivergenceState;

  constructor(readonly limits: ResolvedDivergence, state: DivergenceState = {}) {
    this.state = { ...state };
  }

  snapshot(): DivergenceState {
    return { ...this.state };
  }

  /** Records one step; returns why the run diverged, or undefined. Non-finite values always diverge. */
  check(loss: number, gradNorm: number, maxAbsParam: { name: string; value: number }): DivergenceVerdict | undefined {
    if (!Number.isFinite(loss)) return { reason: `the loss became ${loss}`, field: 'training.lr' };
    if (!Number.isFinite(gradNorm)) return { reason: `the gradient norm became ${gradNorm}`, field: 'training.lr' };
    if (!Number.isFinite(maxAbsParam.value)) return { reason: `the weight ${maxAbsParam.name} became ${maxAbsParam.value}`, field: 'training.lr' };
    const { loss_factor, grad_norm_limit, param_limit } = this.limits;
    if (param_limit > 0 && maxAbsParam.value > param_limit) {
      return { reason: `the weight ${maxAbsParam.name} reached magnitude ${fmt(maxAbsParam.value)}, above training.divergence.param_limit ${fmt(param_limit)}`, field: 'training.divergence.param_limit' };
    }
    if (grad_norm_limit > 0 && gradNorm > grad_norm_limit) {
      return { reason: `the gradient norm reached ${fmt(gradNorm)}, above training.divergence.grad_norm_limit ${fmt(grad_norm_limit)}`, field: 'training.divergence.grad_norm_limit' };
    }
    const s = this.state;
    s.first ??= loss;
    s.ema = s.ema === undefined ? loss : (1 - SMOOTHING) * s.ema + SMOOTHING * loss;
    const reference = Math.max(s.min ?? s.ema, 0.01 * Math.abs(s.first));
    if (loss_factor > 0 && reference > 0 && s.ema > loss_factor * reference) {
      return {
        reason: `the loss rose to ${fmt(loss)} (average ${fmt(s.ema)}, ${fmt(s.ema / reference)}x its lowest average ${fmt(reference)}), above training.divergence.loss_factor ${fmt(loss_factor)}`,
        field: 'training.divergence.loss_factor',
      };
    }
    s.min = Math.min(s.min ?? s.ema, s.ema);
    return undefined;
  }
}

/** The largest |value| over the trainable tensors, and where it is (NaN wins: it is reported as such). */
export function maxAbsOf(params: Iterable<[string, ArrayLike<number>]>): { name: string; value: number } {
  let best = { name: '', value: 0 };
  for (const [name, data] of params) {
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v !== v) return { name, value: NaN }; // eslint-disable-line no-self-compare
      const a = v < 0 ? -v : v;
      if (a > best.value) best = { name, value: a };
    }
  }
  return best;
}

function fmt(x: number): string {
  return Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2).replace(/\.?0+e/, 'e') : String(Number(x.toPrecision(3)));
}

/**
 * What to change, for the settings this run actually had: a hint that suggests gradient
 * clipping when it is already on, or warmup when there is some, sends the user in circles.
 */
export function divergenceHint(t: { lr: number; max_grad_norm: number; warmup_steps: number; optimizer: string }, verdict: DivergenceVerdict): string {
  const tips = [`lower training.lr (it is ${t.lr}; try ${Number((t.lr / 10).toPrecision(3))})`];
  if (t.max_grad_norm <= 0) tips.push('turn on gradient clipping (training.max_grad_norm 1.0; it is 0, off)');
  if (t.warmup_steps === 0) tips.push('add training.warmup_steps (e.g. 5-10% of the steps)');
  let text = `To fix: ${tips.join(', or ')}, then start again.`;
  if (t.max_grad_norm > 0) text += ` (Gradient clipping is already on at max_grad_norm ${t.max_grad_norm}: with ${t.optimizer === 'adamw' ? 'AdamW each step moves a weight by about lr whatever the gradient' : 'clipping on, the step size is set by lr'}, so the learning rate is what to lower.)`;
  if (verdict.field.startsWith('training.divergence.')) text += ` If this growth is expected, raise ${verdict.field} or set it to 0.`;
  return text;
}
