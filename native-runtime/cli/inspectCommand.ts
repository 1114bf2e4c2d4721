// `lily inspect <run dir | adapter dir>`: router statistics over a reference set and the spectrum
// of every adapted layer's ΔW, printed as a summary and written as router_stats.json and
// spectrum.json (into the run directory; for an adapter folder, into it or --out).
import * as fs from 'fs';
import * as path from 'path';
import { resolveConfig, type ResolvedConfig } from '../config/resolved';
import type { TaskType } from '../config/types';
import type { AdapterWeights } from '../io/adapterWeights';
import { COMPACT_ADAPTER_FILE, readCompactAdapter } from '../io/compactAdapter';
import { PEFT_FILES } from '../io/peft';
import { readRunStatus, RunWriter } from '../io/runDir';
import { inspectAdapter, writeInspection } from '../inspect/inspection';
import { importPeftAdapter } from '../inspect/peftImport';
import { openReferenceData, type ReferenceData } from '../inspect/referenceData';
import type { Model } from '../onnx/ir';
import type { InspectResult } from '../protocol';
import type { ParsedArgs } from './args';
import { Command, JSON_OPTION, type CliContext } from './command';
import { loadConfigArg } from './configArg';
import { EXIT, InputError } from '../errors';
import { formatInspection } from './inspectSummary';
import { Output } from './io';
import { logitsClasses, loadUserModel } from './model';
import { lockIfInside } from './runLockArg';
import { isRunDir, readRunConfig, runAdapterWeights } from './runAdapter';
import { PYTHON_OPTION, runModel, type RunModelOptions } from './runModel';

interface Source {
  model: Model;
  weights: AdapterWeights;
  /** Set when there is a config (a run's, --config, or one made for --reference). */
  config?: ResolvedConfig;
  step: number;
  outDir: string;
}

const PEFT_TASKS: Record<string, TaskType> = { SEQ_CLS: 'sequence-classification', CAUSAL_LM: 'causal-lm', TOKEN_CLS: 'token-classification' };

async function fromRun(runDir: string, opts: RunModelOptions): Promise<Source> {
  const { config, model } = await runModel(readRunConfig(runDir), opts);
  const { weights, source } = runAdapterWeights(runDir, model);
  const ck = /step-(\d+)$/.exec(source);
  opts.log(`Adapter: ${source}`);
  return { model, weights, config, step: ck ? Number(ck[1]) : readRunStatus(runDir).step, outDir: runDir };
}

/** A config for a bare adapter: the reference file as data, the task from adapter_config.json. */
function configForAdapter(dir: string, model: Model, modelPath: string, weights: AdapterWeights, reference: string, sizes: { maxLength?: number; batchSize?: number }): ResolvedConfig {
  let peftConfig: Record<string, unknown> = {};
  try { peftConfig = JSON.parse(fs.readFileSync(path.join(dir, PEFT_FILES.config), 'utf8')) as Record<string, unknown>; } catch { /* compact adapter: no PEFT config */ }
  let task = PEFT_TASKS[String(peftConfig.task_type)];
  // No task_type: how io/peft.ts writes a classification adapter whose head was not trained (PEFT's
  // SEQ_CLS wrapper would demand the head's weights). Rank-2 logits can only be that; rank 3 could
  // be a causal LM or a token classifier, so it stays a question for --config.
  if ((peftConfig.task_type ?? null) === null && model.graph.outputs[0]?.shape?.length === 2) task = 'sequence-classification';
  if (task === 'sequence-classification' && logitsClasses(model) === 1) task = 'regression';
  if (!task) throw new InputError(`${dir}: cannot tell the task (adapter_config.json task_type is ${JSON.stringify(peftConfig.task_type ?? null)}); pass --config with a *.lily.json that describes the model and data`);
  const { method, target_modules, modules_to_save } = weights.settings;
  const adapter = weights.settings.method === 'lily'
    ? { method, target_modules, modules_to_save, r: weights.settings.r, stride_A: weights.settings.stride_A, num_B: weights.settings.num_B, scaling: weights.settings.scaling, routing: weights.settings.routing }
    : { method, target_modules, modules_to_save, r: weights.settings.r, lora_alpha: weights.settings.lora_alpha };
  return resolveConfig({ model: { path: modelPath, task }, data: { train: reference, eval: reference, ...(sizes.maxLength ? { max_length: sizes.maxLength } : {}) }, adapter: adapter as never, ...(sizes.batchSize ? { training: { batch_size: sizes.batchSize } } : {}) }, path.join(dir, 'inspect.lily.json'));
}

function fromAdapter(target: string, opts: { model?: string; config?: ResolvedConfig; reference?: string; out?: string; allowMismatch: boolean; maxLength?: number; batchSize?: number }, log: (m: string) => void): Source {
  const isFile = fs.statSync(target).isFile();
  const dir = isFile ? path.dirname(target) : target;
  const compact = isFile && target.endsWith(COMPACT_ADAPTER_FILE) ? target
    : !isFile && !fs.existsSync(path.join(dir, PEFT_FILES.config)) && fs.existsSync(path.join(dir, COMPACT_ADAPTER_FILE)) ? path.join(dir, COMPACT_ADAPTER_FILE) : undefined;
  if (!compact && !fs.existsSync(path.join(dir, PEFT_FILES.config))) {
    throw new InputError(`${target}: neither a run directory (config.json) nor an adapter folder (${PEFT_FILES.config} + ${PEFT_FILES.weights}, or ${COMPACT_ADAPTER_FILE})`);
  }
  let modelPath = opts.model ?? opts.config?.model.path;
  if (!modelPath && !compact) {
    const base = (JSON.parse(fs.readFileSync(path.join(dir, PEFT_FILES.config), 'utf8')) as { base_model_name_or_path?: unknown }).base_model_name_or_path;
    if (typeof base === 'string' && base.endsWith('.onnx') && fs.existsSync(path.resolve(dir, base))) modelPath = path.resolve(dir, base);
  }
  if (!modelPath) throw new InputError(`${target}: which ONNX model does this adapter belong to? Pass --model model.onnx (or --config with the training config)`);
  const model = loadUserModel(modelPath);
  let weights: AdapterWeights;
  if (compact) weights = readCompactAdapter(compact);
  else {
    const imported = importPeftAdapter(target, model, { allowMismatch: opts.allowMismatch });
    for (const w of imported.warnings) log(`warning: ${w}`);
    weights = imported.weights;
  }
  log(`Adapter: ${compact ?? target}; model: ${modelPath}`);
  const config = opts.config ?? (opts.reference ? configForAdapter(dir, model, modelPath, weights, opts.reference, opts) : undefined);
  return { model, weights, config, step: 0, outDir: opts.out ?? dir };
}

export const inspectCommand: Command = {
  spec: {
    name: 'inspect',
    usage: '<run-dir | adapter-dir>',
    summary: 'Router statistics and ΔW spectra (ranks) of a run\'s or a PEFT adapter\'s layers; writes router_stats.json and spectrum.json.',
    details: [
      'The reference set is the eval set (else the train set) of the run\'s config, or --reference FILE.',
      'For a bare adapter folder, give the model with --model (or --config); without reference data,',
      'Lily spectra use the uniform mixture and there are no router statistics.',
    ],
    positional: { min: 1, max: 1 },
    options: [
      { name: 'reference', kind: 'string', value: 'FILE', help: 'Data file to compute router statistics on (default: the eval set).' },
      { name: 'model', kind: 'string', value: 'FILE', help: 'Adapter folder: the ONNX model it was trained for.' },
      { name: 'config', kind: 'string', value: 'FILE', help: 'Adapter folder: a *.lily.json giving model, data fields and task.' },
      { name: 'max-length', kind: 'int', value: 'N', help: 'Adapter folder without --config: pad/truncate reference texts to N tokens (default 128).' },
      { name: 'batch-size', kind: 'int', value: 'N', help: 'Adapter folder without --config: reference batch size (default 16; Lily\'s batch routing depends on it).' },
      { name: 'out', kind: 'string', value: 'DIR', help: 'Where to write the JSON files (default: the run or adapter folder).' },
      { name: 'example', kind: 'int', value: 'N', help: 'Keep per-token router probabilities of the Nth reference input (default 1).' },
      { name: 'allow-mismatch', kind: 'bool', help: 'PEFT file whose copies of shared tensors disagree: use the last copy, as PEFT does.' },
      PYTHON_OPTION,
      JSON_OPTION,
    ],
  },
  async run(args, ctx) {
    const out = new Output(ctx.io, !!args.options.json);
    const log = (m: string) => out.log(m);
    const target = path.resolve(ctx.cwd, args.positional[0]);
    if (!fs.existsSync(target)) throw new InputError(`${target} does not exist; give a run directory or an adapter folder`);
    const opt = (name: string) => (args.options[name] as string | undefined) && path.resolve(ctx.cwd, args.options[name] as string);
    // Inspecting a run writes router_stats.json and spectrum.json into it (unless --out points
    // elsewhere): the run's one-writer lock is taken before its adapter is read.
    const lock = isRunDir(target) ? lockIfInside(target, opt('out') ?? target, 'lily inspect', log) : undefined;
    try {
      return await inspect(target, args, ctx, out, isRunDir(target));
    } finally {
      lock?.release();
    }
  },
};

/**
 * What the ONNX engine writes at each evaluation (router_stats.json, spectrum.json over the eval
 * set), for a finished torch-backend run: the same computation as `lily inspect RUN`, run by
 * `lily train --backend torch` once the trainer has written adapter/ (while it holds the run's lock).
 * Runs without an eval set get none, as on the engine.
 */
export async function inspectFinishedRun(runDir: string, opts: RunModelOptions): Promise<string[]> {
  if (!readRunConfig(runDir).data.eval) return [];
  const src = await fromRun(runDir, opts);
  const ref = src.weights.settings.method === 'lily' ? openReferenceData(src.config!, src.model) : undefined;
  try {
    const result = await inspectAdapter({ model: src.model, weights: src.weights, config: ref?.config ?? src.config, step: src.step, reference: ref, threads: src.config?.runtime.threads });
    return writeInspection(new RunWriter(runDir), result);
  } finally {
    ref?.data.close();
  }
}

async function inspect(target: string, args: ParsedArgs, ctx: CliContext, out: Output, runDir: boolean): Promise<number> {
  const log = (m: string) => out.log(m);
  const opt = (name: string) => (args.options[name] as string | undefined) && path.resolve(ctx.cwd, args.options[name] as string);
  const reference = opt('reference');
  const src = runDir
    ? await fromRun(target, { cwd: ctx.cwd, python: args.options.python as string | undefined, log })
    : fromAdapter(target, {
      model: opt('model'), reference, out: opt('out'), allowMismatch: !!args.options['allow-mismatch'], maxLength: args.options['max-length'] as number | undefined, batchSize: args.options['batch-size'] as number | undefined,
      config: opt('config') ? loadConfigArg(opt('config')!, ctx.cwd, out) : undefined,
    }, log);
  if (runDir && opt('out')) src.outDir = opt('out')!;

  let ref: ReferenceData | undefined;
  try {
    ref = src.config && src.weights.settings.method === 'lily' ? openReferenceData(src.config, src.model, reference) : undefined;
    if (ref) log(`Reference: ${ref.file}`);
    else if (src.weights.settings.method === 'lily') log('No reference data: spectra use the uniform mixture, no router statistics (pass --reference FILE).');
    const result = await inspectAdapter({
      model: src.model, weights: src.weights, config: ref?.config ?? src.config, step: src.step,
      reference: ref, exampleIndex: ((args.options.example as number | undefined) ?? 1) - 1,
      threads: src.config?.runtime.threads,
    });
    const files = writeInspection(new RunWriter(src.outDir), result);
    if (out.json) {
      out.emit({ ...(result.routerStats ? { routerStats: result.routerStats } : {}), spectrum: result.spectrum, ...(result.metrics ? { metrics: result.metrics } : {}), files } satisfies InspectResult);
    } else {
      out.print(formatInspection(result.spectrum, result.routerStats, result.metrics));
      out.print(`\nwrote ${files.join(', ')}`);
    }
    return EXIT.ok;
  } finally {
    ref?.data.close();
  }}
