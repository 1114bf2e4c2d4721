// The training loop of `lily train` (it runs in the CLI's process; the server spawns that
// process). Two phases:
//   prepareTraining  validates everything (config vs model, data lines, labels) and builds the
//                    step graphs, writing nothing: invalid input never leaves a run directory.
//   runTraining      creates (or, when resuming, reopens) the run directory and trains: eval at
//                    step 0, logged train metrics and router means, periodic eval + checkpoints,
//                    the final adapter (PEFT folder + compact file). NaN/inf loss ends the run as
//                    `failed` without saving the bad state; SIGINT/SIGTERM (or `signal`) end it as
//                    `stopped` after a checkpoint.
// Resuming reproduces an uninterrupted run exactly: the data order of every step is a function of
// (seed, step) (data/plan.ts), and the checkpoint holds parameters, optimizer moments and step.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loraRankAtBudget, lilyParamCount, type BudgetTarget } from '../adapters/budget';
import { resolveSavedTensors } from '../adapters/modulesToSave';
import { hiddenLinearWeights, hiddenWeightsNote } from '../adapters/fusedOps';
import { findLinearLayers, matchTargets } from '../adapters/targets';
import { resolveDivergence, type ResolvedConfig } from '../config/resolved';
import { ConfigError } from '../config/validate';
import type { AdapterWeights, SavedTensorSpec } from '../io/adapterWeights';
import { readJsonIfValid, readJsonl, writeFileAtomic } from '../io/atomic';
import { CHECKPOINT_FILES, loadCheckpoint, newestIntactCheckpoint, removeCheckpointsAfter, saveCheckpoint, type TrainerState } from '../io/checkpoint';
import { peftInitialValues } from '../inspect/peftImport';
import { createRunDir, isProcessAlive, RunWriter } from '../io/runDir';
import { acquireRunLock, LOCK_FILE, type RunLock } from '../io/runLock';
import type { Model } from '../onnx/ir';
import { loadModel } from '../onnx/proto';
import { opsetTooOld } from '../onnx/opset';
import { bindEmptyPast, CacheExportError } from '../onnx/kvCache';
import { autoTriesGpu, type DeviceRequest } from '../onnx/session';
import type { TrainEvent } from '../protocol';
import { RUN_FILES, type MetricLine, type RouterLine, type RunState, type RunStatus, type TargetInfo } from '../runFiles';
import { LABELS } from './data/batch';
import { openData, type DataPipeline } from './data/pipeline';
import { EvalAccumulator, type Metrics } from './metrics';
import { Rng, type RngState } from './rng';
import { learningRate } from './schedule';
import { DivergenceMonitor, divergenceHint, maxAbsOf, type DivergenceState } from './divergence';
import { fitMaxLength } from './maxLength';
import { tieOutputHead } from './tiedHead';
import { stepBuildConfigError } from './stepErrors';
import { autoPackWeights, StepRunner, weightsLayout, type RunnerOptions } from './stepRunner';
import { buildTrainingStep } from './step';
import { stepGraphCount } from './data/padding';
import { estimateStepMemory, formatMB, type MemoryEstimate } from './memoryEstimate';
import { memoryPlan, type MemoryPlan } from './memoryBudget';
import { quantizedWeightsFor, releaseFloatWeights, withDequantizedWeights } from '../quant/forConfig';

// ---------------------------------------------------------------------------------------------
// Public types

export interface TrainRequest {
  /** The validated, resolved config (ignored when resuming: the run's config.json is used). */
  config: ResolvedConfig;
  /** Overrides training.max_steps (and epochs) of a new run; recorded in its config.json. Not with `resume`. */
  maxSteps?: number;
  /** Run directory to create instead of a new `<output.dir>/<id>`. */
  runDir?: string;
  /** A run directory (its latest checkpoint) or a checkpoint directory to continue. */
  resume?: string;
  /** Train LoRA at Lily's trainable-parameter budget instead (run name suffixed `-lora`). */
  compareLora?: boolean;
  device?: DeviceRequest;
  threads?: number;
  /** Evaluation only (`lily eval`): no training session is opened; the runner cannot step. */
  evalOnly?: boolean;
  /** Where preparation reports what it did on the user's behalf (e.g. a stale lock removed). */
  log?: (message: string) => void;
  /** Start even when the memory estimate exceeds the available memory (default: refuse, exit 2). */
  ignoreMemoryEstimate?: boolean;
}

/** What an evaluation hook gets (router statistics and spectra are written from here). */
export interface EvaluateContext {
  step: number;
  config: ResolvedConfig;
  writer: RunWriter;
  targets: TargetInfo[];
  metrics: Metrics;
  log: (message: string) => void;
}

/** Called after each evaluation (not for step 0 of a resumed run). Errors are logged, not fatal. */
export type EvaluateHook = (runner: StepRunner, evalData: DataPipeline, ctx: EvaluateContext) => Promise<void> | void;

export interface TrainHooks {
  onEvent?: (e: TrainEvent) => void;
  log?: (message: string) => void;
  onEvaluate?: EvaluateHook[];
  /** Aborting it stops the run like SIGINT (checkpoint, state `stopped`). */
  signal?: AbortSignal;
  /** Install SIGINT/SIGTERM handlers for the duration of the run (the CLI does). */
  handleSignals?: boolean;
}

export interface TrainOutcome {
  state: RunState;
  runDir: string;
  runId: string;
  step: number;
  totalSteps: number;
  evalBefore?: Metrics;
  evalAfter?: Metrics;
  error?: string;
  lastCheckpoint?: string;
}

/** Everything validated and built, nothing written yet. */
export interface PreparedTraining {
  config: ResolvedConfig;
  model: Model;
  data: DataPipeline;
  runner: StepRunner;
  totalSteps: number;
  trainableParams: number;
  targets: TargetInfo[];
  saved: SavedTensorSpec[];
  resume?: { runDir: string; checkpoint: string };
  request: TrainRequest;
  /** Expected peak memory of the run, modelled from its step graphs (memoryEstimate.ts). */
  memory: MemoryEstimate;
  /** The run directory's one-writer lock (taken by a resume before anything is read or written; by runTraining for a new run); runTraining releases it. */
  lock?: RunLock;
}

// ---------------------------------------------------------------------------------------------
// Preparation

function configError(cfg: ResolvedConfig, fieldPath: string[], message: string): ConfigError {
  return new ConfigError(cfg.configPath, [{ path: fieldPath, severity: 'error', message: `${fieldPath.join('.')}: ${message}` }]);
}

/**
 * The model a run's adapter belongs to, for inspection, evaluation and exports: with
 * model.weights_dtype other than float32, the frozen weights hold their rounded values (from
 * the same cache training used), so that these compute what the adapter was trained on.
 */
export function loadRunModel(cfg: ResolvedConfig, log?: (msg: string) => void): Model {
  const model = loadConfigModel(cfg);
  return withDequantizedWeights(model, quantizedWeightsFor(cfg, model, log));
}

/** With weights_dtype, external-data tensors from this size on are read one at a time (onnx/proto.ts lazyExternalBytes). */
const LAZY_WEIGHT_BYTES = 1 << 20;

/**
 * Loads the config's model; a missing or broken file is a config error on `model.path`. An
 * output head stored as a copy of the embedding table (tied embeddings) is made to read the
 * table instead, and the copy dropped (train/tiedHead.ts).
 */
export function loadConfigModel(cfg: ResolvedConfig, opts: { lazyExternalBytes?: number; log?: (msg: string) => void } = {}): Model {
  if (!fs.existsSync(cfg.model.path)) throw configError(cfg, ['model', 'path'], `model file not found: ${cfg.model.path} (relative paths are resolved against the config's folder)`);
  let model: Model;
  try {
    model = loadModel(cfg.model.path, opts);
  } catch (e) {
    throw configError(cfg, ['model', 'path'], `cannot load the model (${(e as Error).message}); the file may be truncated or not ONNX: re-export or copy it again`);
  }
  if (model.graph.nodes.length === 0) throw configError(cfg, ['model', 'path'], `${cfg.model.path} has an empty graph; re-export the model`);
  // Before any other work: an old export fails in many places, and this is the message to see.
  const tooOld = opsetTooOld(model);
  if (tooOld) throw configError(cfg, ['model', 'path'], tooOld);
  // Decoder exports with a KV cache: train on an empty past (or say which export to use).
  try {
    bindEmptyPast(model);
  } catch (e) {
    if (e instanceof CacheExportError) throw configError(cfg, ['model', 'path'], e.message);
    throw e;
  }
  // A head or table that training updates (modules_to_save) keeps its own copy.
  const saved = cfg.adapter.modules_to_save?.length ? resolveSavedTensors(model, findLinearLayers(model), cfg.adapter.modules_to_save) : [];
  const tied = tieOutputHead(model, { logits: cfg.model.output, trained: new Set(saved.map((s) => s.name)), modelPath: cfg.model.path });
  if (tied) opts.log?.(`The output head ${tied.head} equals the embedding table ${tied.table}: the head reads the table (one copy in memory)`);
  return model;
}

/** Model inputs the data must provide: `model.inputs` or every graph input. */
function dataInputsOf(cfg: ResolvedConfig, model: Model) {
  const inputs = model.graph.inputs;
  if (!cfg.model.inputs) return inputs;
  const all = inputs.map((i) => i.name).join(', ');
  const listed = cfg.model.inputs.map((name) => {
    const v = inputs.find((i) => i.name === name);
    if (!v) throw configError(cfg, ['model', 'inputs'], `"${name}" is not an input of the model (inputs: ${all})`);
    return v;
  });
  // The step feeds only what the data provides: every graph input needs a value each batch.
  const missing = inputs.filter((i) => !cfg.model.inputs!.includes(i.name));
  if (missing.length) {
    throw configError(cfg, ['model', 'inputs'], `leaves out ${missing.map((i) => `"${i.name}"`).join(', ')}, which the model needs; list every input of the model (${all}), or remove model.inputs to use them all`);
  }
  return listed;
}

function logitsClassesOf(cfg: ResolvedConfig, model: Model): number | undefined {
  const name = cfg.model.output ?? model.graph.outputs[0]?.name;
  const out = model.graph.outputs.find((o) => o.name === name);
  if (!out) throw configError(cfg, ['model', 'output'], `"${name}" is not an output of the model (outputs: ${model.graph.outputs.map((o) => o.name).join(', ')})`);
  if (cfg.model.task === 'regression') return undefined;
  const last = out.shape?.[out.shape.length - 1];
  return typeof last === 'number' && cfg.model.task !== 'causal-lm' ? last : undefined;
}

/** Targets (sharing groups) the adapter matches, as TargetInfo; a mismatch is a config error. */
export function matchedTargets(cfg: ResolvedConfig, model: Model): TargetInfo[] {
  let matched;
  try {
    matched = matchTargets(findLinearLayers(model), cfg.adapter);
  } catch (e) {
    let msg = (e as Error).message;
    const field = /^adapter\.(\w+)/.exec(msg)?.[1] ?? 'target_modules';
    // Targets missing because an optimizer fused them away: say where they went.
    const hidden = hiddenWeightsNote(hiddenLinearWeights(model));
    if (hidden) msg += `. ${hidden}`;
    throw new ConfigError(cfg.configPath, [{ path: ['adapter', field], severity: 'error', message: msg }]);
  }
  const strideA = cfg.adapter.method === 'lily' ? cfg.adapter.stride_A : 1;
  return matched.map((t) => ({
    target: t.key,
    d_in: t.d_in,
    d_out: t.d_out,
    layers: t.layers.map((l, index) => ({ module: l.module, index, a_group: cfg.adapter.method === 'lily' ? Math.floor(index / strideA) : index })),
  }));
}

/** The same config with LoRA at the Lily adapter's trainable-parameter budget. */
export function loraAtSameBudget(cfg: ResolvedConfig, targets: TargetInfo[]): ResolvedConfig {
  if (cfg.adapter.method !== 'lily') return { ...cfg, name: `${cfg.name}-lora` };
  const shapes: BudgetTarget[] = targets.map((t) => ({ layers: t.layers.length, d_in: t.d_in, d_out: t.d_out }));
  const r = loraRankAtBudget(shapes, lilyParamCount(shapes, cfg.adapter));
  const { target_modules, exclude_modules, layers_to_transform, modules_to_save } = cfg.adapter;
  return {
    ...cfg,
    name: `${cfg.name}-lora`,
    adapter: {
      method: 'lora', r, lora_alpha: r, target_modules, modules_to_save, init: 'default',
      ...(exclude_modules !== undefined ? { exclude_modules } : {}),
      ...(layers_to_transform !== undefined ? { layers_to_transform } : {}),
    },
  };
}

/**
 * Locates the run directory and checkpoint for `--resume RUN_OR_CKPT`, taking the run's lock
 * between the two: the newest checkpoint is only chosen once no other process can be writing one.
 */
export function findResume(target: string, log?: (m: string) => void): { runDir: string; checkpoint: string; lock: RunLock } {
  const abs = path.resolve(target);
  if (!fs.existsSync(abs)) throw new ConfigError(abs, [{ path: [], severity: 'error', message: `--resume: ${abs} does not exist; give a run directory or one of its checkpoints/step-N folders` }]);
  const isCheckpoint = fs.existsSync(path.join(abs, CHECKPOINT_FILES.trainer));
  const runDir = isCheckpoint ? path.dirname(path.dirname(abs)) : abs;
  const lock = lockRun(runDir, log);
  try {
    if (isCheckpoint) {
      loadCheckpoint(abs); // verified now: a damaged one named on the command line is exit 2
      return { runDir, checkpoint: abs, lock };
    }
    // The newest checkpoint that verifies; damaged newer ones are skipped, saying why.
    const { checkpoint, skipped } = newestIntactCheckpoint(abs);
    for (const s of skipped) log?.(`warning: skipping ${path.relative(runDir, s.dir)}: ${s.reason}`);
    if (!checkpoint) {
      const why = skipped.length ? ` (${skipped.length} damaged: ${skipped.map((s) => `${path.basename(s.dir)}: ${s.reason}`).join('; ')})` : '';
      throw new ConfigError(abs, [{ path: [], severity: 'error', message: `--resume: ${abs} has no intact checkpoint (checkpoints/step-N)${why}; start a new run instead` }]);
    }
    if (skipped.length) log?.(`Resuming from ${path.relative(runDir, checkpoint.dir)}, the newest intact checkpoint`);
    return { runDir, checkpoint: checkpoint.dir, lock };
  } catch (e) {
    lock.release();
    throw e;
  }
}

/** One writer per run directory: a run whose training process is alive cannot be resumed. */
function refuseLiveRun(runDir: string): void {
  const file = path.join(runDir, RUN_FILES.status);
  const status = readJsonIfValid<Partial<RunStatus>>(file);
  if (status?.state === 'running' && typeof status.pid === 'number' && isProcessAlive(status.pid)) {
    throw new ConfigError(file, [{ path: ['state'], severity: 'error', message: `--resume: the run ${runDir} is still running (pid ${status.pid}); stop it first (Ctrl-C where it runs, or Stop in VS Code's Runs view), then resume it` }]);
  }
}

function initialAdapter(cfg: ResolvedConfig, model: Model, targets: TargetInfo[], saved: SavedTensorSpec[]): Map<string, Float32Array> | undefined {
  if (cfg.adapter.init === 'default') return undefined;
  if (!fs.existsSync(cfg.adapter.init)) throw configError(cfg, ['adapter', 'init'], `${cfg.adapter.init} does not exist; give a PEFT adapter folder or its adapter_model.safetensors, or "default"`);
  try {
    // PEFT module paths may differ from the ONNX names by a leading path; the import maps them.
    return peftInitialValues(cfg.adapter.init, model, targets, saved);
  } catch (e) {
    throw configError(cfg, ['adapter', 'init'], (e as Error).message);
  }
}

/** `total_steps` recorded in a checkpoint's trainer.json (undefined for checkpoints without it). */
function resumedTotalSteps(checkpoint: string): number | undefined {
  const trainer = readJsonIfValid<Partial<TrainerState>>(path.join(checkpoint, CHECKPOINT_FILES.trainer));
  const total = trainer?.total_steps;
  return typeof total === 'number' && Number.isInteger(total) && total > 0 ? total : undefined;
}

export async function prepareTraining(request: TrainRequest): Promise<PreparedTraining> {
  let resume: PreparedTraining['resume'];
  if (request.resume && request.maxSteps !== undefined) {
    throw new ConfigError(path.resolve(request.resume), [{ path: ['training', 'max_steps'], severity: 'error', message: 'a resumed run keeps the schedule it was started with (its learning rate at every step depends on the total); resume without a max-steps override, or start a new run' }]);
  }
  let lock: RunLock | undefined;
  if (request.resume) {
    // The lock comes before the run's status is read or anything is written: two resumes racing
    // for one run both pass a status check, but only one creates the lock file.
    const found = findResume(request.resume, request.log);
    resume = { runDir: found.runDir, checkpoint: found.checkpoint };
    lock = found.lock;
  }
  try {
    return await prepareLocked(request, resume, lock);
  } catch (e) {
    lock?.release();
    throw e;
  }
}

/** Takes the run's lock (RunLockedError, exit 2, when a live process holds it). */
function lockRun(runDir: string, log?: (m: string) => void): RunLock {
  const lock = acquireRunLock(runDir, 'lily train', log);
  // Writers that take no lock (older versions) still show a live pid in status.json.
  try { refuseLiveRun(runDir); } catch (e) { lock.release(); throw e; }
  return lock;
}

/**
 * `lily train --dry-run`: everything `prepareTraining` checks and builds except the sessions,
 * and the run's expected peak memory against what is available. Writes nothing.
 */
export async function planTrainingMemory(request: TrainRequest): Promise<MemoryPlan> {
  if (request.resume) throw new ConfigError(path.resolve(request.resume), [{ path: [], severity: 'error', message: 'a dry run plans a new run; give the config instead of --resume' }]);
  return prepareLocked(request, undefined, undefined, true);
}

async function prepareLocked(request: TrainRequest, resume: PreparedTraining['resume'], lock: RunLock | undefined): Promise<PreparedTraining>;
async function prepareLocked(request: TrainRequest, resume: undefined, lock: undefined, dryRun: true): Promise<MemoryPlan>;
async function prepareLocked(request: TrainRequest, resume: PreparedTraining['resume'], lock: RunLock | undefined, dryRun = false): Promise<PreparedTraining | MemoryPlan> {
  let cfg = request.config;
  if (resume) {
    const saved = path.join(resume.runDir, RUN_FILES.config);
    try {
      cfg = JSON.parse(fs.readFileSync(saved, 'utf8')) as ResolvedConfig;
    } catch (e) {
      throw new ConfigError(saved, [{ path: [], severity: 'error', message: `cannot read the run's resolved config (${(e as Error).message}); the run directory is damaged` }]);
    }
  }
  // With weights_dtype, the frozen weights in external data files are read one at a time
  // (quantized, or found in the cache) instead of all at once in float32.
  const model = loadConfigModel(cfg, { ...((cfg.model.weights_dtype ?? 'float32') !== 'float32' ? { lazyExternalBytes: LAZY_WEIGHT_BYTES } : {}), log: request.log });
  cfg = fitMaxLength(cfg, model, request.log);
  const quantized = quantizedWeightsFor(cfg, model, request.log);
  // The step graphs read the quantized store: the float32 copies go (and the rest is read).
  if (quantized) releaseFloatWeights(model, quantized);
  if (quantized) {
    request.log?.(`Frozen weights in ${quantized.dtype}: ${quantized.weights.size} matrices, ${formatMB(quantized.floatBytes)} in float32 -> ${formatMB(quantized.storedBytes)} (${quantized.fromCache ? 'from the cache' : 'quantized now, cached'}${quantized.file ? ` at ${quantized.file}` : ''})`);
  }
  let targets = matchedTargets(cfg, model);
  if (request.compareLora && !resume) {
    cfg = loraAtSameBudget(cfg, targets);
    targets = matchedTargets(cfg, model);
  }
  const modelInputs = dataInputsOf(cfg, model);
  const data = openData(cfg, { modelInputs, modelClasses: logitsClassesOf(cfg, model) });
  if (data.labelNames && !cfg.model.labels) cfg = { ...cfg, model: { ...cfg.model, labels: data.labelNames, num_labels: data.labelNames.length } };
  else if (data.scheme.kind === 'class' && cfg.model.num_labels === undefined) cfg = { ...cfg, model: { ...cfg.model, num_labels: data.scheme.numLabels } };

  if (!resume && data.plan.datasetSize < cfg.training.batch_size) {
    request.log?.(`warning: training.batch_size ${cfg.training.batch_size} is larger than the training set (${data.plan.datasetSize} records in ${cfg.data.train}): each batch is the whole set, so every step is one epoch`);
  }
  const saved = resolveSavedTensors(model, findLinearLayers(model), cfg.adapter.modules_to_save);
  const initial = initialAdapter(cfg, model, targets, saved);
  const t = cfg.training;
  const spe = data.plan.stepsPerEpoch;
  // A resumed run keeps its own schedule (the learning rate of every step depends on it): the
  // checkpoint's total, else the run's config.json. A new run records its effective total in
  // config.json (training.max_steps), so a resume without --max-steps finds it.
  const totalSteps = resume
    ? resumedTotalSteps(resume.checkpoint) ?? t.max_steps ?? t.epochs * spe
    : request.maxSteps ?? t.max_steps ?? t.epochs * spe;
  if (!resume) cfg = { ...cfg, training: { ...cfg.training, max_steps: totalSteps } };

  const first = data.trainBatch(0);
  const inputShapes: Record<string, number[]> = {};
  for (const m of modelInputs) inputShapes[m.name] = [...first.tensors[m.name].dims];
  const device = request.device ?? cfg.runtime.device;
  const threads = request.threads ?? cfg.runtime.threads;
  const runnerOpts: RunnerOptions = {
      adapter: cfg.adapter,
      task: cfg.model.task,
      logitsOutput: cfg.model.output,
      labelInput: LABELS,
      optimizer: { optimizer: t.optimizer, betas: t.betas, eps: t.eps, weight_decay: t.weight_decay, momentum: t.momentum, max_grad_norm: t.max_grad_norm },
      seed: t.seed,
      gradientCheckpointing: t.gradient_checkpointing,
      initial,
      device,
      threads,
      evalOnly: request.evalOnly,
      // Several step graphs (one per padded length): one copy of the frozen weights for all.
      // (Packed rows: the train shape and the eval shapes; as the bench measures it.)
      shareFrozenWeights: cfg.data.padding !== 'max_length' || cfg.data.packing,
      // "auto" is settled below, once the step graph says how much the packed copy would take.
      prepackTrain: cfg.runtime.pack_weights === 'auto' ? false : cfg.runtime.pack_weights,
      // One train shape (packed rows): its session may keep the LM head packed (stepRunner keptHead).
      packHead: cfg.data.packing,
      frozenWeights: quantized?.weights,
      // ...and no per-session arena, which would keep every shape's peak at once (packed
      // training rows have one shape; data.padding then only shapes the eval batches, whose
      // session never keeps an arena).
      memoryArena: cfg.data.padding === 'max_length' || cfg.data.packing,
  };
  // With several lengths (buckets, longest) the estimate is for the longest step a run may take
  // (the first batch may be a short bucket), plus what every further length's graph keeps.
  const severalLengths = cfg.data.padding !== 'max_length' && !cfg.data.packing;
  const estimateShapes = severalLengths ? atMaxLength(inputShapes, first.tensors[modelInputs[0].name].dims[1], cfg.data.max_length) : inputShapes;
  const evalBatches = data.eval ? Math.ceil(data.eval.size / t.batch_size) : 0;
  const extraGraphs = severalLengths ? stepGraphCount(cfg.data, totalSteps + evalBatches) - 1 : 0;
  let runner: StepRunner;
  let memory: MemoryEstimate;
  try {
    const graphs = await buildTrainingStep(model, { ...runnerOpts, inputShapes: estimateShapes });
    if (cfg.runtime.pack_weights === 'auto') {
      // On the CPU only: an `auto` device counts as CPU where it would try no GPU provider.
      const cpu = device === 'cpu' || (device === 'auto' && !autoTriesGpu());
      runnerOpts.prepackTrain = autoPackWeights(graphs, { cpu, oneTrainShape: !!runnerOpts.shareFrozenWeights && !severalLengths, gradientCheckpointing: t.gradient_checkpointing, machineBytes: os.totalmem() });
    }
    const estimateOpts = { evaluates: !!data.eval || !!request.evalOnly, ...weightsLayout(graphs, runnerOpts), extraGraphs };
    memory = estimateStepMemory(graphs, estimateOpts);
    let plan = memoryPlan(cfg, memory, estimateShapes);
    // A dry run, or a run that would not fit, also says what gradient checkpointing would need
    // (one more graph build; only when the config has it off).
    if (!t.gradient_checkpointing && !request.evalOnly && (dryRun || plan.overBudget)) {
      const checkpointed = await buildTrainingStep(model, { ...runnerOpts, inputShapes: estimateShapes, gradientCheckpointing: true });
      if (checkpointed.recompute && checkpointed.recompute.clonedNodes > 0) plan = memoryPlan(cfg, memory, estimateShapes, process.env, estimateStepMemory(checkpointed, estimateOpts));
    }
    if (dryRun) {
      data.close();
      return plan;
    }
    if (!request.evalOnly && !request.ignoreMemoryEstimate && plan.overBudget) {
      throw new ConfigError(cfg.configPath, [{ path: ['training', 'batch_size'], severity: 'error', message: `${plan.overBudget} (lily train --ignore-memory-estimate starts anyway)` }]);
    }
    // The first batch's graph is compiled first (the estimate's, at max_length, only when equal).
    runner = await StepRunner.create(model, inputShapes, runnerOpts, estimateShapes === inputShapes ? graphs : undefined);
  } catch (e) {
    data.close();
    throw stepBuildConfigError(cfg.configPath, e) ?? e;
  }
  const trainableParams = runner.params.reduce((s, p) => s + p.dims.reduce((a, b) => a * b, 1), 0);
  return { config: cfg, model, data, runner, totalSteps, trainableParams, targets: runner.graphs.injection.targets, saved: runner.graphs.injection.saved, resume, request, memory, ...(lock ? { lock } : {}) };
}

/** `shapes` with every sequence dimension (the first batch's length `seqLen`) set to `maxLength`. */
function atMaxLength(shapes: Record<string, number[]>, seqLen: number, maxLength: number): Record<string, number[]> {
  return Object.fromEntries(Object.entries(shapes).map(([k, d]) => [k, d.map((x, i) => (i === 1 && x === seqLen ? maxLength : x))]));
}

// ---------------------------------------------------------------------------------------------
// The run

/** Mean of router probabilities over the steps of a logging window, per layer. */
class RouterWindow {
  private sums = new Map<string, Float64Array>();
  private n = 0;
  /** The unfinished window, as JSON (it rides in checkpoints so a resumed run continues it). */
  state(): RouterWindowState {
    return { n: this.n, sums: Object.fromEntries([...this.sums].map(([m, s]) => [m, Array.from(s)])) };
  }
  restore(state: RouterWindowState): void {
    this.n = state.n;
    this.sums = new Map(Object.entries(state.sums).map(([m, s]) => [m, Float64Array.from(s)]));
  }
  add(probs: Map<string, Float32Array>): void {
    for (const [module, p] of probs) {
      let s = this.sums.get(module);
      if (!s) this.sums.set(module, (s = new Float64Array(p.length)));
      for (let i = 0; i < p.length; i++) s[i] += p[i];
    }
    this.n++;
  }
  line(step: number, targets: TargetInfo[]): RouterLine | undefined {
    if (this.n === 0 || this.sums.size === 0) return undefined;
    const out: RouterLine = { step, targets: {} };
    for (const t of targets) {
      out.targets[t.target] = t.layers.map((l) => Array.from(this.sums.get(l.module) ?? [], (v) => v / this.n));
    }
    this.sums = new Map();
    this.n = 0;
    return out;
  }
}

interface RouterWindowState {
  n: number;
  sums: Record<string, number[]>;
}

/**
 * The steps since the last logged one (a train line averages them). A checkpoint stores it, so
 * a run stopped inside a window and resumed logs the same lines as an uninterrupted run.
 */
interface LogWindow {
  loss: number;
  steps: number;
  samples: number;
  tokens: number;
  /** Wall-clock seconds the window has run so far (before the checkpoint). */
  seconds: number;
  router: RouterWindowState;
}

function isDivergenceState(v: unknown): v is DivergenceState {
  return !!v && typeof v === 'object' && Object.values(v).every((x) => typeof x === 'number');
}

function isLogWindow(v: unknown): v is LogWindow {
  const w = v as Partial<LogWindow> | undefined;
  return !!w && typeof w.loss === 'number' && typeof w.steps === 'number' && typeof w.samples === 'number' &&
    typeof w.tokens === 'number' && typeof w.seconds === 'number' && !!w.router && typeof w.router.n === 'number' && typeof w.router.sums === 'object';
}

/** Drops log lines past `step` (written after the checkpoint a run resumes from), and corrupt lines, saying so. */
function truncateLog(file: string, step: number, log: (m: string) => void): void {
  if (!fs.existsSync(file)) return;
  const onBadLine = (n: number, text: string) => log(`warning: ${file} line ${n} is not valid JSON and is dropped: ${JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text)}`);
  const kept = readJsonl<{ step: number }>(file, { onBadLine }).filter((l) => l.step <= step);
  writeFileAtomic(file, kept.map((l) => JSON.stringify(l) + '\n').join(''));
}

export function adapterWeightsOf(p: Pick<PreparedTraining, 'config' | 'targets' | 'saved'>, params: Map<string, Float32Array>, dims: Map<string, number[]>): AdapterWeights {
  return {
    settings: p.config.adapter,
    targets: p.targets,
    saved: p.saved,
    tensors: new Map([...params].map(([k, v]) => [k, { dims: dims.get(k)!, data: v }])),
  };
}

/** Evaluates the current parameters on the eval set. */
export async function evaluate(runner: StepRunner, data: DataPipeline, task: ResolvedConfig['model']['task']): Promise<Metrics | undefined> {
  if (!data.eval) return undefined;
  const acc = new EvalAccumulator(task);
  for (const batch of data.evalBatches()) {
    const r = await runner.evaluate(batch.tensors);
    const labels = batch.tensors[LABELS].data as ArrayLike<number | bigint>;
    if (r.tokens) acc.addTokenScores(r.tokens.predictions.data as BigInt64Array, r.tokens.labelLogp.data as Float32Array, r.tokens.predictions.dims, labels);
    else acc.add(r.logits!.data as Float32Array, r.logits!.dims, labels);
  }
  return acc.result();
}

export async function runTraining(prep: PreparedTraining, hooks: TrainHooks = {}): Promise<TrainOutcome> {
  try {
    return await openRun(prep, hooks);
  } finally {
    prep.lock?.release();
  }
}

/** Restores a resumed run's state, creates or reopens (and locks) the run directory, trains. */
async function openRun(prep: PreparedTraining, hooks: TrainHooks): Promise<TrainOutcome> {
  const { config: cfg, runner } = prep;
  const t = cfg.training;
  const log = hooks.log ?? (() => undefined);

  // Resume: restore state before touching any file.
  let startStep = 0;
  let rng = new Rng(t.seed, 0x7a1e);
  const router = new RouterWindow();
  let divergenceState: DivergenceState = {};
  let win = { loss: 0, steps: 0, samples: 0, tokens: 0, since: Date.now() };
  if (prep.resume) {
    const ck = loadCheckpoint(prep.resume.checkpoint);
    runner.setParams(new Map([...ck.params].map(([k, v]) => [k, v.data])));
    runner.setOptimizerState({ step: ck.trainer.step, tensors: new Map([...ck.optimizer].map(([k, v]) => [k, v.data])) });
    startStep = ck.trainer.step;
    rng = Rng.fromState(ck.trainer.rng_state as RngState);
    divergenceState = isDivergenceState(ck.trainer.divergence) ? ck.trainer.divergence : {};
    // Continue the logging window the checkpoint was written in (older checkpoints have none).
    if (isLogWindow(ck.trainer.log_window)) {
      const w = ck.trainer.log_window;
      win = { loss: w.loss, steps: w.steps, samples: w.samples, tokens: w.tokens, since: Date.now() - w.seconds * 1000 };
      router.restore(w.router);
    }
    log(`Resuming ${prep.resume.runDir} from step ${startStep} (${path.relative(prep.resume.runDir, prep.resume.checkpoint)})`);
  }

  let runId: string;
  let runDir: string;
  if (prep.resume) {
    runDir = prep.resume.runDir;
    runId = path.basename(runDir);
  } else if (prep.request.runDir) {
    runDir = path.resolve(prep.request.runDir);
    fs.mkdirSync(runDir, { recursive: true });
    // Lock first, then check the folder holds nothing but our lock: two runs given the same
    // --run-dir cannot both pass the check.
    prep.lock = acquireRunLock(runDir, 'lily train', log);
    if (fs.readdirSync(runDir).some((n) => n !== LOCK_FILE)) {
      prep.lock.release();
      throw new Error(`--run-dir ${runDir} exists and is not empty; choose a new folder or use --resume`);
    }
    runId = path.basename(runDir);
  } else {
    ({ runId, runDir } = createRunDir(cfg.output.dir, cfg.name));
    prep.lock = acquireRunLock(runDir, 'lily train', log);
  }
  return trainLocked(prep, hooks, { runId, runDir, startStep, rng, router, win, divergenceState });
}

interface RunStart {
  runId: string;
  runDir: string;
  startStep: number;
  rng: Rng;
  router: RouterWindow;
  win: { loss: number; steps: number; samples: number; tokens: number; since: number };
  divergenceState: DivergenceState;
}

async function trainLocked(prep: PreparedTraining, hooks: TrainHooks, start: RunStart): Promise<TrainOutcome> {
  const { config: cfg, data, runner, totalSteps } = prep;
  const t = cfg.training;
  const log = hooks.log ?? (() => undefined);
  const emit = hooks.onEvent ?? (() => undefined);
  const dims = new Map(runner.params.map((p) => [p.name, p.dims]));
  const { runId, runDir, startStep, router } = start;
  let { rng, win } = start;
  // Limits from the run's config (a config.json written before they existed gets the defaults).
  const divergence = new DivergenceMonitor(resolveDivergence(t.divergence), start.divergenceState);
  const writer = new RunWriter(runDir);
  const started = Date.now();
  const device = runner.device ?? 'cpu';
  const pid = process.pid;
  if (prep.resume) {
    // Resuming from an older checkpoint abandons what came after it: its log lines and checkpoints.
    for (const dir of removeCheckpointsAfter(runDir, startStep)) log(`Removed ${path.relative(runDir, dir)} (after the resumed step ${startStep})`);
    truncateLog(writer.file('metrics'), startStep, log);
    truncateLog(writer.file('router'), startStep, log);
    writer.updateStatus({ state: 'running', pid, step: startStep, total_steps: totalSteps, device, device_note: runner.deviceNote, error: undefined, ended_at: undefined });
  } else {
    writer.writeConfig(cfg);
    const now = new Date(started).toISOString();
    const status: RunStatus = {
      run_id: runId, name: cfg.name, state: 'running', pid, method: cfg.adapter.method, task: cfg.model.task,
      step: 0, total_steps: totalSteps, epoch: 0, started_at: now, updated_at: now, device,
      ...(runner.deviceNote ? { device_note: runner.deviceNote } : {}),
      config_path: cfg.configPath, trainable_params: prep.trainableParams,
    };
    writer.updateStatus(status);
  }
  emit({ event: 'started', runDir, runId, pid, totalSteps, device, ...(runner.deviceNote ? { deviceNote: runner.deviceNote } : {}), trainableParams: prep.trainableParams });
  log(`Run ${runId}: ${cfg.adapter.method}, ${prep.trainableParams.toLocaleString('en-US')} trainable parameters, ${totalSteps} steps, device ${device}${runner.deviceNote ? ` (${runner.deviceNote})` : ''}`);

  let step = startStep;
  // Stop requests: between steps only (session.run blocks the event loop during a step).
  let stopReason: string | undefined;
  const requestStop = (why: string) => { stopReason ??= why; };
  // A second Ctrl-C ends the process at once; status.json must not stay `running` (it would show
  // a live run until the pid is found gone), so record the stop synchronously before exiting.
  const onSigint = () => {
    if (stopReason) {
      const resumeHint = lastCheckpoint ? `resume from ${lastCheckpoint} with --resume ${runDir}` : 'no checkpoint exists; start the run again';
      writer.updateStatus({ state: 'stopped', ended_at: new Date().toISOString(), error: `interrupted before a checkpoint was written (second Ctrl-C after step ${step}); ${resumeHint}` });
      process.exit(130);
    }
    requestStop('interrupted (SIGINT)');
  };
  const onSigterm = () => requestStop('stopped (SIGTERM)');
  const onAbort = () => requestStop('stopped by request');
  if (hooks.handleSignals) { process.on('SIGINT', onSigint); process.on('SIGTERM', onSigterm); }
  hooks.signal?.addEventListener('abort', onAbort);
  if (hooks.signal?.aborted) onAbort();

  const spe = data.plan.stepsPerEpoch;
  const timeS = () => (Date.now() - started) / 1000;
  const epochOf = (step: number) => step / spe;
  let lastCheckpoint = prep.resume ? path.relative(runDir, prep.resume.checkpoint) : undefined;
  let lastCheckpointStep = prep.resume ? startStep : -1;
  let evalBefore: Metrics | undefined;
  let evalAfter: Metrics | undefined;

  const doEval = async (step: number): Promise<Metrics | undefined> => {
    const metrics = await evaluate(runner, data, cfg.model.task);
    if (!metrics) return undefined;
    const line: MetricLine = { type: 'eval', step, epoch: epochOf(step), metrics, time_s: timeS() };
    writer.appendMetric(line);
    emit({ event: 'metrics', line });
    writer.updateStatus(step === 0 ? { eval: metrics, eval_before: metrics } : { eval: metrics });
    log(`eval @ step ${step}: ${Object.entries(metrics).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')}`);
    for (const hook of hooks.onEvaluate ?? []) {
      try {
        await hook(runner, data, { step, config: cfg, writer, targets: prep.targets, metrics, log });
      } catch (e) {
        log(`warning: evaluation hook failed at step ${step}: ${(e as Error).message}`);
      }
    }
    return metrics;
  };

  const checkpoint = (step: number) => {
    const params = runner.getParams();
    const opt = runner.getOptimizerState();
    const pos = data.plan.position(step);
    const logWindow: LogWindow = {
      loss: win.loss, steps: win.steps, samples: win.samples, tokens: win.tokens,
      seconds: (Date.now() - win.since) / 1000, router: router.state(),
    };
    const trainer: TrainerState = {
      step, epoch: pos.epoch, position_in_epoch: pos.batch, data_order_seed: t.seed, rng_state: rng.state(),
      total_steps: totalSteps, method: cfg.adapter.method, log_window: logWindow, divergence: divergence.snapshot(),
    };
    const dir = saveCheckpoint(runDir, step, {
      params: new Map([...params].map(([k, v]) => [k, { dims: dims.get(k)!, data: v }])),
      optimizer: new Map([...opt.tensors].map(([k, v]) => [k, { dims: dims.get(k.slice(0, k.lastIndexOf('.'))) ?? [v.length], data: v }])),
      trainer,
    });
    lastCheckpoint = path.relative(runDir, dir);
    lastCheckpointStep = step;
    writer.updateStatus({ last_checkpoint: lastCheckpoint });
    emit({ event: 'checkpoint', path: dir, step });
  };

  const finish = (state: RunState, step: number, error?: string): TrainOutcome => {
    if (hooks.handleSignals) { process.off('SIGINT', onSigint); process.off('SIGTERM', onSigterm); }
    hooks.signal?.removeEventListener('abort', onAbort);
    writer.updateStatus({ state, step, epoch: epochOf(step), ended_at: new Date().toISOString(), ...(error ? { error } : {}) });
    emit({ event: 'finished', state, runDir, ...(error ? { error } : {}) });
    return { state, runDir, runId, step, totalSteps, evalBefore, evalAfter, error, lastCheckpoint };
  };

  try {
    if (startStep === 0) {
      evalBefore = await doEval(0);
      win.since = Date.now(); // throughput counts training only, not the step-0 evaluation
    } else evalBefore = readStatusFile(writer).eval_before;

    const evalDue = (s: number) => (t.eval_every ? s % t.eval_every === 0 : s % spe === 0) || s === totalSteps;
    const saveDue = (s: number, evaluated: boolean) => (t.save_every ? s % t.save_every === 0 : evaluated) || s === totalSteps;
    let secPerStep: number | undefined;
    let lastProgress = 0;
    const loopStart = Date.now();

    while (step < totalSteps) {
      if (stopReason) break;
      const batch = data.trainBatch(step);
      const lr = learningRate(step, { lr: t.lr, schedule: t.schedule, warmup_steps: t.warmup_steps, total_steps: totalSteps });
      const res = await runner.step(batch.tensors, lr);
      const verdict = divergence.check(res.loss, res.gradNorm, maxAbsOf(runner.paramViews()));
      if (verdict) {
        // The weights after this step are the diverged ones: no checkpoint or adapter is written
        // from them; the last good checkpoint stays (pruning only runs when a new one is saved).
        const error = `training diverged at step ${step + 1} (lr ${lr.toPrecision(3)}): ${verdict.reason}. ` +
          (lastCheckpoint ? `The last good checkpoint is ${lastCheckpoint} (step ${lastCheckpointStep}). ` : 'No checkpoint was written. ') +
          divergenceHint(t, verdict);
        log(`error: ${error}`);
        return finish('failed', step, error);
      }
      step++;
      rng.nextUint32(); // one draw per step keeps the generator's position tied to the step
      router.add(res.routerProbs);
      win.loss += res.loss;
      win.steps++;
      win.samples += batch.size;
      win.tokens += batch.tokens;

      const now = Date.now();
      const logged = step % t.log_every === 0 || step === totalSteps;
      if (logged) {
        const seconds = Math.max(1e-9, (now - win.since) / 1000);
        const per = seconds / win.steps;
        secPerStep = secPerStep === undefined ? per : 0.7 * secPerStep + 0.3 * per;
        const line: MetricLine = {
          type: 'train', step, epoch: epochOf(step), loss: win.loss / win.steps, lr, grad_norm: res.gradNorm,
          samples_per_s: win.samples / seconds, tokens_per_s: win.tokens / seconds, time_s: timeS(),
        };
        writer.appendMetric(line);
        emit({ event: 'metrics', line });
        const rl = router.line(step, prep.targets);
        if (rl) { writer.appendRouter(rl); emit({ event: 'router', line: rl }); }
        const eta = secPerStep * (totalSteps - step);
        writer.updateStatus({ step, epoch: epochOf(step), loss: line.loss, samples_per_s: line.samples_per_s, eta_s: eta });
        win = { loss: 0, steps: 0, samples: 0, tokens: 0, since: Date.now() };
      }
      if (logged || now - lastProgress > 500) {
        lastProgress = now;
        // Before the first logged window, the mean since the loop began (eval 0 excluded).
        const perStep = secPerStep ?? (now - loopStart) / 1000 / Math.max(1, step - startStep);
        emit({ event: 'progress', step, totalSteps, epoch: epochOf(step), loss: res.loss, samplesPerSec: (batch.records ?? batch.size) / Math.max(1e-9, perStep), etaSeconds: perStep * (totalSteps - step) });
      }
      let evaluated = false;
      if (evalDue(step)) {
        const m = await doEval(step);
        if (m) evalAfter = m;
        evaluated = true;
      }
      if (saveDue(step, evaluated)) checkpoint(step);
      // Let signal handlers and abort listeners run between steps.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }

    if (stopReason && step < totalSteps) {
      if (lastCheckpointStep !== step) checkpoint(step);
      writeFinalAdapter(prep, writer, runner, dims);
      log(`Stopped at step ${step}/${totalSteps}: ${stopReason}. Resume with: lily train --resume ${runDir}`);
      return finish('stopped', step, `${stopReason} at step ${step}; resume with --resume ${runDir}`);
    }
    // Resuming a run that had already reached its last step: nothing trained, its last eval stands.
    if (evalAfter === undefined && step === startStep) evalAfter = readStatusFile(writer).eval;
    writeFinalAdapter(prep, writer, runner, dims);
    log(`Trained ${step - startStep} steps in ${timeS().toFixed(1)} s`);
    return finish('completed', step);
  } catch (e) {
    const error = `${(e as Error).message}${lastCheckpoint ? ` (last checkpoint: ${lastCheckpoint})` : ''}`;
    log(`error: ${error}`);
    return finish('failed', step, error);
  }
}

function readStatusFile(writer: RunWriter): Partial<RunStatus> {
  return readJsonIfValid<RunStatus>(writer.file('status')) ?? {};
}

function writeFinalAdapter(prep: PreparedTraining, writer: RunWriter, runner: StepRunner, dims: Map<string, number[]>): void {
  const params = runner.getParams();
  // The step loop stops at the first diverged step; this guards the other ways weights arrive
  // here (a resumed checkpoint, a run with no steps left), so no adapter is written from them.
  const limit = resolveDivergence(prep.config.training.divergence).param_limit;
  const worst = maxAbsOf(params);
  if (!Number.isFinite(worst.value) || (limit > 0 && worst.value > limit)) {
    throw new Error(`not writing the adapter: its weight ${worst.name} is ${worst.value} (training.divergence.param_limit ${limit}); the weights diverged`);
  }
  const weights = adapterWeightsOf(prep, params, dims);
  writer.writeAdapter(weights, { task: prep.config.model.task, base_model_name_or_path: prep.config.model.path });
}

/** Prepares and runs in one call (the CLI separates them to tell invalid input from failures). */
export async function train(request: TrainRequest, hooks: TrainHooks = {}): Promise<TrainOutcome> {
  const prep = await prepareTraining(request);
  try {
    return await runTraining(prep, hooks);
  } finally {
    prep.data.close();
    await prep.runner.release();
  }
}
