// The tokenized data of a torch-backend run: the TypeScript data pipeline (the same validation,
// tokenizer, padding and labels as the ONNX engine) writes every record once, and the Python
// trainer only indexes it (data.py, memory-mapped: a batch reads its own rows). So the two
// backends train on identical numbers, and tokenising lives in one language.
//
// Data can be big, so it is neither held in memory nor copied into each run: it is written in
// chunks of CHUNK records straight to their place in the file, into a cache shared by every run
// of the same data and settings, <output.dir>/.datasets/<key>/{train,eval}.safetensors (key:
// the data settings, the data and tokenizer files' paths, sizes and times, the model inputs and
// labels), and each run directory holds only dataset.json naming those files.
//   <input name>  int64 [N, ...]   each model input (e.g. input_ids [N, max_length])
//   labels        int64 [N] | float32 [N] | int64 [N, T]   as the engine's batches carry them
//   tokens        int64 [N]        non-padding tokens per record (tokens/s)
// metadata: {"inputs": JSON list of the model input names}
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { ResolvedConfig } from '../config/resolved';
import type { ValueInfo } from '../onnx/ir';
import { fsyncDir, nameFileInError, readJsonIfValid, tempPathFor, writeJsonAtomic } from '../io/atomic';
import { encodeSafetensorsHeader, type SafetensorsData, type SafetensorsDtype } from '../io/safetensors';
import { collate, LABELS } from '../train/data/batch';
import type { Dataset } from '../train/data/dataset';
import type { LabelScheme } from '../train/data/labels';

/** Runs written before dataset.json kept their tokenized data here (still read on resume). */
export const DATASET_DIR = 'dataset';
export const TOKENS = 'tokens';
/** In the run directory: {"train": file, "eval"?: file}, the tokenized data the trainer reads. */
export const DATASET_REF = 'dataset.json';
export const DATASET_CACHE_DIR = '.datasets';
/** Records collated and written at a time (bounds the memory of the writer). */
const CHUNK = 1024;
/** Changes when the layout of the tokenized files changes (old cache entries are then ignored). */
const FORMAT = 1;

export interface DatasetRef {
  train: string;
  eval?: string;
}

/** The model inputs the torch backend feeds: `model.inputs`, else what a Hugging Face text model takes. */
export function torchModelInputs(names: string[] | undefined, hfConfig: Record<string, unknown> | undefined): ValueInfo[] {
  const list = names ?? ['input_ids', 'attention_mask', ...(typeof hfConfig?.type_vocab_size === 'number' ? ['token_type_ids'] : [])];
  return list.map((name) => ({ name, dtype: 'int64' as const }));
}

const DTYPES = new Map<Function, SafetensorsDtype>([[BigInt64Array, 'I64'], [Float32Array, 'F32'], [Int32Array, 'I32']]);

/**
 * Writes the tokenized records of `ds` to `file` (atomically: a temp file renamed into place),
 * CHUNK records at a time: the header first (the first chunk gives each tensor's row shape and
 * type), then each chunk's rows at their offsets. Memory stays at one chunk whatever the size.
 */
export function writeTokenizedData(file: string, ds: Dataset, scheme: LabelScheme, modelInputs: ValueInfo[], chunkSize = CHUNK): void {
  if (ds.size === 0) throw new Error(`${ds.spec.file}: no records to train on`);
  const chunk = (start: number) => {
    const examples = [];
    const tokens = new BigInt64Array(Math.min(ds.size, start + chunkSize) - start);
    for (let i = start; i < start + tokens.length; i++) {
      const ex = ds.example(i, scheme);
      tokens[i - start] = BigInt(ex.tokens);
      examples.push(ex);
    }
    const tensors: Record<string, { data: SafetensorsData; row: number[] }> = { [TOKENS]: { data: tokens, row: [] } };
    for (const [name, t] of Object.entries(collate(examples, modelInputs, scheme).tensors)) tensors[name] = { data: t.data as SafetensorsData, row: t.dims.slice(1) as number[] };
    return tensors;
  };
  let current = chunk(0);
  if (!(LABELS in current)) throw new Error(`${ds.spec.file}: the records carry no labels for the task`);
  const layout = Object.entries(current).map(([name, t]) => {
    const dtype = DTYPES.get(t.data.constructor);
    if (!dtype) throw new Error(`tokenized data: tensor ${name} has an unexpected type ${t.data.constructor.name}`);
    return { name, dtype, shape: [ds.size, ...t.row], row: t.row, rowBytes: t.row.reduce((a, b) => a * b, 1) * t.data.BYTES_PER_ELEMENT };
  });
  const head = encodeSafetensorsHeader(layout, { inputs: JSON.stringify(modelInputs.map((m) => m.name)) });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tempPathFor(file);
  const fd = fs.openSync(tmp, 'w');
  try {
    const writeAt = (bytes: Uint8Array, position: number) => {
      let done = 0;
      while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, position + done);
    };
    writeAt(head.bytes, 0);
    for (let start = 0; start < ds.size; start += chunkSize) {
      if (start > 0) current = chunk(start);
      for (const t of layout) {
        const c = current[t.name];
        if (!c || c.row.join() !== t.row.join()) throw new Error(`tokenized data: tensor ${t.name} changed shape at record ${start} (${JSON.stringify(c?.row)} vs ${JSON.stringify(t.row)})`);
        writeAt(new Uint8Array(c.data.buffer, c.data.byteOffset, c.data.byteLength), head.bytes.length + head.offsets.get(t.name)! + start * t.rowBytes);
      }
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw nameFileInError(file, e);
  }
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

function fileStamp(file: string): unknown {
  try {
    const st = fs.statSync(file);
    return [fs.realpathSync(file), st.size, st.mtimeMs];
  } catch {
    return [file, null];
  }
}

/** The cache folder of this config's tokenized data (see the top of this file). */
export function tokenizedDataFolder(cfg: ResolvedConfig, modelInputs: ValueInfo[], scheme: LabelScheme, labelNames?: string[]): string {
  const key = createHash('sha256').update(JSON.stringify({
    format: FORMAT, data: cfg.data, task: cfg.model.task, labels: cfg.model.labels ?? labelNames ?? null, scheme,
    inputs: modelInputs.map((m) => m.name), files: [cfg.data.train, cfg.data.eval, cfg.model.tokenizer].map((f) => (f ? fileStamp(f) : null)),
  })).digest('hex').slice(0, 20);
  return path.join(cfg.output.dir, DATASET_CACHE_DIR, key);
}

/**
 * The tokenized train (and eval) files for this config, written when the cache lacks them (a
 * concurrent writer of the same entry is harmless: each file is renamed into place whole).
 */
export function ensureTokenizedData(cfg: ResolvedConfig, data: { train: Dataset; eval?: Dataset; scheme: LabelScheme; labelNames?: string[] }, modelInputs: ValueInfo[], log: (m: string) => void): DatasetRef {
  const dir = tokenizedDataFolder(cfg, modelInputs, data.scheme, data.labelNames);
  const ref: DatasetRef = { train: path.join(dir, 'train.safetensors'), ...(data.eval ? { eval: path.join(dir, 'eval.safetensors') } : {}) };
  const write = (file: string, ds: Dataset) => {
    if (fs.existsSync(file)) return;
    log(`Tokenizing ${ds.spec.file} (${ds.size} records) into ${file}`);
    writeTokenizedData(file, ds, data.scheme, modelInputs);
  };
  write(ref.train, data.train);
  if (data.eval && ref.eval) write(ref.eval, data.eval);
  return ref;
}

export function writeDatasetRef(runDir: string, ref: DatasetRef): void {
  writeJsonAtomic(path.join(runDir, DATASET_REF), ref);
}

export function readDatasetRef(runDir: string): DatasetRef | undefined {
  return readJsonIfValid<DatasetRef>(path.join(runDir, DATASET_REF));
}
