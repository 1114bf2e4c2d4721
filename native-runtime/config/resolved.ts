// The resolved config: every default filled in and every path absolute. Training, inspection and
// the run directory's config.json all work from this shape, so no other module repeats a default.
// The static defaults here must equal the `@default` tags in types.ts (which become `default` in
// the JSON Schema and VS Code's completions); test/config/resolve.test.ts checks they agree.
import * as fs from 'fs';
import * as path from 'path';
import type { LilyConfig, TaskType } from './types';
import { defaultBuckets } from '../train/data/padding';

export interface ResolvedModel {
  path: string;
  task: TaskType;
  inputs?: string[];
  output?: string;
  num_labels?: number;
  labels?: string[];
  /** Absolute path; defaults to `tokenizer.json` beside the model (it may not exist). */
  tokenizer: string;
  weights_dtype: NonNullable<LilyConfig['model']['weights_dtype']>;
}

export interface ResolvedData {
  train: string;
  eval?: string;
  /** Format of `train`: `data.format`, else from its extension (a folder: `arrow`). */
  format: DataFormat;
  /** Format of `eval` (when given): `data.format`, else from its extension (a folder: `arrow`). */
  eval_format?: DataFormat;
  text_field: string;
  text_pair_field?: string;
  label_field: string;
  max_length: number;
  /** Set when max_length is the default (not in the config): training lowers it to the model's positions. */
  max_length_default?: true;
  padding: 'max_length' | 'longest' | 'buckets';
  /** Ascending; present with `padding: "buckets"` only. */
  buckets?: number[];
  packing: boolean;
  /** Present (true) only when the config asks for length-grouped batches. */
  group_by_length?: boolean;
}

interface ResolvedAdapterCommon {
  target_modules: string[] | string;
  exclude_modules?: string[] | string;
  layers_to_transform?: number[];
  modules_to_save: string[];
  /** `"default"` or an absolute path to a PEFT `adapter_model.safetensors` (a folder is resolved to the file). */
  init: string;
}

export interface ResolvedLilyAdapter extends ResolvedAdapterCommon {
  method: 'lily';
  r: number;
  stride_A: number;
  num_B: number;
  scaling: number;
  routing: 'batch' | 'masked' | 'token';
}

export interface ResolvedLoraAdapter extends ResolvedAdapterCommon {
  method: 'lora';
  r: number;
  lora_alpha: number;
}

export type ResolvedAdapter = ResolvedLilyAdapter | ResolvedLoraAdapter;

export interface ResolvedTraining {
  epochs: number;
  max_steps?: number;
  batch_size: number;
  lr: number;
  weight_decay: number;
  optimizer: 'adamw' | 'sgd';
  betas: [number, number];
  eps: number;
  momentum: number;
  schedule: 'constant' | 'linear' | 'cosine';
  warmup_steps: number;
  max_grad_norm: number;
  gradient_checkpointing: boolean;
  seed: number;
  shuffle: boolean;
  eval_every?: number;
  log_every: number;
  save_every?: number;
  divergence: ResolvedDivergence;
}

export interface ResolvedDivergence {
  loss_factor: number;
  grad_norm_limit: number;
  param_limit: number;
}

export interface ResolvedRuntime {
  device: 'auto' | 'cpu' | 'cuda' | 'webgpu';
  threads?: number;
  backend: 'onnx' | 'torch';
  /** onnx backend: which frozen weights the train session keeps packed (types.ts RuntimeSection). */
  pack_weights: boolean | 'forward' | 'auto';
  /** Torch backend: local training processes. */
  processes: number;
  /** Torch backend: the launch template (with `{script}` and `{args}`), when given. */
  launch?: string;
}

export interface ResolvedConfig {
  /** Absolute path of the `*.lily.json` file. */
  configPath: string;
  /** Its folder: relative paths in the file are resolved against it. */
  configDir: string;
  /** `name` from the file, else the file name without `.lily.json` / `.json`. */
  name: string;
  $schema?: string;
  model: ResolvedModel;
  data: ResolvedData;
  adapter: ResolvedAdapter;
  training: ResolvedTraining;
  runtime: ResolvedRuntime;
  /** `dir` is absolute (resolved against the working directory, not the config folder). */
  output: { dir: string };
}

/** Static defaults, by section. Kept in one place so the schema-agreement test can read them. */
export const DEFAULTS = {
  model: { weights_dtype: 'float32' as const },
  data: { text_field: 'text', label_field: 'label', max_length: 128, padding: 'max_length' as const, packing: false },
  lily: { r: 32, stride_A: 1, num_B: 2, scaling: 1, routing: 'batch' as const },
  lora: { r: 8 },
  adapter: { init: 'default' },
  training: {
    epochs: 1,
    batch_size: 16,
    lr: 1e-3,
    weight_decay: 0,
    optimizer: 'adamw' as const,
    betas: [0.9, 0.999] as [number, number],
    eps: 1e-8,
    momentum: 0.9,
    schedule: 'linear' as const,
    warmup_steps: 0,
    max_grad_norm: 1,
    gradient_checkpointing: false,
    seed: 42,
    shuffle: true,
    log_every: 10,
  },
  divergence: { loss_factor: 100, grad_norm_limit: 1e6, param_limit: 1e4 },
  runtime: { device: 'auto' as const, backend: 'onnx' as const, processes: 1, pack_weights: 'auto' as const },
  output: { dir: '.lily/runs' },
};

export type DataFormat = NonNullable<LilyConfig['data']['format']>;

/** The data format a file extension implies, or undefined when it implies none. */
export function formatFromExtension(file: string): DataFormat | undefined {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.csv') return 'csv';
  if (ext === '.parquet') return 'parquet';
  if (ext === '.arrow') return 'arrow';
  return undefined;
}

/** The format of a data path: its extension's, else `arrow` for a folder (datasets.save_to_disk). */
export function formatOfPath(file: string): DataFormat | undefined {
  const byExt = formatFromExtension(file);
  if (byExt) return byExt;
  try {
    return fs.statSync(file).isDirectory() ? 'arrow' : undefined;
  } catch {
    return undefined;
  }
}

/** The torch backend's model is a Hugging Face folder unless the path names an `.onnx` file. */
function isModelFolder(config: LilyConfig): boolean {
  return config.runtime?.backend === 'torch' && path.extname(config.model.path).toLowerCase() !== '.onnx';
}

/** Display name of a config file when it has no `name`: `sentiment.lily.json` -> `sentiment`. */
export function nameFromConfigPath(configPath: string): string {
  return path.basename(configPath).replace(/(\.lily)?\.jsonc?$/i, '');
}

/**
 * Fills defaults and makes paths absolute. Expects a config that passed validation: it does not
 * check anything (validate.ts does), so an invalid config gives an unspecified result.
 * `cwd` anchors `output.dir` (the workspace folder in VS Code, the shell's folder for the CLI).
 */
export function resolveConfig(config: LilyConfig, configPath: string, cwd: string = process.cwd()): ResolvedConfig {
  const absConfig = path.resolve(configPath);
  const configDir = path.dirname(absConfig);
  const fromConfig = (p: string): string => path.resolve(configDir, p);

  const modelPath = fromConfig(config.model.path);
  const model: ResolvedModel = {
    ...config.model,
    path: modelPath,
    tokenizer: config.model.tokenizer !== undefined
      ? fromConfig(config.model.tokenizer)
      : path.join(isModelFolder(config) ? modelPath : path.dirname(modelPath), 'tokenizer.json'),
    weights_dtype: config.model.weights_dtype ?? DEFAULTS.model.weights_dtype,
  };

  const d = config.data;
  const data: ResolvedData = {
    ...d,
    train: fromConfig(d.train),
    eval: d.eval !== undefined ? fromConfig(d.eval) : undefined,
    format: d.format ?? formatOfPath(fromConfig(d.train)) ?? 'jsonl',
    eval_format: d.eval !== undefined ? d.format ?? formatOfPath(fromConfig(d.eval)) ?? 'jsonl' : undefined,
    text_field: d.text_field ?? DEFAULTS.data.text_field,
    label_field: d.label_field ?? DEFAULTS.data.label_field,
    max_length: d.max_length ?? DEFAULTS.data.max_length,
    ...(d.max_length === undefined ? { max_length_default: true as const } : {}),
    padding: d.padding ?? DEFAULTS.data.padding,
    packing: d.packing ?? DEFAULTS.data.packing,
  };
  if (data.padding === 'buckets') data.buckets = d.buckets ? [...d.buckets].sort((x, y) => x - y) : defaultBuckets(data.max_length);
  else delete data.buckets;
  if (!data.group_by_length) delete data.group_by_length;
  if (data.eval === undefined) { delete data.eval; delete data.eval_format; }

  const a = config.adapter;
  const common: ResolvedAdapterCommon = {
    target_modules: a.target_modules,
    ...(a.exclude_modules !== undefined ? { exclude_modules: a.exclude_modules } : {}),
    ...(a.layers_to_transform !== undefined ? { layers_to_transform: a.layers_to_transform } : {}),
    modules_to_save: a.modules_to_save ?? [],
    init: resolveInit(a.init, fromConfig),
  };
  let adapter: ResolvedAdapter;
  if (a.method === 'lily') {
    adapter = {
      ...common,
      method: 'lily',
      r: a.r ?? DEFAULTS.lily.r,
      stride_A: a.stride_A ?? DEFAULTS.lily.stride_A,
      num_B: a.num_B ?? DEFAULTS.lily.num_B,
      scaling: a.scaling ?? DEFAULTS.lily.scaling,
      routing: a.routing ?? DEFAULTS.lily.routing,
    };
  } else {
    const r = a.r ?? DEFAULTS.lora.r;
    adapter = { ...common, method: 'lora', r, lora_alpha: a.lora_alpha ?? r };
  }

  const training: ResolvedTraining = {
    ...DEFAULTS.training, betas: [...DEFAULTS.training.betas], ...stripUndefined(config.training ?? {}),
    divergence: resolveDivergence(config.training?.divergence),
  };
  const runtime = { ...DEFAULTS.runtime, ...stripUndefined(config.runtime ?? {}) };
  const output = { dir: path.resolve(cwd, config.output?.dir ?? DEFAULTS.output.dir) };

  return {
    configPath: absConfig,
    configDir,
    name: config.name ?? nameFromConfigPath(absConfig),
    ...(config.$schema !== undefined ? { $schema: config.$schema } : {}),
    model,
    data,
    adapter,
    training,
    runtime,
    output,
  };
}

/** Divergence limits with defaults; also for a run's config.json written before they existed. */
export function resolveDivergence(d: Partial<ResolvedDivergence> | undefined): ResolvedDivergence {
  return { ...DEFAULTS.divergence, ...stripUndefined(d ?? {}) };
}

/** `init` as an absolute path to the safetensors file (a folder means its adapter_model.safetensors). */
function resolveInit(init: string | undefined, fromConfig: (p: string) => string): string {
  if (init === undefined || init === 'default') return 'default';
  const abs = fromConfig(init);
  return abs.toLowerCase().endsWith('.safetensors') ? abs : path.join(abs, 'adapter_model.safetensors');
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
