// A Hugging Face model folder as `lily import` sees it, read without Python: where it is (a
// folder, or a model id in the local hub cache), what config.json says (architecture, labels),
// which Lily task its head implies, and how much memory exporting it will take.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ImportTask } from '../config/packedExports';
import type { TaskType } from '../config/types';
import { InputError } from '../errors';

/** The hub cache folder, as huggingface_hub finds it: HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME or ~/.cache. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return path.join(env.HF_HOME, 'hub');
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'huggingface', 'hub');
}

export interface CachedModel {
  /** `ORG/NAME` (or `NAME`). */
  id: string;
  /** The snapshot folder `refs/main` points at (else the newest one). */
  snapshot: string;
}

/** The snapshot of one `models--ORG--NAME` cache folder, or undefined when it has none with a config.json. */
function snapshotOf(repoDir: string): string | undefined {
  const snapshots = path.join(repoDir, 'snapshots');
  if (!fs.existsSync(snapshots)) return undefined;
  const main = path.join(repoDir, 'refs', 'main');
  if (fs.existsSync(main)) {
    const s = path.join(snapshots, fs.readFileSync(main, 'utf8').trim());
    if (fs.existsSync(path.join(s, 'config.json'))) return s;
  }
  const candidates = fs.readdirSync(snapshots).map((d) => path.join(snapshots, d)).filter((d) => fs.existsSync(path.join(d, 'config.json')));
  candidates.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  return candidates[0];
}

/** Models in the hub cache that have a snapshot with a config.json, sorted by id. */
export function listCachedModels(env: NodeJS.ProcessEnv = process.env): CachedModel[] {
  const dir = hubCacheDir(env);
  if (!fs.existsSync(dir)) return [];
  const out: CachedModel[] = [];
  for (const d of fs.readdirSync(dir)) {
    if (!d.startsWith('models--')) continue;
    const snapshot = snapshotOf(path.join(dir, d));
    if (snapshot) out.push({ id: d.slice('models--'.length).split('--').join('/'), snapshot });
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

export interface ModelSource {
  /** The folder holding config.json and the weights. */
  folder: string;
  /** The hub id when the argument named a cached model. */
  id?: string;
}

/** A folder path, a `models--ORG--NAME` cache folder, or a model id found in the hub cache. */
export function resolveModelSource(arg: string, cwd: string, env: NodeJS.ProcessEnv = process.env): ModelSource {
  const asPath = path.resolve(cwd, arg);
  if (fs.existsSync(asPath) && fs.statSync(asPath).isDirectory()) {
    if (path.basename(asPath).startsWith('models--') && !fs.existsSync(path.join(asPath, 'config.json'))) {
      const snapshot = snapshotOf(asPath);
      if (snapshot) return { folder: snapshot, id: path.basename(asPath).slice('models--'.length).split('--').join('/') };
    }
    if (!fs.existsSync(path.join(asPath, 'config.json'))) {
      throw new InputError(`${asPath}: no config.json; expected a Hugging Face model folder (written by save_pretrained, or a snapshot in the hub cache)`);
    }
    return { folder: asPath };
  }
  const cache = hubCacheDir(env);
  const cached = listCachedModels(env);
  const hit = cached.find((m) => m.id === arg) ?? cached.find((m) => m.id.split('/').pop() === arg);
  if (hit) return { folder: hit.snapshot, id: hit.id };
  const known = cached.length ? `cached models: ${cached.slice(0, 12).map((m) => m.id).join(', ')}${cached.length > 12 ? ', ...' : ''}` : 'the cache holds no models';
  throw new InputError(`${arg}: not a folder, and not a model in the Hugging Face hub cache ${cache} (${known}). ` +
    'Give a folder written by save_pretrained, or download the model first (huggingface-cli download ORG/NAME); set HF_HOME or HF_HUB_CACHE if your cache lives elsewhere');
}

export interface HfConfig {
  architectures?: string[];
  model_type?: string;
  id2label?: Record<string, string>;
  num_labels?: number;
  problem_type?: string;
  torch_dtype?: string;
  dtype?: string;
}

export function readHfConfig(folder: string): HfConfig {
  const file = path.join(folder, 'config.json');
  let cfg: unknown;
  try {
    cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new InputError(`${file}: cannot read it as JSON (${(e as Error).message})`);
  }
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new InputError(`${file}: expected a JSON object`);
  const c = cfg as HfConfig;
  if (typeof c.model_type !== 'string') throw new InputError(`${file}: field "model_type": missing; expected the transformers model type (e.g. "bert"), as save_pretrained writes it`);
  return c;
}

/** Heads Lily can train, by the suffix of the architecture's class name. */
const HEADS: Array<{ suffix: RegExp; task: TaskType; optimum: string }> = [
  { suffix: /ForSequenceClassification$/, task: 'sequence-classification', optimum: 'text-classification' },
  { suffix: /ForTokenClassification$/, task: 'token-classification', optimum: 'token-classification' },
  { suffix: /(ForCausalLM|LMHeadModel)$/, task: 'causal-lm', optimum: 'text-generation' },
  // Images are classified like texts (one label per example); records carry pixel_values.
  { suffix: /ForImageClassification$/, task: 'sequence-classification', optimum: 'image-classification' },
];

export const SUPPORTED_HEADS = ['*ForSequenceClassification', '*ForTokenClassification', '*ForCausalLM', '*LMHeadModel', '*ForImageClassification'];

/** The task chosen for an import; `optimumTask` `text-generation` is the decoder graph without a
 * KV cache. The shape is config/packedExports.ts's, which checks it for --packing. */
export type TaskChoice = ImportTask;

const OPTIMUM_TASK: Record<TaskType, string> = {
  'sequence-classification': 'text-classification',
  regression: 'text-classification',
  'token-classification': 'token-classification',
  'causal-lm': 'text-generation',
};

/** The task from config.json's `architectures` (a `--task` given by the user wins). */
export function chooseTask(cfg: HfConfig, file: string, override?: TaskType): TaskChoice {
  const archs = cfg.architectures ?? [];
  const architecture = archs[0] ?? cfg.model_type ?? 'unknown';
  if (override) {
    const image = archs.some((a) => /ForImageClassification$/.test(a)) && override === 'sequence-classification';
    return { architecture, task: override, optimumTask: image ? 'image-classification' : OPTIMUM_TASK[override] };
  }
  if (archs.length === 0) {
    throw new InputError(`${file}: field "architectures": missing, so the task cannot be told; pass --task (sequence-classification, regression, token-classification, causal-lm)`);
  }
  for (const a of archs) {
    const head = HEADS.find((h) => h.suffix.test(a));
    if (!head) continue;
    const regression = head.task === 'sequence-classification' && (cfg.problem_type === 'regression' || (cfg.problem_type === undefined && labelCount(cfg) === 1));
    return { architecture: a, task: regression ? 'regression' : head.task, optimumTask: head.optimum };
  }
  throw new InputError(`${file}: architecture ${archs.join(', ')} has no head Lily can train; supported heads: ${SUPPORTED_HEADS.join(', ')}. ` +
    'Save the model with such a head (e.g. AutoModelForSequenceClassification.from_pretrained(...).save_pretrained(...)) or pass --task');
}

function labelCount(cfg: HfConfig): number | undefined {
  if (cfg.id2label) return Object.keys(cfg.id2label).length;
  return cfg.num_labels;
}

/** Class names in id order from `id2label`, unless they are transformers' placeholders (LABEL_0, ...). */
export function labelsOf(cfg: HfConfig): { numLabels?: number; labels?: string[] } {
  if (!cfg.id2label) return cfg.num_labels !== undefined ? { numLabels: cfg.num_labels } : {};
  const ids = Object.keys(cfg.id2label).map(Number).sort((a, b) => a - b);
  const names = ids.map((i) => cfg.id2label![String(i)]);
  const placeholder = names.every((n, i) => n === `LABEL_${i}`);
  return { numLabels: names.length, ...(placeholder ? {} : { labels: names }) };
}

/** Parameter count of the weights in a folder: exact from safetensors headers, else from .bin sizes (fp32 assumed). */
export function parameterCount(folder: string): number {
  let params = 0;
  const files = fs.readdirSync(folder);
  const safetensors = files.filter((f) => f.endsWith('.safetensors'));
  if (safetensors.length) {
    for (const f of safetensors) {
      const fd = fs.openSync(path.join(folder, f), 'r');
      try {
        const len = Buffer.alloc(8);
        fs.readSync(fd, len, 0, 8, 0);
        const n = Number(len.readBigUInt64LE(0));
        const header = Buffer.alloc(n);
        fs.readSync(fd, header, 0, n, 8);
        const tensors = JSON.parse(header.toString('utf8')) as Record<string, { dtype: string; shape: number[] }>;
        for (const [k, t] of Object.entries(tensors)) if (k !== '__metadata__') params += t.shape.reduce((a, b) => a * b, 1);
      } finally {
        fs.closeSync(fd);
      }
    }
    return params;
  }
  for (const f of files.filter((x) => x.endsWith('.bin') || x.endsWith('.pt'))) params += fs.statSync(path.join(folder, f)).size / 4;
  return params;
}

export interface MemoryEstimate {
  params: number;
  /** Bytes the export needs at its peak. */
  needed: number;
}

/**
 * Exporting loads the model in float32 and the ONNX exporter holds a second float32 copy of the
 * weights while it serialises them, plus the Python/torch runtime (~1 GiB).
 */
export function exportMemory(folder: string): MemoryEstimate {
  const params = parameterCount(folder);
  return { params, needed: params * 4 * 2 + 1024 ** 3 };
}

export const gib = (bytes: number): string => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
