// The benchmark report as a Markdown table (readable on a terminal, pasteable into README.md).

function row(cells) {
  return `| ${cells.join(' | ')} |`;
}

const fmt = (x, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : '-');

export function formatTable(report) {
  const compiled = report.settings.compile;
  const head = ['row', 'ours: padding', 'ours ms/step', 'PEFT ms/step', 'ours/PEFT', 'real tok/s ours', 'real tok/s PEFT', 'throughput ours/PEFT',
    ...(compiled ? ['real tok/s PEFT compiled'] : []),
    'padding % ours / PEFT', 'peak RSS MB ours / PEFT', 'first loss ours / PEFT (same padding)', 'eval loss ours / PEFT', 'to first step ms (+ its run)', 'per extra graph ms / MB'];
  const lines = [row(head), row(head.map(() => '---'))];
  for (const r of report.rows) {
    const g = r.extra_graphs ?? [];
    lines.push(row([
      r.row,
      r.padding,
      fmt(r.ours_ms, 1),
      fmt(r.peer_ms, 1),
      fmt(r.ratio, 2),
      fmt(r.ours_real_tokens_per_s),
      fmt(r.peer_real_tokens_per_s),
      fmt(r.throughput_ratio, 2),
      ...(compiled ? [fmt(r.peer_compiled_real_tokens_per_s)] : []),
      `${fmt(100 * r.ours_padding_fraction)} / ${fmt(100 * r.peer_padding_fraction)}`,
      `${fmt(r.ours_peak_rss_mb)} / ${fmt(r.peer_peak_rss_mb)}`,
      `${fmt(r.first_loss.ours_same_padding, 5)} / ${fmt(r.first_loss.peer, 5)}`,
      `${fmt(r.eval_loss.ours, 4)} / ${fmt(r.eval_loss.peer, 4)}`,
      `${fmt(r.first_step_ms)} (+${fmt(r.first_step_done_ms - r.first_step_ms)})`,
      g.length ? `${fmt(g.reduce((s, x) => s + x.ms, 0) / g.length)} / ${fmt(g.reduce((s, x) => s + x.rss_added_mb, 0) / g.length)}` : '-',
    ]));
  }
  const m = report.machine;
  lines.push('');
  lines.push(`Machine: ${m.cpu_model} (${m.cpu_flags.join(', ') || 'no AVX flags read'}), ${m.cores} cores, ${m.memory_gb} GB; ` +
    `${m.threads} threads per side; Node ${m.node}, onnxruntime-node ${m.onnxruntime_node}, torch ${m.torch}.`);
  lines.push(`Load average ${report.load_average.start.join(' ')} at start, ${report.load_average.end.join(' ')} at end; ${report.settings.rounds} interleaved rounds after 3 warm-up steps per process.`);
  return lines.join('\n');
}
