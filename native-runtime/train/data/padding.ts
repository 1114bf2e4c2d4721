// How far a batch is padded (`data.padding`). Examples arrive padded to max_length on the right;
// a batch is then cut back to the length its policy gives, so the step computes on less padding.
// Each distinct length is its own step graph (StepRunner compiles one per batch shape, all
// sharing the trainable and optimizer buffers), so `buckets` bounds how many there are while
// `longest` reproduces Hugging Face's dynamic padding exactly (DataCollatorWithPadding).
import { defaultBuckets, type ResolvedData } from '../../config/resolved';

export type PaddingPolicy = Pick<ResolvedData, 'padding' | 'buckets' | 'max_length'>;

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
