// The memory a run may use, and what to change when its estimate (memoryEstimate.ts) does not
// fit: `lily train` refuses such a run before creating anything (exit 2), `--dry-run` prints
// the same verdict.
import * as fs from 'fs';
import * as os from 'os';
import type { ResolvedConfig } from '../config/resolved';
import { estimateRows, formatMB, type MemoryEstimate } from './memoryEstimate';
import { MAX_DEFAULT_BUCKETS } from './data/padding';

/** Fraction of the available memory a run may plan to use (the estimate is a model, not a promise). */
export const HEADROOM = 0.9;

export interface MemoryPlan {
  config: ResolvedConfig;
  memory: MemoryEstimate;
  /** Bytes available to this process (and where that figure comes from). */
  available: { bytes: number; source: string };
  /** Batch shape the estimate is for, e.g. {input_ids: [16, 128]}. */
  inputShapes: Record<string, number[]>;
  /** Set when the estimate exceeds HEADROOM x available: what is needed and what would fit. */
  overBudget?: string;
  /** Whether the estimate is for a step with training.gradient_checkpointing. */
  gradientCheckpointing: boolean;
  /** With gradient checkpointing off: the estimate with it on (when the model has segments to recompute). */
  withCheckpointing?: MemoryEstimate;
}

function readNumber(file: string): number | undefined {
  try {
    const v = fs.readFileSync(file, 'utf8').trim();
    return /^\d+$/.test(v) ? Number(v) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Memory this process can still use: `LILY_MEMORY_LIMIT_MB` when set (CI, containers, tests),
 * else the smaller of the system's available memory (MemAvailable) and the cgroup's headroom.
 */
export function availableMemory(env: NodeJS.ProcessEnv = process.env): { bytes: number; source: string } {
  const limit = env.LILY_MEMORY_LIMIT_MB;
  if (limit !== undefined && /^\d+(\.\d+)?$/.test(limit)) return { bytes: Number(limit) * 2 ** 20, source: 'LILY_MEMORY_LIMIT_MB' };
  let bytes = os.freemem();
  let source = 'available system memory';
  const max = readNumber('/sys/fs/cgroup/memory.max');
  const cur = readNumber('/sys/fs/cgroup/memory.current');
  if (max !== undefined && cur !== undefined && max - cur < bytes) {
    bytes = Math.max(0, max - cur);
    source = 'the cgroup memory limit';
  }
  return { bytes, source };
}

export function memoryPlan(cfg: ResolvedConfig, memory: MemoryEstimate, inputShapes: Record<string, number[]>, env: NodeJS.ProcessEnv = process.env, withCheckpointing?: MemoryEstimate): MemoryPlan {
  const available = availableMemory(env);
  const budget = available.bytes * HEADROOM;
  const plan: MemoryPlan = { config: cfg, memory, available, inputShapes, gradientCheckpointing: cfg.training.gradient_checkpointing, ...(withCheckpointing ? { withCheckpointing } : {}) };
  if (memory.total <= budget) return plan;
  const options = fitOptions(cfg, memory, budget);
  if (withCheckpointing) {
    options.unshift(`training.gradient_checkpointing true needs about ${formatMB(withCheckpointing.total)} (activations ${formatMB(withCheckpointing.activations)} instead of ${formatMB(memory.activations)})${withCheckpointing.total <= budget ? ' and would fit' : ''}`);
  }
  plan.overBudget = `the run needs about ${formatMB(memory.total)} (${estimateRows(memory).slice(0, -1).map(([k, v]) => `${k} ${v}`).join(', ')}) but ${formatMB(available.bytes)} is available (${available.source}); ${options.join('; ')}`;
  return plan;
}

/**
 * Options that would fit, from the estimate's parts: activations and logits grow about
 * linearly with the tokens per step (attention scores with the square of the length, so a
 * shorter max_length helps at least this much); weights, adapter and optimizer do not.
 */
export function fitOptions(cfg: ResolvedConfig, m: MemoryEstimate, budget: number): string[] {
  const perTokens = m.activations + m.logits;
  const fixed = m.total - perTokens;
  const out: string[] = [];
  if (fixed < budget && perTokens > 0) {
    const share = (budget - fixed) / perTokens;
    const batch = Math.floor(cfg.training.batch_size * share);
    const len = Math.floor(cfg.data.max_length * share);
    if (batch >= 1) out.push(`training.batch_size ${batch} (now ${cfg.training.batch_size}) would fit`);
    if (len >= 8) out.push(`data.max_length ${len} (now ${cfg.data.max_length}) would fit`);
  }
  if ((cfg.model.weights_dtype ?? 'float32') === 'float32' && m.weights >= 64 * 2 ** 20) {
    out.push('model.weights_dtype "int4" (or "int8", "bfloat16") holds the frozen linear weights in about 1/6 (1/4, 1/2) of their float32 size, once for all sessions');
  }
  if (m.graphs >= 64 * 2 ** 20 && cfg.data.padding === 'longest') {
    out.push(`data.padding "buckets" compiles at most ${MAX_DEFAULT_BUCKETS} step graphs instead of one per distinct length (now ${formatMB(m.graphs)} for its step graphs)`);
  }
  if (cfg.data.eval && m.weights / 3 >= 2 ** 20) {
    const oneCopy = m.weights / 3;
    out.push(`without data.eval the run saves the eval session's copy of the weights (about ${formatMB(oneCopy)})`);
  }
  if (out.length === 0 || fixed >= budget) {
    out.push(`what does not shrink with the batch (weights ${formatMB(m.weights)}, adapter and optimizer ${formatMB(m.adapter + m.optimizer)}, runtime ${formatMB(m.runtime)}) already takes ${formatMB(fixed)}: use a smaller model or a machine with more memory`);
  }
  return out;
}
