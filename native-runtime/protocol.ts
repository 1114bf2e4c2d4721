// The typed protocol shared by the extension host, the backend server and the webview.
// Host <-> backend: JSON-RPC 2.0 over the backend's stdio (vscode-jsonrpc framing).
// stdout of the backend is the protocol; its logs go to stderr.
// Host <-> webview: postMessage with the WebviewMessage unions at the bottom.
// One constant per message; its direction is in the doc comment. Adding a message:
// add the constant and its params/result types here, then handle it on both sides.
import type { LilyConfig } from './config/types';
import type { MetricLine, RouterLine, RouterStats, RunState, RunStatus, SpectrumReport, SweepMember, TargetInfo } from './runFiles';

export const PROTOCOL_VERSION = 1;

// ---------------------------------------------------------------------------
// Requests (host -> backend)

export const Methods = {
  /** host -> backend. Handshake; returns the backend version and available execution providers. */
  initialize: 'lily/initialize',
  /** host -> backend. Adaptable linear layers of a model, grouped by target suffix. */
  listTargets: 'lily/listTargets',
  /** host -> backend. Schema + semantic validation of a config (file on disk or given text). */
  validateConfig: 'lily/validateConfig',
  /** host -> backend. Trainable parameter count of an adapter config and the LoRA rank at the same budget. */
  budget: 'lily/budget',
  /** host -> backend. Expected peak memory of a config's training step (`lily train --dry-run`), with and without gradient checkpointing. */
  memory: 'lily/memory',
  /** host -> backend. Starts a training run in its own process; returns at once with its run dir. */
  train: 'lily/train',
  /** host -> backend. Asks a running training process to stop after writing a checkpoint. */
  stop: 'lily/stop',
  /** host -> backend. Router statistics and spectra for a run or adapter directory. */
  inspect: 'lily/inspect',
  /** host -> backend. Exports a run's adapter (PEFT, merged ONNX, adapted ONNX). */
  export: 'lily/export',
  /** host -> backend. Graceful shutdown. */
  shutdown: 'lily/shutdown',
} as const;

export interface InitializeParams { clientName: string; protocolVersion: number }
export interface InitializeResult { version: string; protocolVersion: number; providers: string[] }

export interface ListTargetsParams { modelPath: string }
export interface TargetGroup {
  /** Suffix shared by the group, e.g. `attention.self.value`. */
  suffix: string;
  d_in: number;
  d_out: number;
  /** Full module paths in model order. */
  modules: string[];
}
/** A linear weight inside a fused (e.g. com.microsoft) op, out of the adapters' reach. */
export interface HiddenWeight {
  node: string;
  /** `domain.opType`, e.g. `com.microsoft.Attention`. */
  op: string;
  weight: string;
  dims: number[];
  /** What the weight is, e.g. `query, key and value projections in one matrix`. */
  holds: string;
}
export interface ListTargetsResult {
  targets: TargetGroup[];
  /** Linear weights hidden inside fused ops (an ORT-optimized export), when there are any. */
  hidden?: HiddenWeight[];
  /** Token positions the model embeds (its position table's rows), when it has such a table. */
  maxPositions?: number;
  /** `modules_to_save` entries for the model's classification head (`classifier`, `score`), when it has one. */
  headModules?: string[];
}

export interface ConfigDiagnostic {
  /** Path of the offending field, e.g. `["adapter", "num_B"]` (empty for the whole file). */
  path: Array<string | number>;
  message: string;
  severity: 'error' | 'warning';
  /** Nearest valid name for a misspelled key, when there is one. */
  suggestion?: string;
  /**
   * A JSON Schema violation: VS Code's JSON validation reports the same problem from the same
   * schema (`jsonValidation`) as you type, so the editor shows it once (VS Code's) and keeps
   * only the suggestion as a quick fix. The CLI prints every diagnostic.
   */
  fromSchema?: boolean;
}
export interface ValidateConfigParams { configPath: string; text?: string }
export interface ValidateConfigResult { diagnostics: ConfigDiagnostic[] }

export interface BudgetParams { configPath: string; text?: string }
export interface BudgetResult {
  trainable_params: number;
  /** LoRA rank with about the same number of trainable parameters. */
  lora_rank_at_budget: number;
  targets: TargetInfo[];
}

export interface MemoryParams { configPath: string }
/** Bytes per part, as `lily train --dry-run --json` prints them (train/memoryEstimate.ts). */
export interface MemoryParts { weights: number; activations: number; logits: number; adapter: number; optimizer: number; graphs?: number; runtime: number; total: number }
export interface MemoryResult {
  estimate: MemoryParts;
  available: { bytes: number; source: string };
  inputShapes: Record<string, number[]>;
  fits: boolean;
  /** When it does not fit: what it needs and which options would fit. */
  overBudget?: string;
  gradientCheckpointing: boolean;
  /** With gradient checkpointing off: the estimate with it on. */
  withCheckpointing?: MemoryParts;
}

export interface TrainParams {
  configPath: string;
  maxSteps?: number;
  /** Run directory to create (default: a new id under the config's output dir). */
  runDir?: string;
  /** Run directory (or checkpoint directory) to resume from. */
  resume?: string;
  /** Override the adapter method (Compare with LoRA): a LoRA run at the same budget. */
  compareWithLora?: boolean;
  device?: 'auto' | 'cpu' | 'cuda' | 'webgpu';
  threads?: number;
  /** Train on this backend instead of the config's runtime.backend (`torch`: PyTorch + PEFT). */
  backend?: 'onnx' | 'torch';
  /** Torch backend: the Python interpreter. */
  python?: string;
  /** Torch backend: local processes (overrides runtime.processes). */
  processes?: number;
  /** Torch backend: launch template with {script} and {args} (overrides runtime.launch). */
  launch?: string;
}
export interface TrainResult { runId: string; runDir: string; pid: number }

export interface StopParams { runDir: string }
export interface StopResult { stopped: boolean }

export interface InspectParams { path: string; reference?: string }
export interface InspectResult {
  routerStats?: RouterStats;
  spectrum: SpectrumReport;
  /** The adapter's metrics on the reference set (when it has labels). */
  metrics?: Record<string, number>;
  /** The JSON files written (router_stats.json, spectrum.json). */
  files?: string[];
}

export interface ExportParams { runDir: string; format: 'peft' | 'merged-onnx' | 'adapted-onnx'; out?: string }
export interface ExportResult { files: string[]; /** merged-onnx: eval metric difference vs the dynamic model. */ metricDelta?: Record<string, number> }

// ---------------------------------------------------------------------------
// Notifications (backend -> host)

export const Notifications = {
  /** backend -> host. A training run's progress (every logged step). */
  progress: 'lily/progress',
  /** backend -> host. A new line of metrics.jsonl. */
  metrics: 'lily/metrics',
  /** backend -> host. A new line of router.jsonl. */
  router: 'lily/router',
  /** backend -> host. A run changed state (started, completed, failed, stopped). */
  runState: 'lily/runState',
  /** backend -> host. A log line for the output channel. */
  log: 'lily/log',
} as const;

export interface ProgressParams {
  runDir: string;
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  samplesPerSec: number;
  etaSeconds: number;
}
export interface MetricsParams { runDir: string; line: MetricLine }
export interface RouterParams { runDir: string; line: RouterLine }
export interface RunStateParams { runDir: string; state: RunState; error?: string }
export interface LogParams { level: 'info' | 'warn' | 'error'; message: string }

// ---------------------------------------------------------------------------
// Events printed by `lily train --json` (one JSON object per line on stdout). The server
// spawns training processes with --json and relays these as the notifications above.

export type TrainEvent =
  | { event: 'started'; runDir: string; runId: string; pid: number; totalSteps: number; device: string; deviceNote?: string; trainableParams: number }
  | { event: 'progress'; step: number; totalSteps: number; epoch: number; loss: number; samplesPerSec: number; etaSeconds: number }
  | { event: 'metrics'; line: MetricLine }
  | { event: 'router'; line: RouterLine }
  | { event: 'checkpoint'; path: string; step: number }
  | { event: 'finished'; state: RunState; error?: string; runDir: string };

// ---------------------------------------------------------------------------
// Host <-> webview messages (postMessage). The host validates every message from the webview.

/** Everything the dashboard needs to draw a run from scratch. */
export interface RunSnapshot {
  runDir: string;
  status: RunStatus;
  config: LilyConfig | undefined;
  metrics: MetricLine[];
  router: RouterLine[];
  routerStats?: RouterStats;
  spectrum?: SpectrumReport;
}

/**
 * One run of a many-run comparison (the dashboard's "Compare runs" tab): what the overlay and the
 * runs table need, without router lines or inspection results.
 */
export interface CompareRunSnapshot {
  runDir: string;
  status: RunStatus;
  config: LilyConfig | undefined;
  metrics: MetricLine[];
  /** sweep.json when `lily sweep` made the run. */
  sweep?: SweepMember;
}

/** host -> webview */
export type HostToWebview =
  | { type: 'init'; run: RunSnapshot; compare?: RunSnapshot; theme?: 'light' | 'dark' | 'high-contrast' }
  | { type: 'append'; runDir: string; metrics: MetricLine[]; router: RouterLine[] }
  | { type: 'status'; runDir: string; status: RunStatus }
  | { type: 'routerStats'; runDir: string; routerStats: RouterStats }
  | { type: 'spectrum'; runDir: string; spectrum: SpectrumReport }
  | { type: 'runs'; runs: Array<{ runDir: string; name: string; method: string; state: RunState }> }
  /** The runs to compare (replaces any earlier set; empty clears it); `focus` switches to the tab. */
  | { type: 'compareSet'; runs: CompareRunSnapshot[]; focus?: boolean }
  /** New metric lines and/or a new status of one run in the comparison set. */
  | { type: 'compareUpdate'; runDir: string; metrics: MetricLine[]; status?: RunStatus };

/** What the dashboard can ask the host to save (webviews cannot download files). */
export type SaveFileKind = 'png' | 'csv';

/** webview -> host */
export type WebviewToHost =
  | { type: 'ready' }
  | { type: 'selectRun'; runDir: string }
  | { type: 'selectCompare'; runDir: string | null }
  | { type: 'openFile'; path: string }
  /** Asks the user to pick more runs to compare (the host's multi-select quick pick). */
  | { type: 'pickCompareRuns' }
  /** Drops one run from the comparison set. */
  | { type: 'removeCompareRun'; runDir: string }
  /**
   * Save a chart export through a save dialog: `data` is a `data:image/png;base64,` URL for png,
   * the file's text for csv. `name` is the suggested file name (no folders).
   */
  | { type: 'saveFile'; kind: SaveFileKind; name: string; data: string };
