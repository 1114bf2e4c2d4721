// The benchmark report as a Markdown table (readable on a terminal, pasteable into README.md).

function row(cells) {
  return `| ${cells.join(' | ')} |`;
}

const fmt = (x, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : '-');

export function formatTable(report) {
  const head = ['size (hidden x layers)', 'ours ms', 'torch ms', 'ours/torch', 'tokens/s ours', 'tokens/s torch',
    'GFLOP/s ours (of MatMul)', 'LoRA ms (r)', 'Lily/LoRA', 'to first step ms (+ its run)', 'peak RSS MB ours / torch'];
  const lines = [row(head), row(head.map(() => '---'))];
  for (const s of report.sizes) {
    lines.push(row([
      s.size,
      fmt(s.ours_ms, 1),
      fmt(s.torch_ms, 1),
      fmt(s.ratio, 2),
      fmt(s.ours_tokens_per_s),
      fmt(s.torch_tokens_per_s),
      `${fmt(s.ours_gflops)} (${fmt(100 * s.flops_fraction)}%)`,
      `${fmt(s.lora_ms, 1)} (${s.lora_rank})`,
      fmt(s.lily_over_lora, 2),
      `${fmt(s.first_step_ms)} (+${fmt(s.first_step_done_ms - s.first_step_ms)})`,
      `${fmt(s.ours_peak_rss_mb)} / ${fmt(s.torch_peak_rss_mb)}`,
    ]));
  }
  const m = report.machine;
  const mm = report.sizes.map((s) => s.matmul_gflops);
  lines.push('');
  lines.push(`Machine: ${m.cpu_model} (${m.cpu_flags.join(', ') || 'no AVX flags read'}), ${m.cores} cores, ${m.memory_gb} GB; ` +
    `${m.threads} threads per side; Node ${m.node}, onnxruntime-node ${m.onnxruntime_node}, torch ${m.torch}.`);
  lines.push(`Batch ${report.settings.batch} x seq ${report.settings.seq}; Lily on query,value (stride_A 2, num_B 4, batch routing) + classifier; AdamW; medians of ${report.settings.rounds} interleaved rounds after 2 warm-up steps.`);
  const tm = report.sizes.map((s) => s.torch_matmul_gflops);
  lines.push(`MatMul rate [${report.settings.matmul_shape.join('x')}], GFLOP/s per size: ORT ${mm.map((x) => fmt(x)).join(', ')}; torch ${tm.map((x) => fmt(x)).join(', ')}. ` +
    `Load average ${report.load_average.start.join(' ')} at start, ${report.load_average.end.join(' ')} at end.`);
  return lines.join('\n');
}
