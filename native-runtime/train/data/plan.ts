// Which records make up each training step. Batches are consecutive slices of a per-epoch
// permutation that depends only on (seed, epoch), so the data position of any step is a pure
// function of the step number: a resumed run reads exactly the batches an uninterrupted run
// would have read, with no stored shuffle state.
import { epochPermutation } from '../rng';

/** Batches per mega-batch for length grouping (Hugging Face's LengthGroupedSampler uses 50). */
export const GROUP_MEGABATCH = 50;

export class BatchPlan {
  private cachedEpoch = -1;
  private cachedOrder: Uint32Array | undefined;

  constructor(
    readonly datasetSize: number,
    readonly batchSize: number,
    readonly seed: number,
    readonly shuffle: boolean,
    /** Drop the last partial batch (keeps every step's shapes equal). Ignored when the dataset is smaller than one batch. */
    readonly dropLast: boolean,
    /**
     * data.group_by_length: each record's length (tokens). The epoch's order is cut into
     * mega-batches of GROUP_MEGABATCH batches, each sorted longest first (ties keep their order).
     */
    readonly lengths?: ArrayLike<number>,
  ) {
    if (lengths && lengths.length !== datasetSize) throw new Error(`BatchPlan: ${lengths.length} lengths for ${datasetSize} records`);
    if (datasetSize <= 0) throw new Error('BatchPlan: empty dataset');
    if (batchSize <= 0) throw new Error('BatchPlan: batch size must be positive');
  }

  /** Batches per epoch. */
  get stepsPerEpoch(): number {
    if (this.datasetSize < this.batchSize) return 1;
    return this.dropLast ? Math.floor(this.datasetSize / this.batchSize) : Math.ceil(this.datasetSize / this.batchSize);
  }

  /** Epoch (0-based) and batch within it for a 0-based global step. */
  position(step: number): { epoch: number; batch: number } {
    const spe = this.stepsPerEpoch;
    return { epoch: Math.floor(step / spe), batch: step % spe };
  }

  order(epoch: number): Uint32Array {
    if (epoch !== this.cachedEpoch) {
      const order = this.shuffle ? epochPermutation(this.datasetSize, this.seed, epoch) : Uint32Array.from({ length: this.datasetSize }, (_, i) => i);
      this.cachedOrder = this.lengths ? groupByLength(order, this.lengths, this.batchSize * GROUP_MEGABATCH) : order;
      this.cachedEpoch = epoch;
    }
    return this.cachedOrder!;
  }

  /** Record indices of the batch used at a 0-based global step. */
  indicesForStep(step: number): number[] {
    const { epoch, batch } = this.position(step);
    const order = this.order(epoch);
    const start = batch * this.batchSize;
    return Array.from(order.subarray(start, Math.min(start + this.batchSize, this.datasetSize)));
  }
}

/** `order` cut into slices of `mega` records, each sorted by length, longest first (stable). */
export function groupByLength(order: Uint32Array, lengths: ArrayLike<number>, mega: number): Uint32Array {
  const out = new Uint32Array(order.length);
  for (let s = 0; s < order.length; s += mega) {
    const slice = Array.from(order.subarray(s, Math.min(s + mega, order.length)));
    // Array.prototype.sort is stable: equal lengths keep the shuffled order.
    slice.sort((a, b) => lengths[b] - lengths[a]);
    out.set(slice, s);
  }
  return out;
}

/** Sequential batches covering a dataset once (evaluation). */
export function* sequentialBatches(size: number, batchSize: number): Generator<number[]> {
  for (let s = 0; s < size; s += batchSize) {
    yield Array.from({ length: Math.min(batchSize, size - s) }, (_, k) => s + k);
  }
}
