// The tokenized data of a torch-backend run: the TypeScript data pipeline (the same validation,
// tokenizer, padding and labels as the ONNX engine) writes every record once into
// <run>/dataset/{train,eval}.safetensors, and the Python trainer only indexes it (data.py). So the
// two backends train on identical numbers, and tokenising lives in one language.
//   <input name>  int64 [N, ...]   each model input (e.g. input_ids [N, max_length])
//   labels        int64 [N] | float32 [N] | int64 [N, T]   as the engine's batches carry them
//   tokens        int64 [N]        non-padding tokens per record (tokens/s)
// metadata: {"inputs": JSON list of the model input names}
import * as fs from 'fs';
import * as path from 'path';
import type { ValueInfo } from '../onnx/ir';
import { writeSafetensors, type SafetensorsData, type TensorInput } from '../io/safetensors';
import { collate, LABELS } from '../train/data/batch';
import type { Dataset } from '../train/data/dataset';
import type { LabelScheme } from '../train/data/labels';

export const DATASET_DIR = 'dataset';
export const TOKENS = 'tokens';
/** Records collated at a time (bounds the memory of number[] intermediates). */
const CHUNK = 1024;

/** The model inputs the torch backend feeds: `model.inputs`, else what a Hugging Face text model takes. */
export function torchModelInputs(names: string[] | undefined, hfConfig: Record<string, unknown> | undefined): ValueInfo[] {
  const list = names ?? ['input_ids', 'attention_mask', ...(typeof hfConfig?.type_vocab_size === 'number' ? ['token_type_ids'] : [])];
  return list.map((name) => ({ name, dtype: 'int64' as const }));
}

export function writeTokenizedData(file: string, ds: Dataset, scheme: LabelScheme, modelInputs: ValueInfo[]): void {
  const parts = new Map<string, { shape: number[]; chunks: SafetensorsData[] }>();
  const tokens = new BigInt64Array(ds.size);
  for (let start = 0; start < ds.size; start += CHUNK) {
    const examples = [];
    for (let i = start; i < Math.min(ds.size, start + CHUNK); i++) {
      const ex = ds.example(i, scheme);
      tokens[i] = BigInt(ex.tokens);
      examples.push(ex);
    }
    const batch = collate(examples, modelInputs, scheme);
    for (const [name, t] of Object.entries(batch.tensors)) {
      let p = parts.get(name);
      if (!p) parts.set(name, (p = { shape: t.dims.slice(1) as number[], chunks: [] }));
      p.chunks.push(t.data as SafetensorsData);
    }
  }
  const tensors = new Map<string, TensorInput>();
  for (const [name, p] of parts) tensors.set(name, { shape: [ds.size, ...p.shape], data: concat(p.chunks) });
  tensors.set(TOKENS, { shape: [ds.size], data: tokens });
  if (!tensors.has(LABELS)) throw new Error(`${ds.spec.file}: the records carry no labels for the task`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeSafetensors(file, tensors, { inputs: JSON.stringify(modelInputs.map((m) => m.name)) });
}

function concat(chunks: SafetensorsData[]): SafetensorsData {
  if (chunks.length === 1) return chunks[0];
  const n = chunks.reduce((s, c) => s + c.length, 0);
  const out = new (chunks[0].constructor as new (n: number) => SafetensorsData)(n);
  let at = 0;
  for (const c of chunks) {
    (out as unknown as { set(a: ArrayLike<number | bigint>, o: number): void }).set(c as ArrayLike<number | bigint>, at);
    at += c.length;
  }
  return out;
}
