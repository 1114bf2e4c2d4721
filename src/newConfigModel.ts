// Builds the text of a new `<name>.lily.json` from a model and the target groups the user
// picked, with starting values from LILY.md's advice. No vscode import: tested in Node.
// No `$schema` is written: package.json's `jsonValidation` gives every `*.lily.json` the schema
// of the installed extension, wherever the file lives and across updates, while a written path
// or file URI breaks when the folder is copied or the extension updates (issue #14).
import * as path from 'path';
import type { LilyConfig, TaskType } from '../native-runtime/config/types';
import type { TargetGroup } from '../native-runtime/protocol';

export interface NewConfigInput {
  /** Absolute path of the file to write. */
  configPath: string;
  /** Absolute path of the .onnx model. */
  modelPath: string;
  task: TaskType;
  /** The groups picked (at least one). */
  targets: TargetGroup[];
  /** The data the user picked (absolute paths) and what was detected in it. */
  data: NewConfigData;
  /** Absolute path of tokenizer.json; omitted when the data is pre-tokenized. */
  tokenizer?: string;
  /** Token positions the model embeds: data.max_length must not exceed it. */
  maxPositions?: number;
  /** The model's classification head (`modules_to_save` entries), trained in full for classification and regression. */
  headModules?: string[];
  /** A model exported for packing (`lily import --packing`, lily-import.json `packing`): propose data.packing. */
  packing?: boolean;
}

export interface NewConfigData {
  train: string;
  eval?: string;
  textField?: string;
  labelField?: string;
  /** For classification: the number of classes and, for string labels, their names. */
  labels?: { num_labels: number; labels?: string[] };
}

/** Forward slashes: configs are shared between Windows and POSIX machines. */
function portable(rel: string): string {
  return rel.split(path.sep).join('/');
}

/** Starting adapter shape: PEFT's r=32 (capped by the smallest dimension), stride_A 2 from 4 layers up, num_B about layers/stride_A. */
export function suggestedLilyShape(targets: TargetGroup[]): { r: number; stride_A: number; num_B: number } {
  const layers = Math.max(1, ...targets.map((t) => t.modules.length));
  const minDim = Math.min(...targets.map((t) => Math.min(t.d_in, t.d_out)));
  const stride_A = layers >= 4 ? 2 : 1;
  const num_B = Math.max(2, Math.min(8, Math.ceil(layers / stride_A)));
  const r = Math.max(1, Math.min(32, minDim));
  return { r, stride_A, num_B };
}

export function newConfig(input: NewConfigInput): LilyConfig {
  if (input.targets.length === 0) throw new Error('pick at least one target group for the adapter');
  const dir = path.dirname(input.configPath);
  const rel = (p: string) => {
    const r = portable(path.relative(dir, p));
    return r.startsWith('.') ? r : `./${r}`;
  };
  const name = path.basename(input.configPath).replace(/\.lily\.json$/i, '');
  const d = input.data;
  const config: LilyConfig = {
    name,
    model: {
      path: rel(input.modelPath),
      task: input.task,
      ...(input.tokenizer ? { tokenizer: rel(input.tokenizer) } : {}),
    },
    data: {
      train: rel(d.train),
      ...(d.eval ? { eval: rel(d.eval) } : {}),
      ...(d.textField ? { text_field: d.textField } : {}),
      ...(d.labelField && input.task !== 'causal-lm' ? { label_field: d.labelField } : {}),
      max_length: Math.min(128, input.maxPositions ?? 128),
      // Packed rows for training; padding then shapes only the eval batches (one record per row).
      ...(input.packing && (input.task === 'sequence-classification' || input.task === 'causal-lm') ? { packing: true, padding: 'longest' as const } : {}),
    },
    adapter: {
      method: 'lily',
      target_modules: input.targets.map((t) => t.suffix),
      ...suggestedLilyShape(input.targets),
      scaling: 1,
    },
    training: { epochs: 3, batch_size: 16, lr: 1e-3, schedule: 'linear', warmup_steps: 10 },
  };
  // A head left frozen keeps its random init on a model imported from a base checkpoint (PEFT adds it to modules_to_save too).
  if (input.task !== 'causal-lm' && input.headModules?.length) config.adapter.modules_to_save = input.headModules;
  if (input.task === 'sequence-classification' || input.task === 'token-classification') {
    config.model.num_labels = d.labels?.num_labels ?? 2;
    if (d.labels?.labels) config.model.labels = d.labels.labels;
  }
  return config;
}

export function newConfigText(input: NewConfigInput): string {
  return JSON.stringify(newConfig(input), null, 2) + '\n';
}

/** `<dir>/<base>.lily.json`, or `<base>-2.lily.json`, ... when taken. */
export function uniqueConfigPath(dir: string, base: string, exists: (p: string) => boolean): string {
  const clean = base.replace(/\.lily\.json$/i, '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'adapter';
  let candidate = path.join(dir, `${clean}.lily.json`);
  for (let n = 2; exists(candidate); n++) candidate = path.join(dir, `${clean}-${n}.lily.json`);
  return candidate;
}

/** QuickPick rows for target groups: suffix, shape, layer count; attention value/query pre-picked (the paper's default targets). */
export function targetPickItems(groups: TargetGroup[]): Array<{ label: string; description: string; detail: string; picked: boolean; group: TargetGroup }> {
  const preferred = /(^|\.)(value|query|v_proj|q_proj|c_attn)$/;
  const anyPreferred = groups.some((g) => preferred.test(g.suffix));
  return groups.map((g, i) => ({
    label: g.suffix,
    description: `${g.d_in}→${g.d_out} · ${g.modules.length} layer${g.modules.length === 1 ? '' : 's'}`,
    detail: g.modules.length <= 3 ? g.modules.join(', ') : `${g.modules[0]}, …, ${g.modules[g.modules.length - 1]}`,
    picked: anyPreferred ? preferred.test(g.suffix) : i === 0,
    group: g,
  }));
}

/** tokenizer.json beside the model, or in the folder above (an exported model often sits in onnx/). */
export function findTokenizerBeside(modelPath: string, exists: (p: string) => boolean): string | undefined {
  const dir = path.dirname(modelPath);
  return [path.join(dir, 'tokenizer.json'), path.join(path.dirname(dir), 'tokenizer.json')].find(exists);
}

/** An evaluation file beside the training file: eval/validation/dev/test with the same extension. */
export function findEvalBeside(trainPath: string, exists: (p: string) => boolean): string | undefined {
  const dir = path.dirname(trainPath);
  const ext = path.extname(trainPath);
  const base = path.basename(trainPath, ext);
  const names = ['eval', 'validation', 'valid', 'dev', 'test'];
  // train.jsonl -> eval.jsonl; sst2-train.jsonl -> sst2-eval.jsonl, ...
  const candidates = names.flatMap((n) => [n, base.replace(/train/i, n)]).filter((n) => n !== base);
  return [...new Set(candidates)].map((n) => path.join(dir, n + ext)).find(exists);
}
