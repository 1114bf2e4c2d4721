// Checks a JSON Schema cannot express and that need no model: referenced files exist (relative to
// the config's folder), label lists agree with num_labels, regular expressions compile, settings
// that contradict or silently neutralise each other. Each check reads only fields whose type is
// right, so it can run next to schema errors without piling up follow-on noise.
import * as fs from 'fs';
import * as path from 'path';
import { fileURLToPath } from 'url';
import type { ConfigDiagnostic } from '../protocol';
import { formatFromExtension } from './resolved';
import { diagnostic, show } from './schemaErrors';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const warning = (p: Array<string | number>, text: string): ConfigDiagnostic => ({ ...diagnostic(p, text), severity: 'warning' });

/** File-existence checks: model, tokenizer, data files and an adapter to start from. */
export function fileDiagnostics(config: unknown, configDir: string): ConfigDiagnostic[] {
  if (!isObj(config)) return [];
  const out: ConfigDiagnostic[] = [];
  const model = isObj(config.model) ? config.model : {};
  const data = isObj(config.data) ? config.data : {};
  const adapter = isObj(config.adapter) ? config.adapter : {};

  const mustExist = (field: Array<string | number>, rel: unknown, what: 'file' | 'file or folder'): string | undefined => {
    if (!isStr(rel) || rel === '') return undefined;
    const abs = path.resolve(configDir, rel);
    if (!fs.existsSync(abs)) {
      out.push(diagnostic(field, `${what} not found: ${abs} (relative paths start at the config's folder ${configDir}); fix the path or create the file`));
      return undefined;
    }
    if (what === 'file' && fs.statSync(abs).isDirectory()) {
      out.push(diagnostic(field, `expected a file, found a folder: ${abs}`));
      return undefined;
    }
    return abs;
  };

  // A `$schema` path that does not resolve (a copied example, a moved extension) makes VS Code
  // report "Unable to load schema" and drop completion and checks: say why and what to do.
  const schemaRef = (config as Record<string, unknown>).$schema;
  if (isStr(schemaRef) && !/^https?:/i.test(schemaRef)) {
    let abs: string | undefined;
    try {
      abs = /^file:/i.test(schemaRef) ? fileURLToPath(schemaRef) : path.resolve(configDir, schemaRef);
    } catch {
      abs = undefined;
    }
    if (!abs || !fs.existsSync(abs)) {
      out.push(warning(['$schema'], `${show(schemaRef)} cannot be loaded (${abs ? `no file at ${abs}` : 'not a file URL'}), so the editor loses completion and checks; remove "$schema": VS Code with the Lily extension validates every *.lily.json wherever it is`));
    }
  }

  const runtime = isObj(config.runtime) ? config.runtime : {};
  const torchBackend = runtime.backend === 'torch';
  const modelPath = mustExist(['model', 'path'], model.path, torchBackend ? 'file or folder' : 'file');
  if (modelPath && torchBackend) {
    if (fs.statSync(modelPath).isDirectory() && !fs.existsSync(path.join(modelPath, 'config.json'))) {
      out.push(diagnostic(['model', 'path'], `folder ${modelPath} holds no config.json; the torch backend needs a Hugging Face model folder (save_pretrained), or an .onnx model imported by lily import`));
    }
  } else if (modelPath && path.extname(modelPath).toLowerCase() !== '.onnx') {
    out.push(warning(['model', 'path'], `expected an exported .onnx model, found ${show(path.basename(modelPath))}`));
  }
  mustExist(['model', 'tokenizer'], model.tokenizer, 'file');
  for (const field of ['train', 'eval'] as const) {
    // A folder is a datasets.save_to_disk dataset (Arrow shards); anything else must be a file.
    const rel = data[field];
    const abs = mustExist(['data', field], rel, isStr(rel) && path.extname(rel) === '' ? 'file or folder' : 'file');
    if (abs && fs.statSync(abs).isDirectory()) {
      const arrowFolder = fs.existsSync(path.join(abs, 'state.json')) || fs.existsSync(path.join(abs, 'dataset_dict.json')) || fs.readdirSync(abs).some((f) => f.endsWith('.arrow'));
      if (!arrowFolder) out.push(diagnostic(['data', field], `folder ${abs} holds no .arrow files and no state.json; point data.${field} at a data file or a folder written by datasets.save_to_disk`));
      else if (data.format !== undefined && data.format !== 'arrow') out.push(diagnostic(['data', 'format'], `is ${show(data.format)} but data.${field} is a folder of Arrow files; use "arrow" (or drop data.format)`));
    }
  }
  if (isStr(adapter.init) && adapter.init !== 'default') {
    const init = mustExist(['adapter', 'init'], adapter.init, 'file or folder');
    if (init && fs.statSync(init).isDirectory() && !fs.existsSync(path.join(init, 'adapter_model.safetensors'))) {
      out.push(diagnostic(['adapter', 'init'], `folder ${init} holds no adapter_model.safetensors; point init at a PEFT adapter folder or file, or use "default"`));
    }
  }
  return out;
}

/** Consistency checks between fields. */
export function semanticDiagnostics(config: unknown): ConfigDiagnostic[] {
  if (!isObj(config)) return [];
  const out: ConfigDiagnostic[] = [];
  const model = isObj(config.model) ? config.model : {};
  const data = isObj(config.data) ? config.data : {};
  const adapter = isObj(config.adapter) ? config.adapter : {};
  const training = isObj(config.training) ? config.training : {};

  // Labels: the list names the classes, so its size must be the class count.
  const labels = Array.isArray(model.labels) && model.labels.every(isStr) ? model.labels as string[] : undefined;
  if (labels && isNum(model.num_labels) && labels.length !== model.num_labels) {
    out.push(diagnostic(['model', 'labels'], `${labels.length} labels given but model.num_labels is ${model.num_labels}; make them agree (or drop num_labels)`));
  }
  if (labels) {
    const dup = labels.find((l, i) => labels.indexOf(l) !== i);
    if (dup !== undefined) out.push(diagnostic(['model', 'labels'], `label ${show(dup)} appears twice; each class needs a distinct name`));
  }
  if (labels && (model.task === 'regression' || model.task === 'causal-lm')) {
    out.push(warning(['model', 'labels'], `labels are ignored for task ${show(model.task)}`));
  }

  // Adapter (the schema already bounds num_B >= 2, stride_A >= 1, r >= 1).
  for (const field of ['target_modules', 'exclude_modules'] as const) {
    const v = adapter[field];
    if (Array.isArray(v) && v.length === 0 && field === 'target_modules') {
      out.push(diagnostic(['adapter', field], 'expected at least one module suffix, found an empty list'));
    }
    if (Array.isArray(v)) {
      v.forEach((s, i) => { if (s === '') out.push(diagnostic(['adapter', field, i], 'expected a module name suffix, found an empty string')); });
    }
    if (isStr(v)) {
      try { new RegExp(v); } catch (e) {
        out.push(diagnostic(['adapter', field], `not a valid regular expression (${(e as Error).message}); use a list of suffixes or fix the pattern`));
      }
    }
  }
  if (Array.isArray(adapter.layers_to_transform)) {
    const idx = adapter.layers_to_transform as unknown[];
    const dup = idx.find((l, i) => idx.indexOf(l) !== i);
    if (dup !== undefined) out.push(warning(['adapter', 'layers_to_transform'], `layer ${show(dup)} is listed twice`));
  }
  if (adapter.scaling === 0) {
    out.push(warning(['adapter', 'scaling'], 'scaling 0 multiplies the adapter output by zero: the adapter can never change the model'));
  }
  if (adapter.method === 'lora' && adapter.lora_alpha === 0) {
    out.push(warning(['adapter', 'lora_alpha'], 'lora_alpha 0 makes the LoRA update zero: the adapter can never change the model'));
  }

  // Data format: an explicit one, or one the extension implies.
  for (const field of ['train', 'eval'] as const) {
    const file = data[field];
    // A path without an extension may be a save_to_disk folder; fileDiagnostics checks it.
    if (isStr(file) && data.format === undefined && path.extname(file) !== '' && !formatFromExtension(file)) {
      out.push(diagnostic(['data', field], `cannot tell the format of ${show(path.basename(file))} from its extension; use .jsonl, .csv, .parquet or .arrow, or set data.format`));
    }
  }
  if (isStr(data.train) && isStr(data.eval) && path.normalize(data.train) === path.normalize(data.eval)) {
    out.push(warning(['data', 'eval'], 'the eval file is the training file: eval metrics will not show overfitting'));
  }

  // Padding and packing.
  const maxLength = isNum(data.max_length) ? data.max_length : 128;
  if (Array.isArray(data.buckets)) {
    const b = data.buckets as unknown[];
    b.forEach((n, i) => {
      if (isNum(n) && n > maxLength) out.push(diagnostic(['data', 'buckets', i], `bucket ${n} is longer than data.max_length (${maxLength}): rows are never longer than max_length; use lengths up to ${maxLength}`));
      if (b.indexOf(n) !== i) out.push(warning(['data', 'buckets', i], `bucket ${show(n)} is listed twice`));
    });
    if (data.padding !== 'buckets') out.push(warning(['data', 'buckets'], 'ignored unless data.padding is "buckets"'));
  }
  if (data.packing === true && isStr(model.task) && model.task !== 'causal-lm' && model.task !== 'sequence-classification') {
    out.push(diagnostic(['data', 'packing'], `packing puts several documents in one row, which only a causal LM or a sequence classifier (exported with document_starts) can train on; task is ${show(model.task)}: remove data.packing`));
  }
  if (data.group_by_length === true) {
    if (data.packing === true) out.push(warning(['data', 'group_by_length'], 'ignored with data.packing (packed rows are all max_length long)'));
    else if (data.padding === undefined || data.padding === 'max_length') out.push(warning(['data', 'group_by_length'], 'every batch is padded to max_length, so grouping saves no compute (it only changes which records share a batch); use it with data.padding "longest" or "buckets"'));
  }

  // Runtime: torch-backend fields (the torch backend checks what needs the model itself).
  const runtime = isObj(config.runtime) ? config.runtime : {};
  const torchOnly = (['processes', 'launch'] as const).filter((f) => runtime[f] !== undefined);
  if (runtime.backend !== 'torch') {
    for (const f of torchOnly) out.push(warning(['runtime', f], `only used by the torch backend; set runtime.backend to "torch" or remove it`));
  } else {
    if (isStr(runtime.launch) && !runtime.launch.includes('{script}')) {
      out.push(diagnostic(['runtime', 'launch'], 'the launch template must contain {script} (where the trainer script goes) and usually {args}, e.g. "torchrun --nproc-per-node 4 {script} {args}"'));
    }
    if (isStr(runtime.launch) && runtime.processes !== undefined) {
      out.push(warning(['runtime', 'processes'], 'ignored because runtime.launch is set (the template says how many processes start)'));
    }
    if (isNum(runtime.processes) && isNum(training.batch_size) && training.batch_size % runtime.processes !== 0) {
      out.push(diagnostic(['training', 'batch_size'], `the global batch ${training.batch_size} does not divide among ${runtime.processes} processes; use a multiple of runtime.processes`));
    }
    if (adapter.method === 'lily' && (adapter.routing === 'masked' || adapter.routing === 'token')) {
      out.push(diagnostic(['adapter', 'routing'], `routing "${adapter.routing}" has no PEFT equivalent (PEFT's Lily averages the router over the whole batch); use "batch" with the torch backend, or the onnx backend`));
    }
    if (runtime.device === 'webgpu') out.push(diagnostic(['runtime', 'device'], 'the torch backend runs on cpu or cuda; use "auto", "cpu" or "cuda"'));
    if (runtime.pack_weights !== undefined) out.push(warning(['runtime', 'pack_weights'], 'only used by the onnx backend (onnxruntime prepacking); PyTorch has no such switch'));
  }

  // Training.
  if (isNum(training.epochs) && isNum(training.max_steps)) {
    out.push(warning(['training', 'epochs'], 'ignored because training.max_steps is set'));
  }
  if (isNum(training.warmup_steps) && isNum(training.max_steps) && training.warmup_steps >= training.max_steps) {
    out.push(warning(['training', 'warmup_steps'], `warmup (${training.warmup_steps} steps) does not end before max_steps (${training.max_steps}): the learning rate never reaches lr`));
  }
  if (Array.isArray(training.betas)) {
    training.betas.forEach((b, i) => {
      if (isNum(b) && (b < 0 || b >= 1)) out.push(diagnostic(['training', 'betas', i], `expected a number >= 0 and < 1, found ${show(b)}`));
    });
  }
  return out;
}
