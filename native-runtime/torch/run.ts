// `lily train --backend torch`: the TypeScript half of a torch-backend run. It validates and
// resolves the config as for the ONNX engine, tokenizes the data with the same pipeline (into a
// cache shared by runs, dataset.ts), creates the run directory (config.json with the effective
// max_steps, dataset.json naming the tokenized files, a first status.json),
// launches the Python trainer (launch.ts), relays its TrainEvent lines, forwards Stop (SIGTERM/
// SIGINT) to every launched process, and settles the run's state if the trainer died without
// saying. Invalid input (exit 2 from Python too, e.g. targets the model does not have) leaves no
// new run directory behind.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import type { ResolvedConfig } from '../config/resolved';
import { ConfigError } from '../config/validate';
import { readJsonIfValid, writeJsonAtomic } from '../io/atomic';
import { CHECKPOINT_FILES } from '../io/checkpoint';
import { createRunDir, RunWriter } from '../io/runDir';
import { acquireRunLock, type RunLock } from '../io/runLock';
import type { TrainEvent } from '../protocol';
import { RUN_FILES, type RunState, type RunStatus } from '../runFiles';
import { onLines } from '../server/lines';
import { openData } from '../train/data/pipeline';
import { findResume } from '../train/trainer';
import { DATASET_DIR, ensureTokenizedData, readDatasetRef, torchModelInputs, writeDatasetRef } from './dataset';
import { choosePython, launchPlan } from './launch';

export interface TorchTrainRequest {
  config: ResolvedConfig;
  maxSteps?: number;
  runDir?: string;
  resume?: string;
  /** The interpreter (see choosePython). */
  python?: string;
  cwd: string;
}

export interface TorchTrainHooks {
  onEvent?: (e: TrainEvent) => void;
  log?: (message: string) => void;
  /** Trainer stderr lines (Python's log and warnings). */
  onStderr?: (line: string) => void;
  /**
   * After a completed run, while the run's lock is still held: what the ONNX engine does at each
   * evaluation (the CLI writes router_stats.json and spectrum.json from adapter/). A failure is
   * logged as a warning; the run stays completed.
   */
  afterCompleted?: (runDir: string) => Promise<string[]>;
}

export interface TorchOutcome {
  state: RunState;
  runDir: string;
  /** 2 when the trainer refused its input. */
  exitCode: number;
  error?: string;
}

function fieldError(file: string, field: string[], message: string): ConfigError {
  return new ConfigError(file, [{ path: field, severity: 'error', message: `${field.join('.')}: ${message}` }]);
}

/** What only the torch backend requires of a config (the schema and semantic checks did the rest). */
export function checkTorchConfig(cfg: ResolvedConfig): void {
  const f = cfg.configPath;
  if (cfg.adapter.method === 'lily' && cfg.adapter.routing !== 'batch') {
    throw fieldError(f, ['adapter', 'routing'], `"${cfg.adapter.routing}" has no PEFT equivalent (PEFT's Lily averages the router over the whole batch); use "batch" with the torch backend, or the onnx backend`);
  }
  if (cfg.runtime.launch !== undefined && !cfg.runtime.launch.includes('{script}')) {
    throw fieldError(f, ['runtime', 'launch'], 'the launch template must contain {script} (where the trainer script goes) and usually {args}');
  }
  // The tokenized data is written once, every row padded to max_length; batch routing averages
  // over those padded rows, so other paddings would train a different function than asked.
  if (cfg.data.padding !== 'max_length') throw fieldError(f, ['data', 'padding'], `"${cfg.data.padding}" is not available on the torch backend yet (its batches are padded to data.max_length); remove data.padding or use the onnx backend`);
  if (cfg.model.weights_dtype !== 'float32') throw fieldError(f, ['model', 'weights_dtype'], `"${cfg.model.weights_dtype}" is not available on the torch backend (it loads the model in float32); remove model.weights_dtype or use the onnx backend`);
  if (cfg.data.group_by_length) throw fieldError(f, ['data', 'group_by_length'], 'length-grouped batches are not available on the torch backend yet (it reads the engine\'s shuffled order); remove data.group_by_length or use the onnx backend');
  if (cfg.data.packing) throw fieldError(f, ['data', 'packing'], 'packing is not available on the torch backend yet; remove data.packing or use the onnx backend');
  if (cfg.runtime.device === 'webgpu') throw fieldError(f, ['runtime', 'device'], 'the torch backend runs on cpu or cuda; use "auto", "cpu" or "cuda"');
  if (!cfg.runtime.launch && cfg.training.batch_size % cfg.runtime.processes !== 0) {
    throw fieldError(f, ['training', 'batch_size'], `the global batch ${cfg.training.batch_size} does not divide among ${cfg.runtime.processes} processes; use a multiple of runtime.processes`);
  }
  const p = cfg.model.path;
  if (!fs.existsSync(p)) throw fieldError(f, ['model', 'path'], `${p} does not exist`);
  const folder = hfFolderOf(p);
  if (!folder) {
    throw fieldError(f, ['model', 'path'], `${p} is an ONNX file with no Hugging Face source recorded beside it (${IMPORT_RECORD} from lily import); with the torch backend give the model's Hugging Face folder`);
  }
  if (!fs.existsSync(path.join(folder, 'config.json'))) {
    throw fieldError(f, ['model', 'path'], `folder ${folder} holds no config.json; give a Hugging Face model folder (save_pretrained)`);
  }
}

/** What `lily import` records beside the model.onnx it writes; `source` is the Hugging Face folder. */
const IMPORT_RECORD = 'lily-import.json';

/** The Hugging Face folder of model.path: the folder itself, or an imported ONNX model's recorded source. */
export function hfFolderOf(modelPath: string): string | undefined {
  if (fs.statSync(modelPath).isDirectory()) return modelPath;
  const source = readJsonIfValid<{ source?: unknown }>(path.join(path.dirname(modelPath), IMPORT_RECORD))?.source;
  return typeof source === 'string' && fs.existsSync(source) ? source : undefined;
}

function hfConfigOf(cfg: ResolvedConfig): Record<string, unknown> | undefined {
  const dir = hfFolderOf(cfg.model.path);
  return dir ? readJsonIfValid<Record<string, unknown>>(path.join(dir, 'config.json')) ?? undefined : undefined;
}

interface PreparedTorchRun {
  runDir: string;
  checkpoint?: string;
  created: boolean;
  config: ResolvedConfig;
  /** Held by this process (the one the Runs view follows) until the trainer has exited. */
  lock: RunLock;
}

/** Validates and tokenizes (throwing before anything is written), then creates the run directory. */
function prepare(req: TorchTrainRequest, log: (m: string) => void): PreparedTorchRun {
  if (req.resume) {
    const found = findResume(req.resume, log);
    try {
      const saved = path.join(found.runDir, RUN_FILES.config);
      const config = readJsonIfValid<ResolvedConfig>(saved);
      if (!config) throw new ConfigError(saved, [{ path: [], severity: 'error', message: 'cannot read the run\'s resolved config; the run directory is damaged' }]);
      const trainer = readJsonIfValid<{ backend?: string }>(path.join(found.checkpoint, CHECKPOINT_FILES.trainer));
      if (trainer?.backend !== 'torch') throw new ConfigError(found.checkpoint, [{ path: [], severity: 'error', message: '--resume: this checkpoint was written by the onnx backend; resume it without --backend torch' }]);
      ensureResumeData(found.runDir, config, log);
      return { runDir: found.runDir, checkpoint: found.checkpoint, created: false, config, lock: found.lock };
    } catch (e) {
      found.lock.release();
      throw e;
    }
  }
  let cfg: ResolvedConfig = { ...req.config, runtime: { ...req.config.runtime, backend: 'torch' } };
  checkTorchConfig(cfg);
  const modelInputs = torchModelInputs(cfg.model.inputs, hfConfigOf(cfg));
  const data = openData(cfg, { modelInputs });
  try {
    if (data.labelNames && !cfg.model.labels) cfg = { ...cfg, model: { ...cfg.model, labels: data.labelNames, num_labels: data.labelNames.length } };
    else if (data.scheme.kind === 'class' && cfg.model.num_labels === undefined) cfg = { ...cfg, model: { ...cfg.model, num_labels: data.scheme.numLabels } };
    const t = cfg.training;
    const totalSteps = req.maxSteps ?? t.max_steps ?? t.epochs * data.plan.stepsPerEpoch;
    cfg = { ...cfg, training: { ...t, max_steps: totalSteps } };
    let runDir: string;
    if (req.runDir) {
      runDir = path.resolve(req.runDir);
      fs.mkdirSync(runDir, { recursive: true });
    } else runDir = createRunDir(cfg.output.dir, cfg.name).runDir;
    const lock = acquireRunLock(runDir, 'lily train', log);
    try {
      const writer = new RunWriter(runDir);
      writer.writeConfig(cfg);
      writeDatasetRef(runDir, ensureTokenizedData(cfg, data, modelInputs, log));
      const now = new Date().toISOString();
      const status: RunStatus = {
        run_id: path.basename(runDir), name: cfg.name, state: 'running', pid: process.pid, method: cfg.adapter.method, task: cfg.model.task,
        step: 0, total_steps: totalSteps, epoch: 0, started_at: now, updated_at: now, device: 'torch', device_note: 'starting the torch backend',
        config_path: cfg.configPath, trainable_params: 0,
      };
      writeJsonAtomic(writer.file('status'), status);
    } catch (e) {
      lock.release();
      fs.rmSync(runDir, { recursive: true, force: true });
      throw e;
    }
    return { runDir, created: true, config: cfg, lock };
  } finally {
    data.close();
  }
}

/**
 * A resumed run needs the tokenized files its dataset.json names. They live in a cache that may
 * have been cleared since: then they are written again from the run's config (the same data
 * files and settings give the same records; changed data files give a new cache entry, as the
 * engine, which re-reads the data on resume, would also see them). Runs from before dataset.json
 * kept the data in their own dataset/ folder and need nothing.
 */
function ensureResumeData(runDir: string, config: ResolvedConfig, log: (m: string) => void): void {
  const ref = readDatasetRef(runDir);
  if (!ref) {
    if (fs.existsSync(path.join(runDir, DATASET_DIR, 'train.safetensors'))) return;
  } else if (fs.existsSync(ref.train) && (!ref.eval || fs.existsSync(ref.eval))) return;
  const modelInputs = torchModelInputs(config.model.inputs, hfConfigOf(config));
  const data = openData(config, { modelInputs });
  try {
    writeDatasetRef(runDir, ensureTokenizedData(config, data, modelInputs, log));
  } finally {
    data.close();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function trainTorch(req: TorchTrainRequest, hooks: TorchTrainHooks = {}): Promise<TorchOutcome> {
  const log = hooks.log ?? (() => undefined);
  const prep = prepare(req, log);
  try {
    const outcome = await launchAndWait(req, prep, hooks, log);
    if (outcome.state === 'completed' && hooks.afterCompleted) {
      try {
        const files = await hooks.afterCompleted(outcome.runDir);
        if (files.length) log(`Wrote ${files.map((f) => path.basename(f)).join(', ')} (router statistics and spectra over the eval set)`);
      } catch (e) {
        log(`warning: the run completed, but its router statistics and spectra were not written: ${(e as Error).message}\nRun \`lily inspect ${outcome.runDir}\` to write them.`);
      }
    }
    return outcome;
  } finally {
    prep.lock.release();
  }
}

async function launchAndWait(req: TorchTrainRequest, prep: PreparedTorchRun, hooks: TorchTrainHooks, log: (m: string) => void): Promise<TorchOutcome> {
  const cfg = prep.config;
  const python = choosePython(req.python, req.cwd);
  const trainerArgs = ['--run-dir', prep.runDir, ...(prep.checkpoint ? ['--resume', prep.checkpoint] : [])];
  const plan = launchPlan({ python, processes: cfg.runtime.processes, launch: cfg.runtime.launch, trainerArgs, port: await freePort() });
  log(`Torch backend (${plan.description}): ${plan.shell ? plan.command : [plan.command, ...plan.args].join(' ')}`);
  // Announce the run now (the Runs view and the server follow it from here); Python takes seconds
  // to import torch and then fills in status.json.
  const initial = readJsonIfValid<RunStatus>(path.join(prep.runDir, RUN_FILES.status));
  hooks.onEvent?.({
    event: 'started', runDir: prep.runDir, runId: path.basename(prep.runDir), pid: process.pid,
    totalSteps: initial?.total_steps ?? cfg.training.max_steps ?? 0, device: 'torch', deviceNote: plan.description, trainableParams: initial?.trainable_params ?? 0,
  });

  const env: NodeJS.ProcessEnv = { ...process.env, LILY_RUN_PID: String(process.pid), PYTHONUNBUFFERED: '1' };
  if (cfg.runtime.threads) env.OMP_NUM_THREADS = String(cfg.runtime.threads);
  // Its own process group, so a stop reaches torchrun and every rank at once.
  const child = spawn(plan.command, plan.args, { cwd: req.cwd, env, shell: plan.shell, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const stopAll = (signal: NodeJS.Signals) => {
    try { process.kill(-child.pid!, signal); } catch { /* already gone */ }
  };
  const onTerm = () => stopAll('SIGTERM');
  const onInt = () => stopAll('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);

  const stderrTail: string[] = [];
  onLines(child.stdout!, (line) => {
    const at = line.indexOf('{');
    if (at >= 0) {
      try {
        const e = JSON.parse(line.slice(at)) as TrainEvent;
        // The trainer's own `started` repeats what was announced above (status.json has its details).
        if (e && typeof e.event === 'string') { if (e.event !== 'started') hooks.onEvent?.(e); return; }
      } catch { /* not an event: a print from user code or a launcher */ }
    }
    hooks.onStderr?.(line);
  });
  onLines(child.stderr!, (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 40) stderrTail.shift();
    hooks.onStderr?.(line);
  });
  const code: number = await new Promise((resolve) => {
    child.once('error', (err) => { stderrTail.push(`cannot start ${plan.command}: ${err.message}`); resolve(127); });
    child.once('close', (c, sig) => resolve(c ?? (sig ? 128 + (sig === 'SIGTERM' ? 15 : 9) : 1)));
  });
  process.off('SIGTERM', onTerm);
  process.off('SIGINT', onInt);

  if (code === 2 && prep.created) {
    // Input the trainer refused (the model lacks the targets, ...): no run happened.
    fs.rmSync(prep.runDir, { recursive: true, force: true });
    const message = stderrTail.filter((l) => l.startsWith('error:')).map((l) => l.slice(6).trim()).join('\n') || stderrTail.join('\n');
    throw new ConfigError(cfg.configPath, [{ path: [], severity: 'error', message }]);
  }
  const writer = new RunWriter(prep.runDir);
  let status = readJsonIfValid<RunStatus>(writer.file('status'));
  if (!status || status.state === 'running') {
    const why = code === 127
      ? `the Python interpreter could not be started (${python}); set lily.pythonPath or --python to a Python with native-runtime/torch/requirements.txt installed`
      : `the torch trainer exited with code ${code} without finishing the run`;
    const error = `${why}${stderrTail.length ? `:\n${stderrTail.slice(-12).join('\n')}` : ''}`;
    status = writer.updateStatus({ state: 'failed', ended_at: new Date().toISOString(), error });
    hooks.onEvent?.({ event: 'finished', state: 'failed', runDir: prep.runDir, error });
  }
  return { state: status.state, runDir: prep.runDir, exitCode: code, error: status.error };
}
