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
  const config: LilyConfig = {
    name,
    model: { path: rel(input.modelPath), task: input.task },
    data: {
      train: './data/train.jsonl',
      eval: './data/eval.jsonl',
      text_field: 'text',
      label_field: 'label',
      max_length: 128,
    },
    adapter: {
      method: 'lily',
      target_modules: input.targets.map((t) => t.suffix),
      ...suggestedLilyShape(input.targets),
      scaling: 1,
    },
    training: { epochs: 3, batch_size: 16, lr: 1e-3, schedule: 'linear', warmup_steps: 10 },
  };
  if (input.task === 'sequence-classification' || input.task === 'token-classification') config.model.num_labels = 2;
  if (input.task === 'causal-lm' || input.task === 'regression') delete config.data.label_field;
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
