// Putting a PEFT adapter (adapter_config.json + adapter_model.safetensors, Lily or LoRA) onto the
// ONNX model it was trained for, so it can be inspected, evaluated, exported or trained further.
//
// PEFT keys name PyTorch module paths; this project names layers by the module path recovered from
// ONNX node names (findLinearLayers). They agree when the same class was exported, but often
// differ by a leading path: an adapter trained on `RobertaForSequenceClassification` names
// `roberta.encoder.layer.0...` while an export of the bare encoder names `encoder.layer.0...`
// (or the other way round). The file's modules are mapped onto the model's by the one prefix
// rewrite that maps all of them; anything else is an error naming the modules that do not map.
// Copies of shared tensors are checked by readPeftAdapter, which names the module whose copy
// differs.
import * as fs from 'fs';
import * as path from 'path';
import { resolveSavedTensors } from '../adapters/modulesToSave';
import { findLinearLayers, matchTargets, type LinearLayer } from '../adapters/targets';
import { layerTensorNames, type AdapterWeights, type NamedTensor, type SavedTensorSpec } from '../io/adapterWeights';
import { PEFT_FILES, PeftFormatError, readPeftAdapter } from '../io/peft';
import type { Model } from '../onnx/ir';
import type { TargetInfo } from '../runFiles';

const PREFIX = 'base_model.model.';
const ADAPTER_KEY = /^base_model\.model\.(.*)\.(lily_A|lily_B|lily_router|lora_A|lora_B)\.weight$/;

export interface PeftImportOptions {
  /** Largest tolerated difference between copies of a shared tensor (default 0). */
  tolerance?: number;
  /** Accept disagreeing copies as PEFT does (last copy wins), with warnings. */
  allowMismatch?: boolean;
  /**
   * The sharing structure to load into (model module names), e.g. a config's matched targets when
   * the adapter initialises training; default: the layers the file adapts, grouped as PEFT does.
   */
  targets?: TargetInfo[];
  /** modules_to_save tensors to load (model names); default: those adapter_config.json lists. */
  saved?: SavedTensorSpec[];
}

/** How the file's module paths map onto the model's: strip `file`, then prepend `model`. */
export interface ModulePrefixMap {
  file: string;
  model: string;
}

export interface PeftImport {
  /** In the model's module names, ready for injection (internal tensor names). */
  weights: AdapterWeights;
  warnings: string[];
  /** adapter_config.json as read. */
  config: Record<string, unknown>;
  prefix: ModulePrefixMap;
}

function weightsFileOf(location: string): { dir: string; weights: string } {
  const isFile = location.endsWith('.safetensors');
  const dir = isFile ? path.dirname(location) : location;
  return { dir, weights: isFile ? location : path.join(dir, PEFT_FILES.weights) };
}

/** The tensor names in a safetensors file, from its header alone (files can be GBs). */
export function safetensorsKeys(file: string): string[] {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new PeftFormatError(file, `cannot open (${(e as Error).message}); a PEFT adapter folder holds ${PEFT_FILES.weights}`);
  }
  try {
    const head = Buffer.alloc(8);
    if (fs.readSync(fd, head, 0, 8, 0) < 8) throw new PeftFormatError(file, 'shorter than the 8-byte safetensors header length');
    const n = Number(head.readBigUInt64LE(0));
    if (n > 100 * 1024 * 1024) throw new PeftFormatError(file, `header length ${n} is implausible; not a safetensors file`);
    const json = Buffer.alloc(n);
    if (fs.readSync(fd, json, 0, n, 8) < n) throw new PeftFormatError(file, 'truncated safetensors header');
    return Object.keys(JSON.parse(json.toString('utf8')) as object).filter((k) => k !== '__metadata__');
  } finally {
    fs.closeSync(fd);
  }
}

const dotJoin = (prefix: string, rest: string) => (prefix ? `${prefix}.${rest}` : rest);

/**
 * The prefix rewrite that maps every file module onto a model layer: identity when the names
 * agree, else (strip a leading path from the file's names) or (prepend one), whichever maps all.
 */
export function alignModulePaths(fileModules: string[], modelModules: string[], file = 'adapter'): ModulePrefixMap {
  const have = new Set(modelModules);
  const maps = (m: ModulePrefixMap) => fileModules.every((f) => {
    if (m.file && !f.startsWith(`${m.file}.`)) return false;
    return have.has(dotJoin(m.model, m.file ? f.slice(m.file.length + 1) : f));
  });
  const candidates: ModulePrefixMap[] = [{ file: '', model: '' }];
  const f0 = fileModules[0];
  if (f0 !== undefined) {
    for (const m of modelModules) {
      if (f0.endsWith(`.${m}`)) candidates.push({ file: f0.slice(0, -m.length - 1), model: '' });
      if (m.endsWith(`.${f0}`)) candidates.push({ file: '', model: m.slice(0, -f0.length - 1) });
    }
  }
  const found = candidates.find(maps);
  if (found) return found;
  const missing = fileModules.filter((f) => !have.has(f)).slice(0, 4);
  throw new PeftFormatError(file, `adapted modules ${missing.map((m) => `"${m}"`).join(', ')} match no linear layer of the ONNX model, even allowing a different leading module path ` +
    `(the model has e.g. ${modelModules.slice(0, 3).map((m) => `"${m}"`).join(', ')}). The adapter was trained on another model, or the ONNX export lost the module names (export with torch.onnx.export so node names carry module paths).`);
}

function toModelName(p: ModulePrefixMap, f: string): string {
  return dotJoin(p.model, p.file ? f.slice(p.file.length + 1) : f);
}

function toFileName(p: ModulePrefixMap, m: string): string {
  const rest = p.model ? (m.startsWith(`${p.model}.`) ? m.slice(p.model.length + 1) : m) : m;
  return dotJoin(p.file, rest);
}

function readConfig(dir: string): Record<string, unknown> {
  const file = path.join(dir, PEFT_FILES.config);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new PeftFormatError(file, `cannot read (${(e as Error).message}); a PEFT adapter folder holds adapter_config.json next to ${PEFT_FILES.weights}`);
  }
}

/** PEFT's grouping of the adapted layers (matched entry + weight shape, model order), in file names. */
function fileTargets(config: Record<string, unknown>, adapted: LinearLayer[], p: ModulePrefixMap, configFile: string): TargetInfo[] {
  const targetModules = config.target_modules as string[] | string;
  const renamed = adapted.map((l) => ({ ...l, module: toFileName(p, l.module) }));
  let matched;
  try {
    matched = matchTargets(renamed, { target_modules: targetModules });
  } catch (e) {
    throw new PeftFormatError(configFile, `target_modules does not describe the adapted layers: ${(e as Error).message}`);
  }
  const strideA = config.peft_type === 'LILY' ? Number(config.stride_A ?? 1) : 1;
  const grouped = new Set(matched.flatMap((t) => t.layers.map((l) => l.module)));
  const stray = renamed.filter((l) => !grouped.has(l.module)).map((l) => l.module);
  if (stray.length) throw new PeftFormatError(configFile, `the weights adapt ${stray.slice(0, 3).join(', ')}, which target_modules ${JSON.stringify(targetModules)} does not select`);
  return matched.map((t) => ({
    target: t.key,
    d_in: t.d_in,
    d_out: t.d_out,
    layers: t.layers.map((l, index) => ({ module: l.module, index, a_group: config.peft_type === 'LILY' ? Math.floor(index / strideA) : index })),
  }));
}

function renameTargets(targets: TargetInfo[], rename: (m: string) => string): TargetInfo[] {
  return targets.map((t) => ({ ...t, layers: t.layers.map((l) => ({ ...l, module: rename(l.module) })) }));
}

/** Reads a PEFT adapter folder (or its safetensors file) onto `model`; see the file comment. */
export function importPeftAdapter(location: string, model: Model, opts: PeftImportOptions = {}): PeftImport {
  const { dir, weights: weightsFile } = weightsFileOf(path.resolve(location));
  const config = readConfig(dir);
  const keys = new Set(safetensorsKeys(weightsFile));
  const fileModules = [...new Set([...keys].map((k) => ADAPTER_KEY.exec(k)?.[1]).filter((m): m is string => !!m))];
  if (fileModules.length === 0) throw new PeftFormatError(weightsFile, `no adapter tensors (keys like "${PREFIX}<module>.lily_A.weight" or ".lora_A.weight"); not a PEFT Lily/LoRA adapter`);
  const linear = findLinearLayers(model);
  const prefix = alignModulePaths(fileModules, linear.map((l) => l.module), weightsFile);
  const toModel = (f: string) => toModelName(prefix, f);
  const toFile = (m: string) => toFileName(prefix, m);

  let targets: TargetInfo[];
  if (opts.targets) {
    targets = renameTargets(opts.targets, toFile);
  } else {
    const adapted = new Set(fileModules.map(toModel));
    targets = fileTargets(config, linear.filter((l) => adapted.has(l.module)), prefix, path.join(dir, PEFT_FILES.config));
  }
  let saved = opts.saved;
  if (!saved) {
    // Listed module names are file names; a head outside the mapped prefix keeps its own name.
    const known = (m: string) => linear.some((l) => l.module === m) || [...model.graph.initializers.keys()].some((k) => k === m || k.startsWith(`${m}.`));
    const modules = ((config.modules_to_save as string[] | null | undefined) ?? []).map((f) => (known(toModel(f)) ? toModel(f) : f));
    try {
      saved = resolveSavedTensors(model, linear, modules);
    } catch (e) {
      throw new PeftFormatError(path.join(dir, PEFT_FILES.config), `modules_to_save: ${(e as Error).message}`);
    }
  }
  // Saved tensors are looked up by their key in the file: the mapped name, else the name as is.
  const fileSaved = saved.map((s) => {
    const mapped = toFile(s.peftName);
    return { ...s, peftName: !keys.has(`${PREFIX}${mapped}`) && keys.has(`${PREFIX}${s.peftName}`) ? s.peftName : mapped };
  });

  const read = readPeftAdapter(weightsFile, { targets, saved: fileSaved, tolerance: opts.tolerance, allowMismatch: opts.allowMismatch });
  const w = read.weights;
  const modelTargets = renameTargets(w.targets, toModel);
  // Internal tensor names start with a module path: rename file-named adapter tensors.
  const tensors = new Map<string, NamedTensor>();
  const renames = new Map<string, string>();
  w.targets.forEach((t, k) => {
    const from = layerTensorNames(w.settings.method, t);
    const to = layerTensorNames(w.settings.method, modelTargets[k]);
    from.forEach((n, i) => {
      renames.set(n.A, to[i].A);
      renames.set(n.B, to[i].B);
      if (n.router) renames.set(n.router, to[i].router!);
    });
  });
  for (const [name, t] of w.tensors) tensors.set(renames.get(name) ?? name, t);
  const weights: AdapterWeights = { settings: w.settings, targets: modelTargets, tensors, saved: w.saved };
  const warnings = [...read.warnings];
  if (prefix.file || prefix.model) {
    warnings.push(`${weightsFile}: module paths mapped onto the ONNX model by ${prefix.file ? `dropping the leading "${prefix.file}."` : ''}${prefix.file && prefix.model ? ' and ' : ''}${prefix.model ? `adding the leading "${prefix.model}."` : ''}`);
  }
  return { weights, warnings, config, prefix };
}

/**
 * Initial adapter values for training (`adapter.init`): the file read into the run's own sharing
 * structure (`targets`, `saved`, model names), keyed by internal tensor name.
 */
export function peftInitialValues(location: string, model: Model, targets: TargetInfo[], saved: SavedTensorSpec[]): Map<string, Float32Array> {
  const { weights } = importPeftAdapter(location, model, { targets, saved });
  return new Map([...weights.tensors].map(([k, t]) => [k, t.data]));
}
