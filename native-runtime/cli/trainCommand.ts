// `lily train <config>`: validates everything before creating the run directory, then trains
// with a progress bar (or, with --json, the TrainEvent lines the server relays).
import * as fs from 'fs';
import * as path from 'path';
import type { DeviceRequest } from '../onnx/session';
import type { TrainEvent } from '../protocol';
import { headlineMetric } from '../train/metrics';
import { planTrainingMemory, prepareTraining, runTraining } from '../train/trainer';
import { estimateRows, formatMB } from '../train/memoryEstimate';
import { loadConfig, type ResolvedConfig } from '../config/validate';
import { readJsonIfValid } from '../io/atomic';
import { CHECKPOINT_FILES } from '../io/checkpoint';
import { readRunConfig } from './runAdapter';
import { trainTorch } from '../torch/run';
import { inspectFinishedRun } from './inspectCommand';
import type { ParsedArgs } from './args';
import { Command, JSON_OPTION, type CliContext } from './command';
import { loadConfigArg } from './configArg';
import { EXIT } from '../errors';
import { UsageError } from './errors';
import { EVALUATE_HOOKS } from './hooks';
import { Output } from './io';
import { ProgressBar } from './progress';

const DEVICES: DeviceRequest[] = ['auto', 'cpu', 'cuda', 'webgpu'];

/** The resolved config a run recorded (for `--resume RUN` without a config argument). */
function runConfigOf(target: string): ResolvedConfig {
  const runDir = fs.existsSync(path.join(target, CHECKPOINT_FILES.trainer)) ? path.dirname(path.dirname(target)) : target;
  return readRunConfig(runDir);
}

/** A new run needs an empty (or absent) folder: checked before the model is loaded and built. */
function refuseUsedRunDir(dir: string): void {
  if (!fs.existsSync(dir)) return;
  if (!fs.statSync(dir).isDirectory()) throw new UsageError(`lily train: --run-dir ${dir} is a file; give a new folder`, 'train');
  if (fs.readdirSync(dir).length > 0) throw new UsageError(`lily train: --run-dir ${dir} is not empty; choose a new folder, or continue a run there with --resume ${dir}`, 'train');
}

/** The config file asks for the torch backend (unreadable files go the usual way, to their error). */
function configNamesTorch(file: string): boolean {
  try {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { runtime?: { backend?: string } }).runtime?.backend === 'torch';
  } catch {
    return false;
  }
}

/** A run directory (or one of its checkpoints) made by the torch backend. */
function isTorchRun(target: string): boolean {
  for (const dir of [target, path.dirname(path.dirname(target))]) {
    const cfg = readJsonIfValid<{ runtime?: { backend?: string } }>(path.join(dir, 'config.json'));
    if (cfg) return cfg.runtime?.backend === 'torch';
  }
  return false;
}

/** `lily train --backend torch`: the run is trained by PyTorch + PEFT (native-runtime/torch/). */
async function trainOnTorch(args: ParsedArgs, ctx: CliContext, out: Output): Promise<number> {
  const file = path.resolve(ctx.cwd, args.positional[0]);
  const resume = args.options.resume as string | undefined;
  const runDir = args.options['run-dir'] as string | undefined;
  if (args.options['compare-lora']) throw new UsageError('lily train: --compare-lora runs on the onnx backend; drop --backend torch', 'train');
  if (args.options['dry-run']) throw new UsageError('lily train: --dry-run estimates the onnx engine\'s memory; it does not apply to the torch backend', 'train');
  if (resume && runDir) throw new UsageError('lily train: --resume continues an existing run directory; do not combine it with --run-dir', 'train');
  if (resume && args.options['max-steps'] !== undefined) throw new UsageError('lily train: --resume continues the run\'s own schedule (its config.json records max_steps); do not combine it with --max-steps', 'train');
  if (runDir) refuseUsedRunDir(path.resolve(ctx.cwd, runDir));
  // Validate with the torch backend's rules (model.path may be a Hugging Face folder).
  let text: string | undefined;
  try {
    const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as { runtime?: Record<string, unknown> };
    if (raw && typeof raw === 'object') text = JSON.stringify({ ...raw, runtime: { ...(raw.runtime ?? {}), backend: 'torch' } });
  } catch { /* loadConfig reports the syntax error with its position */ }
  const config = loadConfig(file, text, { cwd: ctx.cwd, onWarning: (d) => out.log(`warning: ${file}: ${d.message}`) });
  if (args.options.device !== undefined) config.runtime.device = args.options.device as ResolvedConfig['runtime']['device'];
  if (args.options.threads !== undefined) config.runtime.threads = args.options.threads as number;
  if (args.options.processes !== undefined) { config.runtime.processes = args.options.processes as number; delete config.runtime.launch; }
  if (args.options.launch !== undefined) config.runtime.launch = args.options.launch as string;
  const bar = out.json ? undefined : new ProgressBar(ctx.io);
  const log = (m: string) => { bar?.clear(); out.log(m); };
  log(`Preparing ${file} for the torch backend ...`);
  const outcome = await trainTorch({
    config,
    maxSteps: args.options['max-steps'] as number | undefined,
    runDir: runDir ? path.resolve(ctx.cwd, runDir) : undefined,
    resume: resume ? path.resolve(ctx.cwd, resume) : undefined,
    python: args.options.python as string | undefined,
    cwd: ctx.cwd,
  }, {
    log,
    onStderr: (line) => log(line),
    onEvent: (e) => {
      if (out.json) out.emit(e);
      else if (e.event === 'progress') bar!.update({ step: e.step, total: e.totalSteps, epoch: e.epoch, loss: e.loss, samplesPerSec: e.samplesPerSec, etaSeconds: e.etaSeconds });
    },
    afterCompleted: (dir) => inspectFinishedRun(dir, { cwd: ctx.cwd, python: args.options.python as string | undefined, log }),
  });
  bar?.clear();
  out.print(`${outcome.state}: ${outcome.runDir}${outcome.error ? `\n${outcome.error}` : ''}`);
  return outcome.state === 'completed' ? EXIT.ok : outcome.state === 'stopped' ? EXIT.interrupted : EXIT.failure;
}

export const trainCommand: Command = {
  spec: {
    name: 'train',
    usage: '<config.lily.json> | --resume RUN',
    summary: 'Train an adapter as the config says; writes a run directory (default .lily/runs/<id>).',
    details: [
      'Everything is validated before the run directory is created. Ctrl-C stops after a checkpoint;',
      'continue with --resume <run dir>. Exit codes: 0 completed, 1 failed, 2 invalid input, 130 stopped.',
    ],
    positional: { min: 0, max: 1 },
    options: [
      { name: 'max-steps', kind: 'int', value: 'N', help: 'Stop after N optimizer steps (overrides training.max_steps and epochs).' },
      { name: 'run-dir', kind: 'string', value: 'DIR', help: 'Create the run here instead of <output.dir>/<id>.' },
      { name: 'resume', kind: 'string', value: 'RUN_OR_CKPT', help: 'Continue a run from its latest checkpoint (or from a checkpoints/step-N folder).' },
      { name: 'compare-lora', kind: 'bool', help: 'Train LoRA at the same trainable-parameter budget instead (run name suffixed -lora).' },
      { name: 'device', kind: 'string', value: 'X', help: `Execution provider: ${DEVICES.join(', ')} (overrides runtime.device).` },
      { name: 'threads', kind: 'int', value: 'N', help: 'Intra-op threads (overrides runtime.threads).' },
      { name: 'dry-run', kind: 'bool', help: 'Build the step, print the expected peak memory (weights, activations, logits, adapter, optimizer) and whether it fits; train nothing. Exit 2 when it does not fit.' },
      { name: 'ignore-memory-estimate', kind: 'bool', help: 'Start even when the memory estimate exceeds the available memory.' },
      { name: 'backend', kind: 'string', value: 'B', help: 'onnx (this engine) or torch (PyTorch + PEFT, torchrun; overrides runtime.backend).' },
      { name: 'python', kind: 'string', value: 'PATH', help: 'Torch backend: the Python interpreter (default: $LILY_PYTHON, ./.venv/bin/python, python3).' },
      { name: 'processes', kind: 'int', value: 'N', help: 'Torch backend: local training processes (overrides runtime.processes).' },
      { name: 'launch', kind: 'string', value: 'TEMPLATE', help: 'Torch backend: launch command line with {script} and {args} (overrides runtime.launch).' },
      JSON_OPTION,
    ],
  },
  async run(args, ctx) {
    const out = new Output(ctx.io, !!args.options.json);
    const device = args.options.device as DeviceRequest | undefined;
    if (device !== undefined && !DEVICES.includes(device)) throw new UsageError(`lily train: --device expects one of ${DEVICES.join(', ')}, got "${device}"`, 'train');
    const backend = args.options.backend as string | undefined;
    if (backend !== undefined && backend !== 'onnx' && backend !== 'torch') throw new UsageError(`lily train: --backend expects onnx or torch, got "${backend}"`, 'train');
    const resume = args.options.resume as string | undefined;
    const runDir = args.options['run-dir'] as string | undefined;
    if (args.positional.length === 0 && !resume) throw new UsageError('lily train: missing argument; usage: lily train <config.lily.json>, or lily train --resume RUN', 'train');
    const useTorch = backend === 'torch' || (backend === undefined && (resume ? isTorchRun(path.resolve(ctx.cwd, resume)) : configNamesTorch(path.resolve(ctx.cwd, args.positional[0]))));
    if (useTorch) {
      if (args.positional.length === 0) throw new UsageError('lily train: the torch backend resumes with the config argument too: lily train <config.lily.json> --resume RUN', 'train');
      return trainOnTorch(args, ctx, out);
    }
    // A resume trains from the run's own config.json: the config argument is optional then.
    const config = args.positional.length ? loadConfigArg(args.positional[0], ctx.cwd, out) : runConfigOf(path.resolve(ctx.cwd, resume!));
    if (resume && runDir) throw new UsageError('lily train: --resume continues an existing run directory; do not combine it with --run-dir', 'train');
    if (resume && args.options['compare-lora']) throw new UsageError('lily train: --compare-lora starts a new run; it cannot be combined with --resume', 'train');
    if (resume && args.options['max-steps'] !== undefined) throw new UsageError('lily train: --resume continues the run\'s own schedule (its config.json records max_steps); do not combine it with --max-steps', 'train');

    if (args.options['dry-run']) {
      if (resume) throw new UsageError('lily train: --dry-run plans a new run; give the config, not --resume', 'train');
      const plan = await planTrainingMemory({ config, maxSteps: args.options['max-steps'] as number | undefined, compareLora: !!args.options['compare-lora'], device, threads: args.options.threads as number | undefined, log: (m) => out.log(m) });
      if (out.json) out.emit({ event: 'memory', estimate: plan.memory, available: plan.available, inputShapes: plan.inputShapes, fits: !plan.overBudget, overBudget: plan.overBudget, gradientCheckpointing: plan.gradientCheckpointing, withCheckpointing: plan.withCheckpointing });
      else {
        const shapes = Object.entries(plan.inputShapes).map(([k, v]) => `${k} [${v.join(', ')}]`).join(', ');
        out.print(`Expected peak memory for ${shapes} (gradient checkpointing ${plan.gradientCheckpointing ? 'on' : 'off'}):`);
        for (const [k, v] of estimateRows(plan.memory)) out.print(`  ${k.padEnd(12)}${v.padStart(10)}`);
        out.print(`  available   ${formatMB(plan.available.bytes).padStart(10)}  (${plan.available.source})`);
        if (plan.withCheckpointing) out.print(`with training.gradient_checkpointing true: total ${formatMB(plan.withCheckpointing.total)} (activations ${formatMB(plan.withCheckpointing.activations)} instead of ${formatMB(plan.memory.activations)}; about one more forward pass per step)`);
        out.print(plan.overBudget ? `does not fit: ${plan.overBudget}` : 'fits');
      }
      return plan.overBudget ? EXIT.invalidInput : EXIT.ok;
    }
    if (runDir) refuseUsedRunDir(path.resolve(ctx.cwd, runDir));

    const bar = out.json ? undefined : new ProgressBar(ctx.io);
    const log = (m: string) => { bar?.clear(); out.log(m); };
    // Until training starts nothing is written but the run's lock (released at exit): a signal
    // here ends the command as interrupted (130) at once, as it would during training.
    // (Kept installed, as a no-op, until the trainer's own handlers are: a signal in between
    // would otherwise meet no handler and kill the process with 143.)
    let preparing = true;
    const interrupted = () => { if (preparing) { log('Interrupted during preparation; nothing was written.'); process.exit(EXIT.interrupted); } };
    process.on('SIGINT', interrupted);
    process.on('SIGTERM', interrupted);
    log(`Preparing ${config.configPath} ...`);
    let prep: Awaited<ReturnType<typeof prepareTraining>>;
    try {
      prep = await prepareTraining({
      config,
      maxSteps: args.options['max-steps'] as number | undefined,
      runDir: runDir ? path.resolve(ctx.cwd, runDir) : undefined,
      resume: resume ? path.resolve(ctx.cwd, resume) : undefined,
      compareLora: !!args.options['compare-lora'],
      device,
      threads: args.options.threads as number | undefined,
      log,
      ignoreMemoryEstimate: !!args.options['ignore-memory-estimate'],
      });
    } catch (e) {
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
      throw e;
    }
    preparing = false;
    try {
      const onEvent = (e: TrainEvent) => {
        if (out.json) out.emit(e);
        else if (e.event === 'progress') bar!.update({ step: e.step, total: e.totalSteps, epoch: e.epoch, loss: e.loss, samplesPerSec: e.samplesPerSec, etaSeconds: e.etaSeconds });
      };
      const outcome = await runTraining(prep, { onEvent, log, onEvaluate: EVALUATE_HOOKS, handleSignals: true });
      bar?.clear();
      const k = headlineMetric(prep.config.model.task).name;
      if (outcome.evalBefore && outcome.evalAfter) {
        out.print(`eval ${k}: ${outcome.evalBefore[k].toFixed(4)} before -> ${outcome.evalAfter[k].toFixed(4)} after`);
      }
      out.print(`${outcome.state}: ${outcome.runDir}${outcome.error ? `\n${outcome.error}` : ''}`);
      return outcome.state === 'completed' ? EXIT.ok : outcome.state === 'stopped' ? EXIT.interrupted : EXIT.failure;
    } finally {
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
      prep.data.close();
      await prep.runner.release();
    }
  },
};
