// The run directory: the contract between the backend (which writes it, atomically) and the
// extension and dashboard (which read and watch it). These types are shared by all three;
// ARCHITECTURE.md documents the layout. Field names are snake_case because they are files
// users read and tools outside this project parse.
//
//   <output.dir>/<run-id>/
//     config.json          the resolved config (defaults filled in, paths absolute;
//                          training.max_steps is the run's effective total, which a resume keeps)
//     status.json          RunStatus, rewritten atomically on every change
//     metrics.jsonl        one MetricLine per logged step / evaluation (append-only)
//     router.jsonl         one RouterLine per logged step (append-only)
//     router_stats.json    RouterStats over the reference set, at each evaluation
//     spectrum.json        SpectrumReport, at each evaluation
//     checkpoints/step-<N>/  trainer state (adapter tensors, optimizer, data position, rng, the
//                          unfinished logging window); resuming from step N removes newer ones
//     .lock                held by the one process writing the run (pid + start time; io/runLock.ts)
//     adapter/             at the end: PEFT format (adapter_config.json + adapter_model.safetensors)
//                          and adapter.lily.safetensors (each shared tensor stored once)

export const RUN_FILES = {
  config: 'config.json',
  status: 'status.json',
  metrics: 'metrics.jsonl',
  router: 'router.jsonl',
  routerStats: 'router_stats.json',
  spectrum: 'spectrum.json',
  checkpoints: 'checkpoints',
  adapter: 'adapter',
  /** The one-writer lock (io/runLock.ts): present while a process writes the run. */
  lock: '.lock',
  /** SweepMember: present when `lily sweep` started the run as one point of a grid. */
  sweep: 'sweep.json',
} as const;

/** sweep.json: which sweep a run belongs to and the values it overrides (cli/sweepCommand.ts). */
export interface SweepMember {
  /** Shared by every run of one `lily sweep` invocation. */
  sweep_id: string;
  /** The sweep's name: the config's name. */
  name: string;
  /** 0-based position in the grid, and the grid's size. */
  index: number;
  total: number;
  /** Field path ("training.lr") -> the value this run uses. */
  overrides: Record<string, unknown>;
  /** The config the sweep started from. */
  config_path: string;
  /** How many points trained at once (`--parallel`), and the intra-op threads this one had. */
  parallel?: number;
  threads?: number;
  /** Process id of the `lily sweep` process: SIGTERM stops the whole sweep (Stop on the sweep row). */
  sweep_pid?: number;
}

export type RunState = 'running' | 'completed' | 'failed' | 'stopped';

export interface RunStatus {
  run_id: string;
  /** Display name: the config's `name` or its file name. */
  name: string;
  state: RunState;
  /** Process id of the training process (meaningful while `state` is `running`). */
  pid: number;
  method: 'lily' | 'lora';
  task: string;
  step: number;
  total_steps: number;
  epoch: number;
  /** ISO 8601 times. */
  started_at: string;
  updated_at: string;
  ended_at?: string;
  /** Failure or stop reason, in words a user can act on. */
  error?: string;
  /** The execution provider actually used, and why when it differs from the requested one. */
  device: string;
  device_note?: string;
  /** Absolute path of the config file the run came from. */
  config_path: string;
  trainable_params: number;
  /** Most recent training loss and throughput, for the Runs view. */
  loss?: number;
  samples_per_s?: number;
  eta_s?: number;
  /** Relative path (under the run dir) of the newest complete checkpoint. */
  last_checkpoint?: string;
  /** Latest eval metrics. */
  eval?: Record<string, number>;
  /** Eval metrics before training (step 0), for before/after comparison. */
  eval_before?: Record<string, number>;
}

export interface TrainMetricLine {
  type: 'train';
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  grad_norm: number;
  samples_per_s: number;
  tokens_per_s: number;
  /** Seconds since the run started. */
  time_s: number;
}

export interface EvalMetricLine {
  type: 'eval';
  step: number;
  epoch: number;
  /** Task metrics: `loss` always; `accuracy`, `f1` (macro) for classification;
   *  `mse`, `pearson` for regression; `perplexity` for causal LM. */
  metrics: Record<string, number>;
  time_s: number;
}

export type MetricLine = TrainMetricLine | EvalMetricLine;

/** Mean router probabilities over the B experts at one logged step (training batches). */
export interface RouterLine {
  step: number;
  /** Per target suffix: one row per adapted layer (model order), one column per B expert. */
  targets: Record<string, number[][]>;
}

export interface AdapterLayerInfo {
  /** Module path, e.g. `encoder.layer.3.attention.self.value`. */
  module: string;
  /** Index of the layer within its target (0-based, model order). */
  index: number;
  /** Which shared A projector it uses (`floor(index / stride_A)`). */
  a_group: number;
}

export interface TargetInfo {
  /** The target's suffix (or regex) and weight shape define the sharing group. */
  target: string;
  d_in: number;
  d_out: number;
  layers: AdapterLayerInfo[];
}

/** Router statistics over a reference set (the eval set by default). */
export interface RouterStats {
  step: number;
  /** What the statistics were computed on, e.g. the eval file path. */
  reference: string;
  samples: number;
  targets: Array<TargetInfo & {
    num_B: number;
    per_layer: Array<{
      module: string;
      /** Mean probability per B expert. */
      mean: number[];
      /** Entropy (nats) of `mean`. */
      entropy: number;
      /** Mean of per-token entropies (how decisive routing is per token). */
      token_entropy: number;
      /** Classification only: mean probabilities per class label, keyed by label name. */
      per_class?: Record<string, number[]>;
    }>;
    /** Per-token probabilities for one chosen input: [layer][token][expert], with its tokens. */
    example?: { tokens: string[]; probs: number[][][] };
  }>;
}

export interface LayerSpectrum {
  module: string;
  a_group: number;
  /** Singular values of ΔW, descending. */
  singular_values: number[];
  numerical_rank: number;
  effective_rank: number;
  stable_rank: number;
  /** Lily: the router mixture p (mean over the reference set) that B_mix was built from. */
  mixture?: number[];
}

export interface SpectrumReport {
  step: number;
  method: 'lily' | 'lora';
  /** What the Lily mixtures were computed on (the reference set), or why they are uniform. */
  reference?: string;
  targets: Array<Omit<TargetInfo, 'layers'> & {
    /** The rank bound r of this adapter. */
    r: number;
    /** The LoRA rank with the same trainable-parameter count for this target. */
    lora_rank_at_budget: number;
    trainable_params: number;
    layers: LayerSpectrum[];
    /** Lily only: cosine similarity between B experts, [num_B][num_B]. */
    expert_similarity?: number[][];
  }>;
}

/**
 * The files a trainer writes, by kind: the root of the generated JSON Schema
 * `schemas/run-files.schema.json` (`npm run schema`), which writers in other languages (the torch
 * backend's Python) are validated against in tests, so their runs read exactly like the engine's.
 */
export interface RunFilesContract {
  /** status.json */
  status: RunStatus;
  /** One line of metrics.jsonl. */
  metric: MetricLine;
  /** One line of router.jsonl. */
  router: RouterLine;
  /** router_stats.json */
  router_stats: RouterStats;
  /** spectrum.json */
  spectrum: SpectrumReport;
}
