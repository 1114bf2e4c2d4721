// The memory bench's models and configurations (bench/memory.mjs), the issue #17 goals checked
// against measured rows, and the Markdown table.

export const WEIGHTS_DTYPES = ['float32', 'bfloat16', 'int8', 'int4'];
const MB = 2 ** 20;
const GB = 2 ** 30;
/** The 7B goal's budget: a 24 GB laptop. */
const LAPTOP_MB = 24 * 1024;

/** Our engine's configurations for one weights dtype: frozen weights shared between sessions, chunked LM loss. */
function ours(dtype, extra = {}, label = '') {
  return {
    label: `ours ${dtype}${label}`,
    dtype,
    options: { shareFrozenWeights: true, ...(dtype === 'float32' ? {} : { weightsDtype: dtype }), ...extra },
  };
}

const CKPT = { gradientCheckpointing: true };

const QWEN05B = { vocab_size: 151936, hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, max_position_embeddings: 32768, tie_word_embeddings: true, rope_theta: 1000000.0 };
/** Llama-2-7B's shape (no grouped-query attention). */
const LLAMA7B = { vocab_size: 32000, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 32, max_position_embeddings: 4096, rms_norm_eps: 1e-5, tie_word_embeddings: false };

export const MODELS = {
  small: {
    title: 'Qwen2-style, vocab 8k, d 256, 2 layers',
    arch: 'qwen2', batch: 8, seq: 128, steps: 3,
    config: { vocab_size: 8000, hidden_size: 256, intermediate_size: 1024, num_hidden_layers: 2, num_attention_heads: 8, num_key_value_heads: 2, max_position_embeddings: 1024 },
    variants: (dtypes) => [...dtypes.map((d) => ours(d)), ...(dtypes.includes('float32') ? [ours('float32', { lossChunks: 'off' }, ', plain loss')] : [])],
  },
  qwen05b: {
    title: 'Qwen2.5-0.5B-shaped (24 layers, vocab 151,936, d 896, GQA 14/2, tied embeddings)',
    arch: 'qwen2', batch: 4, seq: 512, steps: 2,
    config: QWEN05B,
    // Without recomputation float32 only (the reference); every dtype with it.
    variants: (dtypes) => [...(dtypes.includes('float32') ? [ours('float32')] : []), ...dtypes.map((d) => ours(d, CKPT, ', checkpointing'))],
  },
  llama7b: {
    title: 'Llama-2-7B-shaped (32 layers, d 4096, vocab 32,000, 32 heads)',
    arch: 'llama', batch: 1, seq: 512, steps: 1,
    config: LLAMA7B,
    /** Written by stream_decoder.py (27 GB of float32: more than the machine's memory). */
    streamed: true,
    diskMb: 32 * 1024,
    // The first run quantizes the 27 GB file and caches the result; the second reads the cache.
    variants: (dtypes) => dtypes.filter((d) => d === 'int4').flatMap((d) => [ours(d, CKPT, ', checkpointing'), ours(d, CKPT, ', checkpointing')]),
  },
};

const BYTES = { float32: 4, bfloat16: 2 };

/** Whether the peer can be tried: its weights alone in `dtype` must fit under the limit. */
export function peerFits(m, dtype, limitMb) {
  const need = (m.parameters * BYTES[dtype]) / MB;
  if (need > limitMb) return { fits: false, why: `not run: its ${dtype} weights alone are ${(need / 1024).toFixed(1)} GB, ${(limitMb / 1024).toFixed(1)} GB available` };
  return { fits: true };
}

const measured = (r) => r && !r.error && !r.skipped && Number.isFinite(r.peak_rss_mb);
/** The lowest measured peak among the rows of `who` in `dtype` (any options), else the first such row (its error). */
function find(rows, model, who, dtype) {
  const all = rows.filter((r) => r.model === model && r.who === who && r.weights_dtype === dtype);
  const ok = all.filter(measured).sort((a, b) => a.peak_rss_mb - b.peak_rss_mb);
  return ok[0] ?? all[0];
}

/** Issue #17's goals against the rows: met true/false, or null when not measured. */
export function goals(rows, models) {
  const out = [];
  const q = models.qwen05b;
  if (q?.parameters) {
    const fp32 = (q.parameters * 4) / MB;
    const f = find(rows, 'qwen05b', 'ours', 'float32');
    out.push({ goal: `0.5B at ${q.batch}x${q.seq}, float32 weights: peak below 2x its fp32 weights (${Math.round(2 * fp32)} MB)`, measured_mb: measured(f) ? f.peak_rss_mb : null, row: f?.label, met: measured(f) ? f.peak_rss_mb < 2 * fp32 : null, why: measured(f) ? undefined : f?.error ?? 'not run' });
    const i = find(rows, 'qwen05b', 'ours', 'int4');
    out.push({ goal: `0.5B at ${q.batch}x${q.seq}, int4 weights: peak below its fp32 weights (${Math.round(fp32)} MB)`, measured_mb: measured(i) ? i.peak_rss_mb : null, row: i?.label, met: measured(i) ? i.peak_rss_mb < fp32 : null, why: measured(i) ? undefined : i?.error ?? 'not run' });
  }
  const l = models.llama7b;
  if (l) {
    const i = find(rows, 'llama7b', 'ours', 'int4');
    out.push({ goal: `7B at ${l.batch}x${l.seq}, int4 weights: a step within 24 GB (${LAPTOP_MB} MB)`, measured_mb: measured(i) ? i.peak_rss_mb : null, row: i?.label, met: measured(i) ? i.peak_rss_mb <= LAPTOP_MB : null, why: measured(i) ? undefined : i?.error ?? 'not run' });
  }
  for (const model of Object.keys(models)) {
    for (const dtype of ['float32', 'bfloat16']) {
      const o = find(rows, model, 'ours', dtype);
      const p = find(rows, model, 'peer', dtype);
      if (!o && !p) continue;
      const both = measured(o) && measured(p);
      out.push({ goal: `${model} ${dtype}: peak no higher than the peer's`, measured_mb: both ? [o.peak_rss_mb, p.peak_rss_mb] : null, met: both ? o.peak_rss_mb <= p.peak_rss_mb : null, why: both ? undefined : [o && !measured(o) ? `ours: ${o.error ?? o.skipped}` : null, p && !measured(p) ? `peer: ${p.error ?? p.skipped}` : null, !o ? 'ours not run' : null, !p ? 'peer not run' : null].filter(Boolean).join('; ') });
    }
  }
  return out;
}

const cell = (v, f = (x) => x) => (v === undefined || v === null || Number.isNaN(v) ? '-' : f(v));
const secs = (ms) => (ms / 1000).toFixed(1);

/** Time to the end of the first step: ours load + build + session + its first run; the peer's build + first step. */
export function firstStepDoneMs(r) {
  return r.first_step_done_ms ?? (r.first_step_ms !== undefined && r.first_run_ms !== undefined ? r.first_step_ms + r.first_run_ms : undefined);
}

export function formatMemoryTable(report) {
  const lines = ['| model | batch | run | peak RSS MB | peak / fp32 weights | estimate MB | to first step done s | step s | load avg before / after |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- |'];
  let last = '';
  for (const r of report.rows) {
    const m = report.models[r.model];
    const fp32Mb = m?.parameters ? (m.parameters * 4) / MB : undefined;
    const head = r.model === last ? ['', ''] : [`${m?.title ?? r.model}${m?.parameters ? `, ${(m.parameters / 1e9).toFixed(2)}B parameters (${(m.parameters * 4 / GB).toFixed(2)} GB fp32)` : ''}`, r.shape.replace('x', ' × ')];
    last = r.model;
    // One step only (the 7B row): its time is the first run's.
    const step = r.step_ms ?? (r.steps === 1 ? r.first_run_ms : undefined);
    const peak = r.skipped ?? r.error ?? cell(r.peak_rss_mb);
    const cache = r.quantization ? (r.quantization.from_cache ? ' (quantized weights from the cache)' : ` (quantized at start: ${secs(r.quantization.ms)} s)`) : '';
    lines.push(`| ${[...head, r.label + cache, peak, cell(r.peak_rss_mb, (x) => (fp32Mb ? (x / fp32Mb).toFixed(2) : '-')), cell(r.estimate_mb?.total), cell(firstStepDoneMs(r), secs), cell(step, secs), r.load_before !== undefined ? `${r.load_before} / ${r.load_after}` : '-'].join(' | ')} |`);
  }
  lines.push('');
  lines.push('Goals (issue #17):');
  for (const g of report.goals) {
    const v = g.measured_mb === null ? '' : Array.isArray(g.measured_mb) ? ` (ours ${g.measured_mb[0]} MB, peer ${g.measured_mb[1]} MB)` : ` (${g.measured_mb} MB, ${g.row})`;
    lines.push(`- ${g.goal}: ${g.met === null ? `not measured${g.why ? `: ${g.why}` : ''}` : g.met ? 'met' : 'missed'}${v}`);
  }
  const mc = report.machine;
  lines.push('');
  lines.push(`Machine: ${mc.cpu_model}, ${mc.cores} cores, ${mc.memory_gb} GB; ${mc.threads} threads; Node ${mc.node}, onnxruntime-node ${mc.onnxruntime_node}, torch ${mc.torch}. ` +
    `Load average ${report.load_average.start.join(' ')} at start, ${report.load_average.end.join(' ')} at end; ${report.duration_s} s in all.`);
  return lines.join('\n');
}
