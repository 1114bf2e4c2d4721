// `lily init`'s proposal: which targets to adapt and Lily's shape, following LILY.md's advice
// (r 2-4x the LoRA rank one would use, stride_A 2-4, num_B about layers/stride_A), plus the
// trainable-parameter count and the LoRA rank at the same budget.
import type { LilyAdapterConfig } from '../config/types';
import type { TargetGroup } from '../protocol';

/** Attention projections adapted by default, per architecture family (PEFT's usual choices). */
const PREFERRED: string[][] = [
  ['query', 'value'],
  ['q_proj', 'v_proj'],
  ['q', 'v'],
  ['c_attn'],
  ['qkv'],
  ['query_key_value'],
  ['Wqkv'],
];

const lastPart = (suffix: string) => suffix.split('.').pop() ?? suffix;

/** Target suffixes to adapt when the user names none. */
export function proposeTargets(groups: TargetGroup[]): string[] {
  for (const family of PREFERRED) {
    const found = family.map((name) => groups.find((g) => lastPart(g.suffix) === name && g.modules.length > 1));
    if (found.every((g) => g !== undefined)) return found.map((g) => g!.suffix);
  }
  // Unknown architecture: every group repeated in the most layers (skips heads and poolers).
  const most = Math.max(0, ...groups.map((g) => g.modules.length));
  return groups.filter((g) => g.modules.length === most).map((g) => g.suffix);
}

/** Lily's shape for targets of `layers` layers each with the smallest dimension `dMin`. */
export function proposeLilyShape(layers: number, dMin: number): Pick<LilyAdapterConfig, 'r' | 'stride_A' | 'num_B' | 'scaling'> {
  const loraRank = 8;
  const r = Math.max(1, Math.min(2 * loraRank, Math.floor(dMin / 2)));
  const strideA = layers >= 9 ? 3 : layers >= 4 ? 2 : 1;
  const numB = Math.max(2, Math.ceil(layers / strideA));
  return { r, stride_A: strideA, num_B: numB, scaling: 1 };
}
