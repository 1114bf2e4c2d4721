// How far a batch is padded (`data.padding`). Examples arrive padded to max_length on the right;
// a batch is then cut back to the length its policy gives, so the step computes on less padding.
// Each distinct length is its own step graph (StepRunner compiles one per batch shape, all
// sharing the trainable and optimizer buffers), so `buckets` bounds how many there are while
// `longest` reproduces Hugging Face's dynamic padding exactly (DataCollatorWithPadding).
import type { ResolvedData } from '../../config/resolved';

export type PaddingPolicy = Pick<ResolvedData, 'padding' | 'buckets' | 'max_length'>;

/**
 * Most default buckets (step graphs) a run may compile: each one a run uses costs a compile on
 * first use and resident memory (measured in README "Padding and packing").
 */
export const MAX_DEFAULT_BUCKETS = 16;
/** Bucket lengths are multiples of 8 (what the kernels like best), and none shorter than 16. */
const STEP_MULTIPLE = 8;
const SHORTEST = 16;

/** The spacing of the default buckets: the smallest multiple of 8 that needs at most MAX_DEFAULT_BUCKETS of them. */
export function bucketStep(maxLength: number): number {
  return STEP_MULTIPLE * Math.max(1, Math.ceil(maxLength / (STEP_MULTIPLE * MAX_DEFAULT_BUCKETS)));
}

/**
 * The default `data.buckets`: every multiple of bucketStep(maxLength) (8 up to max_length 128,
 * 16 up to 256, 32 up to 512, ...) from 16, then max_length. A batch is padded by less than one
 * step beyond its longest row, i.e. by less than 1/16 of max_length (rounded up to 8 tokens) a
 * row. Step time is close to linear in the padded length (BERT 512x6, batch 8: 102/193/296/404 ms
 * at 32/64/96/128), so that bounds the time a step spends on bucket padding the same way. Evenly
 * spaced buckets padded less than a geometric ladder with the same number of graphs on both
 * bench corpora (length-grouped batches: man pages at max_length 512, 2.8% against 4.6%).
 */
export function defaultBuckets(maxLength: number): number[] {
  const step = bucketStep(maxLength);
  const out: number[] = [];
  for (let b = step; b < maxLength; b += step) if (b >= SHORTEST) out.push(b);
  out.push(maxLength);
  return out;
}

/** The sequence length a batch whose longest row has `longest` positions is padded to. */
export function paddedLength(policy: PaddingPolicy, longest: number): number {
  const max = policy.max_length;
  const need = Math.max(1, Math.min(longest, max));
  switch (policy.padding) {
    case 'max_length': return max;
    case 'longest': return need;
    case 'buckets': return (policy.buckets ?? defaultBuckets(max)).find((b) => b >= need && b <= max) ?? max;
  }
}

/** Every length a policy can produce (the step graphs a run may compile); undefined for `longest`. */
export function possibleLengths(policy: PaddingPolicy): number[] | undefined {
  if (policy.padding === 'max_length') return [policy.max_length];
  if (policy.padding === 'longest') return undefined;
  return [...new Set([...(policy.buckets ?? defaultBuckets(policy.max_length)).filter((b) => b <= policy.max_length), policy.max_length])].sort((x, y) => x - y);
}

/**
 * How many step graphs a run may compile: one per possible length, for `longest` every length
 * up to max_length that `batches` batches can reach (each batch has one length).
 */
export function stepGraphCount(policy: PaddingPolicy, batches: number): number {
  return possibleLengths(policy)?.length ?? Math.max(1, Math.min(policy.max_length, batches));
}
