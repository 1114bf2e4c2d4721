// One layout per adapted target (rows of every per-target chart): its layers with module names
// and A groups, and the number of B experts. A run reports targets in up to three places that
// appear at different times (router.jsonl from the first logged step, router_stats.json and
// spectrum.json at each evaluation); merge them so charts can draw as soon as anything exists.
import type { LilyConfig } from '../../../native-runtime/config/types';
import type { RouterLine, RouterStats, SpectrumReport } from '../../../native-runtime/runFiles';

export interface LayerLayout {
  module: string;
  index: number;
  a_group: number;
}

export interface TargetLayout {
  target: string;
  layers: LayerLayout[];
  /** Number of B experts (0 when unknown, e.g. a LoRA run). */
  numB: number;
}

export function targetLayouts(
  config: LilyConfig | undefined,
  routerStats: RouterStats | undefined,
  spectrum: SpectrumReport | undefined,
  router: readonly RouterLine[],
): TargetLayout[] {
  const byName = new Map<string, TargetLayout>();
  const strideA = config?.adapter.method === 'lily' ? config.adapter.stride_A ?? 1 : 1;
  for (const t of routerStats?.targets ?? []) {
    byName.set(t.target, { target: t.target, layers: t.layers.map((l) => ({ ...l })), numB: t.num_B });
  }
  for (const t of spectrum?.targets ?? []) {
    if (byName.has(t.target)) continue;
    byName.set(t.target, {
      target: t.target,
      layers: t.layers.length ? t.layers.map((l, index) => ({ module: l.module, index, a_group: l.a_group })) : [],
      numB: t.expert_similarity?.length ?? 0,
    });
  }
  const firstLine = router[0];
  if (firstLine) {
    for (const [name, rows] of Object.entries(firstLine.targets)) {
      const known = byName.get(name);
      if (known) {
        if (!known.numB) known.numB = rows[0]?.length ?? 0;
        continue;
      }
      byName.set(name, {
        target: name,
        layers: rows.map((_, index) => ({ module: `${name} #${index}`, index, a_group: Math.floor(index / strideA) })),
        numB: rows[0]?.length ?? 0,
      });
    }
  }
  return [...byName.values()];
}
