// Collates examples into a batch of onnxruntime tensors keyed by model input names, plus
// `labels`: int64 [B] for classification, float32 [B] for regression, int64 [B, T] for token
// classification and causal LM (unshifted; -100 marks ignored positions).
import * as ort from 'onnxruntime-node';
import type { DataType, ValueInfo } from '../../onnx/ir';
import { IGNORE_INDEX, type LabelScheme } from './labels';
import type { PackedRow } from './packing';
import { DOCUMENT_STARTS, isSequenceInput, type Example } from './record';

export interface Batch {
  tensors: Record<string, ort.Tensor>;
  size: number;
  /** Records (documents) in the batch: `size` unless rows are packed (several per row). */
  records?: number;
  /** Non-padding tokens in the batch. */
  tokens: number;
  /** Source lines of the examples (for error messages and per-example outputs). */
  lines: number[];
  /** Token strings of the first example, when tokenized here (router examples). */
  firstTokens?: string[];
}

export const LABELS = 'labels';

function makeTensor(dtype: DataType, values: number[], dims: number[], name: string): ort.Tensor {
  switch (dtype) {
    case 'int64': return new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
    case 'int32': return new ort.Tensor('int32', Int32Array.from(values), dims);
    case 'float32': return new ort.Tensor('float32', Float32Array.from(values), dims);
    case 'float64': return new ort.Tensor('float64', Float64Array.from(values), dims);
    case 'bool': return new ort.Tensor('bool', Uint8Array.from(values), dims);
    default: throw new Error(`model input ${name} has type ${dtype}, which the data pipeline cannot produce (int64, int32, float32, float64, bool)`);
  }
}

/**
 * Stacks examples (sequences padded to max_length on the right) into a batch. With `seqLength`
 * the sequence inputs and per-token labels are cut to that many positions (padding.ts decides
 * it; it must not cut a real token: see Example.extent).
 */
export function collate(examples: Example[], modelInputs: ValueInfo[], scheme: LabelScheme, seqLength?: number, documentSlots = 1): Batch {
  if (examples.length === 0) throw new Error('collate: empty batch');
  const B = examples.length;
  const tensors: Record<string, ort.Tensor> = {};
  const cut = (data: number[], dims: number[], sequence: boolean) =>
    seqLength !== undefined && sequence && dims.length === 1 && dims[0] > seqLength ? { data: data.slice(0, seqLength), dims: [seqLength] } : { data, dims };
  // A packed classifier (packing.ts) given unpacked rows: each row is one document at position
  // 0 in the first of `documentSlots` slots (the packed step's shape, so that eval batches reuse
  // its graph); the other slots are empty (labels -100).
  const packedClassifier = modelInputs.some((m) => m.name === DOCUMENT_STARTS);
  for (const m of modelInputs) {
    if (m.name === DOCUMENT_STARTS) {
      tensors[m.name] = makeTensor(m.dtype, new Array<number>(B * documentSlots).fill(0), [B, documentSlots], m.name);
      continue;
    }
    const first = examples[0].inputs.get(m.name);
    if (!first) throw new Error(`collate: example has no value for model input ${m.name}`);
    const values: number[] = [];
    let dims = first.dims;
    for (const ex of examples) {
      const v = ex.inputs.get(m.name)!;
      if (v.dims.join('x') !== first.dims.join('x')) {
        throw new Error(`line ${ex.line}: ${m.name} has shape [${v.dims}] but line ${examples[0].line} has [${first.dims}]; records in a batch must agree`);
      }
      const c = cut(v.data, v.dims, isSequenceInput(m));
      dims = c.dims;
      for (const x of c.data) values.push(x);
    }
    tensors[m.name] = makeTensor(m.dtype, values, [B, ...dims], m.name);
  }
  if (examples[0].label !== undefined) {
    if (Array.isArray(examples[0].label)) {
      const values: number[] = [];
      let T = 0;
      for (const ex of examples) {
        const c = cut(ex.label as number[], [(ex.label as number[]).length], true);
        T = c.dims[0];
        values.push(...c.data);
      }
      tensors[LABELS] = makeTensor('int64', values, [B, T], LABELS);
    } else {
      const values = examples.map((ex) => ex.label as number);
      if (packedClassifier && scheme.kind !== 'regression') {
        const slots = values.flatMap((v) => [v, ...new Array<number>(documentSlots - 1).fill(IGNORE_INDEX)]);
        tensors[LABELS] = makeTensor('int64', slots, [B, documentSlots], LABELS);
      } else tensors[LABELS] = makeTensor(scheme.kind === 'regression' ? 'float32' : 'int64', values, [B], LABELS);
    }
  }
  return {
    tensors,
    size: B,
    tokens: examples.reduce((s, ex) => s + ex.tokens, 0),
    lines: examples.map((ex) => ex.line),
    firstTokens: examples[0].tokenStrings,
  };
}

/**
 * A batch of packed rows (packing.ts): `input_ids`, `attention_mask` (document numbers),
 * `position_ids`, `token_type_ids` when the model has it, and `labels` [B, T] (causal LM); for
 * sequence classification also `document_starts` and `labels` [B, D], one per document slot.
 * Any other model input is an error.
 */
export function collatePacked(rows: PackedRow[], modelInputs: ValueInfo[], lines: number[]): Batch {
  if (rows.length === 0) throw new Error('collatePacked: empty batch');
  const B = rows.length;
  const T = rows[0].input_ids.length;
  const tensors: Record<string, ort.Tensor> = {};
  const pick: Record<string, (r: PackedRow) => number[] | undefined> = {
    input_ids: (r) => r.input_ids,
    attention_mask: (r) => r.segments,
    position_ids: (r) => r.positions,
    token_type_ids: (r) => r.typeIds,
    [DOCUMENT_STARTS]: (r) => r.documents?.starts,
  };
  for (const m of modelInputs) {
    const get = pick[m.name];
    const first = get?.(rows[0]);
    if (!get || !first) throw new Error(`packing: the model input ${m.name} cannot be packed (a packed batch has input_ids, attention_mask, position_ids, token_type_ids and, for classification, ${DOCUMENT_STARTS})`);
    tensors[m.name] = makeTensor(m.dtype, rows.flatMap((r) => get(r)!), [B, first.length], m.name);
  }
  const docs = rows[0].documents;
  tensors[LABELS] = docs
    ? makeTensor('int64', rows.flatMap((r) => r.documents!.labels), [B, docs.labels.length], LABELS)
    : makeTensor('int64', rows.flatMap((r) => r.labels), [B, T], LABELS);
  const records = rows.reduce((s, r) => s + r.segments.reduce((m, x) => Math.max(m, x), 0), 0);
  return { tensors, size: B, records, tokens: rows.reduce((s, r) => s + r.tokens, 0), lines };
}
