// Exponential moving average of a training curve, extended incrementally as points arrive, so
// a live 10 000-point curve costs one multiply-add per new point instead of a full recompute.
// Debiased like TensorBoard's smoothing: early values are not pulled towards zero.

export class EmaSeries {
  private smoothed: number[] = [];
  private acc = 0;
  private weight = 0;

  constructor(private alpha: number) {}

  /** `alpha` in [0, 1): 0 is no smoothing. Changing it restarts from the first point. */
  setAlpha(alpha: number, values: readonly number[]): void {
    if (alpha === this.alpha) return;
    this.alpha = alpha;
    this.smoothed = [];
    this.acc = 0;
    this.weight = 0;
    this.extend(values);
  }

  /** Brings the smoothed series up to `values.length` points (values only ever grow). */
  extend(values: readonly number[]): readonly number[] {
    if (values.length < this.smoothed.length) {
      this.smoothed = [];
      this.acc = 0;
      this.weight = 0;
    }
    for (let i = this.smoothed.length; i < values.length; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) {
        this.smoothed.push(v);
        continue;
      }
      this.acc = this.alpha * this.acc + (1 - this.alpha) * v;
      this.weight = this.alpha * this.weight + (1 - this.alpha);
      this.smoothed.push(this.acc / this.weight);
    }
    return this.smoothed;
  }

  get values(): readonly number[] {
    return this.smoothed;
  }
}
