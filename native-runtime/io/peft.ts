// The PEFT on-disk adapter format (a folder with adapter_config.json + adapter_model.safetensors),
// for Lily (PEFT >= 0.19) and LoRA, so adapters trained here load with `PeftModel.from_pretrained`
// and PEFT adapters can start a run here.
//
// State-dict keys (PEFT drops the adapter name "default" when saving):
//   base_model.model.<module>.lily_A.weight       [r, d_in]        = internal A transposed
//   base_model.model.<module>.lily_B.weight       [num_B*r, d_out] = internal B pool, same memory
//   base_model.model.<module>.lily_router.weight  [num_B, r]       = internal router transposed
//   base_model.model.<module>.lora_A.weight       [r, d_in]        = internal A transposed
//   base_model.model.<module>.lora_B.weight       [d_out, r]       = internal B transposed
//   base_model.model.<peftName>                   modules_to_save tensors in torch layout. PEFT keeps
//     them in the model as `<module>.modules_to_save.default.<param>`, but get_peft_model_state_dict
//     strips `modules_to_save.` and `.default` when saving, and set_peft_model_state_dict puts them
//     back when loading; so the file holds the plain `<module>.<param>` name (e.g. classifier.weight).
// Safetensors cannot alias, so every Lily layer stores its own copy of its shared A and of its
// target's B pool; the reader rebuilds the sharing and checks that copies in a group agree.
// The safetensors metadata carries {"format": "pt"} (as PEFT writes) and, under "lily_vscode", the
// exact sharing structure and routing mode; PEFT ignores it, and our reader prefers it to guessing.
import * as fs from 'fs';
import * as path from 'path';
import type { TaskType } from '../config/types';
import type { TargetInfo } from '../runFiles';
import {
  type AdapterSettings, type AdapterWeights, type NamedTensor, type SavedTensorSpec,
  checkAdapterWeights, compareModuleNames, layerTensorNames, maxAbsDiff, transpose2d,
} from './adapterWeights';
import { writeJsonAtomic } from './atomic';
import { type TensorInput, readSafetensors, toFloat32, writeSafetensors } from './safetensors';

export const PEFT_FILES = { config: 'adapter_config.json', weights: 'adapter_model.safetensors' } as const;
const PREFIX = 'base_model.model.';
/** The PEFT release whose format this follows (the first that loads Lily). */
export const PEFT_FORMAT_VERSION = '0.19.0';

const TASK_TYPES: Record<TaskType, string> = {
  'sequence-classification': 'SEQ_CLS',
  regression: 'SEQ_CLS',
  'causal-lm': 'CAUSAL_LM',
  'token-classification': 'TOKEN_CLS',
};

export class PeftFormatError extends Error {
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
    this.name = 'PeftFormatError';
  }
}

export interface PeftWriteInfo {
  /** Selects PEFT's task_type. */
  task?: TaskType;
  base_model_name_or_path?: string | null;
  revision?: string | null;
}

/** The head modules PEFT's SEQ_CLS / TOKEN_CLS models add to modules_to_save by themselves. */
const PEFT_HEAD_MODULES = ['classifier', 'score'];

/**
 * PEFT's task_type for the file. PeftModelForSequenceClassification (and TokenClassification)
 * wraps the `classifier`/`score` head as a module to save and then requires its weights in the
 * file: PeftModel.from_pretrained raised KeyError 'base_model.model.classifier.weight' on an
 * adapter trained with a frozen head. Such an adapter is written without a task_type, which
 * PEFT loads as a plain PeftModel computing the same logits.
 */
function peftTaskType(w: AdapterWeights, task: TaskType | undefined): string | null {
  if (!task) return null;
  const type = TASK_TYPES[task];
  if (type !== 'SEQ_CLS' && type !== 'TOKEN_CLS') return type;
  const savesHead = w.saved.some((t) => PEFT_HEAD_MODULES.some((m) => t.peftName === `${m}.weight` || t.peftName.endsWith(`.${m}.weight`)));
  return savesHead ? type : null;
}

/** adapter_config.json for the adapter. */
export function peftAdapterConfig(w: AdapterWeights, info: PeftWriteInfo = {}): Record<string, unknown> {
  const s = w.settings;
  const common = {
    task_type: peftTaskType(w, info.task),
    base_model_name_or_path: info.base_model_name_or_path ?? null,
    revision: info.revision ?? null,
    inference_mode: true,
    target_modules: s.target_modules,
    exclude_modules: s.exclude_modules ?? null,
    modules_to_save: s.modules_to_save.length ? s.modules_to_save : null,
    layers_to_transform: s.layers_to_transform ?? null,
    layers_pattern: null,
    peft_version: PEFT_FORMAT_VERSION,
  };
  if (s.method === 'lily') {
    return { peft_type: 'LILY', ...common, r: s.r, stride_A: s.stride_A, num_B: s.num_B, scaling: s.scaling, init_weights: true };
  }
  return {
    peft_type: 'LORA', ...common, r: s.r, lora_alpha: s.lora_alpha, lora_dropout: 0, bias: 'none',
    fan_in_fan_out: false, use_rslora: false, use_dora: false, init_lora_weights: true, rank_pattern: {}, alpha_pattern: {},
  };
}

/** The PEFT state dict: per-layer tensors in torch layout, shared tensors copied to every user. */
export function peftStateDict(w: AdapterWeights): Map<string, TensorInput> {
  checkAdapterWeights(w, 'adapter weights');
  const out = new Map<string, TensorInput>();
  const get = (name: string): NamedTensor => w.tensors.get(name)!;
  // Transposes are computed once per unique tensor; the copies share them.
  const cache = new Map<string, Float32Array>();
  const transposed = (name: string): Float32Array => {
    let v = cache.get(name);
    if (!v) {
      const t = get(name);
      cache.set(name, (v = transpose2d(t.data, t.dims[0], t.dims[1])));
    }
    return v;
  };
  const s = w.settings;
  for (const t of w.targets) {
    for (const n of layerTensorNames(s.method, t)) {
      const key = `${PREFIX}${n.module}`;
      if (s.method === 'lily') {
        out.set(`${key}.lily_A.weight`, { shape: [s.r, t.d_in], data: transposed(n.A) });
        out.set(`${key}.lily_B.weight`, { shape: [s.num_B * s.r, t.d_out], data: get(n.B).data });
        out.set(`${key}.lily_router.weight`, { shape: [s.num_B, s.r], data: transposed(n.router!) });
      } else {
        out.set(`${key}.lora_A.weight`, { shape: [s.r, t.d_in], data: transposed(n.A) });
        out.set(`${key}.lora_B.weight`, { shape: [t.d_out, s.r], data: transposed(n.B) });
      }
    }
  }
  for (const spec of w.saved) {
    const t = get(spec.name);
    const torch = spec.transposed && t.dims.length === 2
      ? { shape: [t.dims[1], t.dims[0]], data: transpose2d(t.data, t.dims[0], t.dims[1]) }
      : { shape: t.dims, data: t.data };
    out.set(`${PREFIX}${spec.peftName}`, torch);
  }
  return out;
}

interface OwnMetadata {
  version: 1;
  routing?: string;
  targets: TargetInfo[];
}

/** Writes `dir/adapter_config.json` and `dir/adapter_model.safetensors` (each atomically). */
export function writePeftAdapter(dir: string, w: AdapterWeights, info: PeftWriteInfo = {}): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const own: OwnMetadata = { version: 1, targets: w.targets, ...(w.settings.method === 'lily' ? { routing: w.settings.routing } : {}) };
  const weightsFile = path.join(dir, PEFT_FILES.weights);
  const configFile = path.join(dir, PEFT_FILES.config);
  writeSafetensors(weightsFile, peftStateDict(w), { format: 'pt', lily_vscode: JSON.stringify(own) });
  writeJsonAtomic(configFile, peftAdapterConfig(w, info));
  return [configFile, weightsFile];
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface ReadPeftOptions {
  /**
   * The sharing structure from the model (e.g. the injection's targets). Without it, the structure
   * stored by this project's writer is used, else it is derived from the file: modules grouped by
   * the first matching target_modules entry and weight shape, in numeric-aware name order.
   */
  targets?: TargetInfo[];
  /** Map modules_to_save tensors to internal names/layouts; without it they keep their PEFT names, torch layout. */
  saved?: SavedTensorSpec[];
  /** Largest tolerated difference between copies of a shared tensor (default 0: identical). */
  tolerance?: number;
  /** Load files whose copies disagree as PEFT does (the last copy in module order wins), with warnings. */
  allowMismatch?: boolean;
}

export interface PeftAdapter {
  weights: AdapterWeights;
  /** adapter_config.json as read. */
  config: Record<string, unknown>;
  /** Things the caller should show (ignored tensors, accepted mismatches, conversions). */
  warnings: string[];
}

const ADAPTER_KEY = /^(.*)\.(lily_A|lily_B|lily_router|lora_A|lora_B)\.weight$/;

/** Reads a PEFT adapter folder (or its adapter_model.safetensors) into AdapterWeights. */
export function readPeftAdapter(location: string, options: ReadPeftOptions = {}): PeftAdapter {
  const isFile = location.endsWith('.safetensors');
  const dir = isFile ? path.dirname(location) : location;
  const weightsFile = isFile ? location : path.join(dir, PEFT_FILES.weights);
  const configFile = path.join(dir, PEFT_FILES.config);
  if (!fs.existsSync(configFile)) throw new PeftFormatError(configFile, 'not found; a PEFT adapter folder holds adapter_config.json next to adapter_model.safetensors');
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new PeftFormatError(configFile, `is not valid JSON (${(e as Error).message})`);
  }
  const warnings: string[] = [];
  const settings = settingsFromPeftConfig(config, configFile, warnings);
  const file = readSafetensors(weightsFile);

  // Split keys into per-layer adapter tensors and modules_to_save tensors.
  const perModule = new Map<string, Map<string, NamedTensor>>();
  const savedByPeftName = new Map<string, NamedTensor>();
  for (const [key, t] of file.tensors) {
    if (!key.startsWith(PREFIX)) throw new PeftFormatError(weightsFile, `key "${key}" does not start with "${PREFIX}"; not a PEFT adapter state dict`);
    const rest = key.slice(PREFIX.length);
    const data = toFloat32(t, `${weightsFile}: tensor "${key}"`);
    const m = ADAPTER_KEY.exec(rest);
    if (m) {
      const kind = m[2];
      if (!kind.startsWith(settings.method)) throw new PeftFormatError(weightsFile, `key "${key}" is a ${kind} tensor but adapter_config.json says peft_type ${String(config.peft_type)}`);
      if (!perModule.has(m[1])) perModule.set(m[1], new Map());
      perModule.get(m[1])!.set(kind, { dims: t.shape, data });
    } else if (/\.(lora|lily)_\w+/.test(rest)) {
      throw new PeftFormatError(weightsFile, `key "${key}" is an adapter tensor this reader does not support (LoRA bias, DoRA magnitude, ...); only lily_A/lily_B/lily_router and lora_A/lora_B are supported`);
    } else {
      savedByPeftName.set(rest, { dims: t.shape, data });
    }
  }

  const own = parseOwnMetadata(file.metadata.lily_vscode);
  if (settings.method === 'lily' && own?.routing && ['batch', 'masked', 'token'].includes(own.routing)) settings.routing = own.routing as 'batch';
  const targets = options.targets ?? own?.targets ?? deriveTargets(settings, perModule, weightsFile);

  // Every module the structure names must be in the file, and no adapter layer may be left over.
  const listed = new Set(targets.flatMap((t) => t.layers.map((l) => l.module)));
  const extra = [...perModule.keys()].filter((m) => !listed.has(m));
  if (extra.length) throw new PeftFormatError(weightsFile, `adapter layers not in the model's targets: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}; the adapter was trained for other target_modules or another model`);

  const tensors = new Map<string, NamedTensor>();
  const mismatches: string[] = [];
  const tol = options.tolerance ?? 0;
  for (const t of targets) {
    const names = layerTensorNames(settings.method, t);
    // First copy seen per internal name, to compare later copies against.
    const firstCopy = new Map<string, { module: string; data: Float32Array }>();
    for (const n of names) {
      const parts = perModule.get(n.module);
      const need = (kind: string, shape: number[]): Float32Array => {
        const got = parts?.get(kind);
        if (!got) throw new PeftFormatError(weightsFile, `missing tensor "${PREFIX}${n.module}.${kind}.weight" (layer ${n.module} of target "${t.target}")`);
        if (got.dims.join(',') !== shape.join(',')) throw new PeftFormatError(weightsFile, `tensor "${PREFIX}${n.module}.${kind}.weight" has shape [${got.dims}], expected [${shape}] (r=${settings.r}${settings.method === 'lily' ? `, num_B=${settings.num_B}` : ''}, d_in=${t.d_in}, d_out=${t.d_out})`);
        return got.data;
      };
      const put = (name: string, dims: number[], data: Float32Array, kind: string, shared: boolean) => {
        const first = firstCopy.get(name);
        if (shared && first) {
          const diff = maxAbsDiff(first.data, data);
          if (diff > tol) mismatches.push(`module "${n.module}": its ${kind} copy differs from that of "${first.module}" (shared tensor "${name}" of target "${t.target}") by max abs diff ${diff}`);
        } else {
          firstCopy.set(name, { module: n.module, data });
        }
        // PEFT semantics: the last copy loaded wins.
        tensors.set(name, { dims, data });
      };
      const s = settings;
      if (s.method === 'lily') {
        put(n.A, [t.d_in, s.r], transpose2d(need('lily_A', [s.r, t.d_in]), s.r, t.d_in), 'lily_A', true);
        put(n.B, [s.num_B, s.r, t.d_out], need('lily_B', [s.num_B * s.r, t.d_out]), 'lily_B', true);
        put(n.router!, [s.r, s.num_B], transpose2d(need('lily_router', [s.num_B, s.r]), s.num_B, s.r), 'lily_router', false);
      } else {
        put(n.A, [t.d_in, s.r], transpose2d(need('lora_A', [s.r, t.d_in]), s.r, t.d_in), 'lora_A', false);
        put(n.B, [s.r, t.d_out], transpose2d(need('lora_B', [t.d_out, s.r]), t.d_out, s.r), 'lora_B', false);
      }
    }
  }
  if (mismatches.length && !options.allowMismatch) {
    throw new PeftFormatError(weightsFile, `copies of shared tensors disagree (tolerance ${tol}):\n  ${mismatches.join('\n  ')}\nThe file was not written with identical copies (edited, or trained without sharing). Load it with allowMismatch to take the last copy, as PEFT does.`);
  }
  warnings.push(...mismatches.map((m) => `${weightsFile}: ${m}; using the last copy, as PEFT does`));

  const saved = mapSavedTensors(savedByPeftName, options.saved, tensors, weightsFile, warnings);
  const weights: AdapterWeights = { settings, targets, tensors, saved };
  checkAdapterWeights(weights, weightsFile);
  return { weights, config, warnings };
}

function settingsFromPeftConfig(c: Record<string, unknown>, file: string, warnings: string[]): AdapterSettings {
  const num = (key: string, dflt: number): number => {
    const v = c[key] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new PeftFormatError(file, `${key}: expected a number, found ${JSON.stringify(v)}`);
    return v;
  };
  const targetModules = c.target_modules;
  if (!(typeof targetModules === 'string' || (Array.isArray(targetModules) && targetModules.every((x) => typeof x === 'string')))) {
    throw new PeftFormatError(file, `target_modules: expected a list of module names or a regex string, found ${JSON.stringify(targetModules)}`);
  }
  const common = {
    target_modules: targetModules as string[] | string,
    ...(c.exclude_modules != null ? { exclude_modules: c.exclude_modules as string[] | string } : {}),
    ...(c.layers_to_transform != null ? { layers_to_transform: ([] as number[]).concat(c.layers_to_transform as number | number[]) } : {}),
    modules_to_save: (c.modules_to_save as string[] | null) ?? [],
  };
  if (c.peft_type === 'LILY') {
    return { method: 'lily', ...common, r: num('r', 32), stride_A: num('stride_A', 1), num_B: num('num_B', 2), scaling: num('scaling', 1), routing: 'batch' };
  }
  if (c.peft_type === 'LORA') {
    if (c.use_dora) throw new PeftFormatError(file, 'use_dora: DoRA adapters are not supported; use a plain LoRA adapter');
    for (const key of ['rank_pattern', 'alpha_pattern']) {
      const v = c[key];
      if (v && typeof v === 'object' && Object.keys(v).length) throw new PeftFormatError(file, `${key}: per-layer ranks/alphas are not supported; expected {}`);
    }
    if (c.bias && c.bias !== 'none') throw new PeftFormatError(file, `bias: "${String(c.bias)}" is not supported; expected "none"`);
    const r = num('r', 8);
    let alpha = num('lora_alpha', 8);
    if (c.use_rslora) {
      // rsLoRA scales by alpha/sqrt(r); the same update with plain scaling alpha'/r needs alpha' = alpha*sqrt(r).
      alpha = alpha * Math.sqrt(r);
      warnings.push(`${file}: use_rslora: converted to lora_alpha ${alpha} with plain alpha/r scaling (the same update)`);
    }
    return { method: 'lora', ...common, r, lora_alpha: alpha };
  }
  throw new PeftFormatError(file, `peft_type ${JSON.stringify(c.peft_type)} is not supported; expected "LILY" or "LORA"`);
}

function parseOwnMetadata(text: string | undefined): OwnMetadata | undefined {
  if (!text) return undefined;
  try {
    const v = JSON.parse(text) as OwnMetadata;
    return v && v.version === 1 && Array.isArray(v.targets) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Sharing structure from the file alone: group by the matched target entry and shape. */
function deriveTargets(s: AdapterSettings, perModule: Map<string, Map<string, NamedTensor>>, file: string): TargetInfo[] {
  const suffixOk = (m: string, e: string) => m === e || m.endsWith(`.${e}`);
  const entryOf = (m: string): string | undefined =>
    typeof s.target_modules === 'string' ? s.target_modules : s.target_modules.find((e) => suffixOk(m, e));
  const groups = new Map<string, TargetInfo>();
  for (const module of [...perModule.keys()].sort(compareModuleNames)) {
    const parts = perModule.get(module)!;
    const A = parts.get(s.method === 'lily' ? 'lily_A' : 'lora_A');
    const B = parts.get(s.method === 'lily' ? 'lily_B' : 'lora_B');
    if (!A || !B || A.dims.length !== 2 || B.dims.length !== 2) throw new PeftFormatError(file, `layer "${module}" lacks a 2-D ${s.method}_A or ${s.method}_B weight`);
    const d_in = A.dims[1];
    const d_out = s.method === 'lily' ? B.dims[1] : B.dims[0];
    const entry = entryOf(module) ?? module;
    const key = `${entry}\u0000${d_in}x${d_out}`;
    if (!groups.has(key)) groups.set(key, { target: entry, d_in, d_out, layers: [] });
    const g = groups.get(key)!;
    const index = g.layers.length;
    g.layers.push({ module, index, a_group: s.method === 'lily' ? Math.floor(index / s.stride_A) : index });
  }
  const out = [...groups.values()];
  // Same naming as the adapter injection: `entry@d_inxd_out` when one entry spans several shapes.
  const count = new Map<string, number>();
  for (const t of out) count.set(t.target, (count.get(t.target) ?? 0) + 1);
  for (const t of out) if (count.get(t.target)! > 1) t.target = `${t.target}@${t.d_in}x${t.d_out}`;
  return out;
}

function mapSavedTensors(found: Map<string, NamedTensor>, specs: SavedTensorSpec[] | undefined, tensors: Map<string, NamedTensor>, file: string, warnings: string[]): SavedTensorSpec[] {
  if (!specs) {
    for (const [peftName, t] of found) tensors.set(peftName, t);
    return [...found.keys()].map((peftName) => ({ name: peftName, peftName, transposed: false }));
  }
  const out: SavedTensorSpec[] = [];
  for (const spec of specs) {
    const t = found.get(spec.peftName);
    if (!t) { warnings.push(`${file}: no "${PREFIX}${spec.peftName}" for modules_to_save tensor "${spec.name}"; it keeps the model's value`); continue; }
    const internal = spec.transposed && t.dims.length === 2
      ? { dims: [t.dims[1], t.dims[0]], data: transpose2d(t.data, t.dims[0], t.dims[1]) }
      : t;
    tensors.set(spec.name, internal);
    out.push(spec);
  }
  const wanted = new Set(specs.map((s) => s.peftName));
  for (const name of found.keys()) if (!wanted.has(name)) warnings.push(`${file}: tensor "${PREFIX}${name}" is not among this run's modules_to_save; ignored`);
  return out;
}
