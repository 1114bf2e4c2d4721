// The words for a config's expected peak memory (`lily/memory`, i.e. `lily train --dry-run`):
// one line for a notification or a CodeLens, and the parts for its detail. No vscode import.
import type { MemoryParts, MemoryResult } from '../native-runtime/protocol';

export function mb(bytes: number): string {
  return bytes >= 10 * 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GB` : `${Math.round(bytes / 2 ** 20).toLocaleString('en-US')} MB`;
}

export function partsLine(p: MemoryParts): string {
  return `weights ${mb(p.weights)}, activations ${mb(p.activations)}, logits ${mb(p.logits)}, adapter + optimizer ${mb(p.adapter + p.optimizer)}${p.graphs ? `, step graphs ${mb(p.graphs)}` : ''}, runtime ${mb(p.runtime)}`;
}

export interface MemorySummary {
  /** Short: "Peak memory ≈ 3,611 MB of 18,000 MB available · checkpointing on". */
  title: string;
  /** The parts, and what to change when it does not fit or what checkpointing would give. */
  detail: string;
  fits: boolean;
}

export function memorySummary(r: MemoryResult): MemorySummary {
  const ck = r.gradientCheckpointing ? 'gradient checkpointing on' : 'gradient checkpointing off';
  const title = `Peak memory ≈ ${mb(r.estimate.total)} of ${mb(r.available.bytes)} available · ${ck}${r.fits ? '' : ' · does not fit'}`;
  const lines = [`Expected peak: ${partsLine(r.estimate)}.`];
  if (r.withCheckpointing) lines.push(`With training.gradient_checkpointing true: ${mb(r.withCheckpointing.total)} (activations ${mb(r.withCheckpointing.activations)} instead of ${mb(r.estimate.activations)}; about one more forward pass per step).`);
  if (!r.fits && r.overBudget) lines.push(`Does not fit: ${r.overBudget}.`);
  return { title, detail: lines.join(' '), fits: r.fits };
}
