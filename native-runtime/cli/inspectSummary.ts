// The readable summary `lily inspect` prints: per target its layers, experts, routing entropy
// and the ranks its ΔW reach, next to the bound r and the LoRA rank at the same budget.
import type { RouterStats, SpectrumReport } from '../runFiles';

const f2 = (x: number) => x.toFixed(2);

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => '  ' + r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd());
}

export function formatInspection(spectrum: SpectrumReport, stats: RouterStats | undefined, metrics?: Record<string, number>): string {
  const lines: string[] = [];
  const ref = stats ? `${stats.reference} (${stats.samples} samples)` : spectrum.reference ?? 'none';
  lines.push(`${spectrum.method} adapter, step ${spectrum.step}; reference: ${ref}`);
  if (metrics) lines.push(`metrics on the reference: ${Object.entries(metrics).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')}`);
  for (const t of spectrum.targets) {
    const st = stats?.targets.find((x) => x.target === t.target);
    const groups = new Set(t.layers.map((l) => l.a_group)).size;
    const experts = st ? `, ${st.num_B} B experts` : t.expert_similarity ? `, ${t.expert_similarity.length} B experts` : '';
    const meanH = st ? st.per_layer.reduce((a, l) => a + l.entropy, 0) / Math.max(1, st.per_layer.length) : undefined;
    lines.push('');
    lines.push(`target ${t.target} [${t.d_in}x${t.d_out}]: ${t.layers.length} layers${spectrum.method === 'lily' ? `, ${groups} A group${groups === 1 ? '' : 's'}` : ''}${experts}, r=${t.r}, ` +
      `${t.trainable_params.toLocaleString('en-US')} params (LoRA at this budget: r=${t.lora_rank_at_budget})` +
      (meanH !== undefined ? `; mean routing entropy ${f2(meanH)} nats (max ${f2(Math.log(st!.num_B))})` : ''));
    const header = ['layer', 'A', ...(st ? ['mean p', 'H(p)', 'H(token)'] : []), 'rank', 'eff.', 'stable'];
    const rows = t.layers.map((l) => {
      const r = st?.per_layer.find((p) => p.module === l.module);
      return [
        l.module, String(l.a_group),
        ...(st ? [r ? r.mean.map(f2).join(' ') : '-', r ? f2(r.entropy) : '-', r ? f2(r.token_entropy) : '-'] : []),
        String(l.numerical_rank), f2(l.effective_rank), f2(l.stable_rank),
      ];
    });
    lines.push(...table([header, ...rows]));
    if (t.expert_similarity) lines.push(`  expert similarity (cosine): ${t.expert_similarity.map((row) => `[${row.map(f2).join(' ')}]`).join(' ')}`);
  }
  return lines.join('\n');
}
