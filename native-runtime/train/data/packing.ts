// Packing (`data.packing`): several documents share one row of `rowLength` tokens instead of
// each being padded to it. Within a row every document keeps its own positions (position_ids
// restart at 0) and its own attention: `attention_mask` holds the document number (1, 2, ...;
// 0 = padding) and the model's mask lets a query see a key only of the same number
// (hf_models.py exports such models).
// Causal LM: the first token of each document gets the ignore label, so no document is
// predicted from the end of the previous one: the loss is the same token mean as the documents
// padded into separate rows.
// Sequence classification: the model also takes `document_starts` [rows, slots] (each
// document's first position) and scores each slot (logits [rows, slots, classes]); labels are
// per slot, -100 for a slot the row does not fill, so the loss is the mean over the documents.
import { IGNORE_INDEX } from './labels';
import type { Example } from './record';

/**
 * Groups documents (by index, in the given order) into rows: next-fit, a document that does
 * not fit in what is left of the current row starts the next one. Lengths are capped at
 * `rowLength` (records are already truncated to max_length).
 */
export function packRows(lengths: ArrayLike<number>, rowLength: number): number[][] {
  if (!(rowLength >= 1)) throw new Error(`packRows: row length must be positive, got ${rowLength}`);
  const rows: number[][] = [];
  let row: number[] = [];
  let used = 0;
  for (let i = 0; i < lengths.length; i++) {
    const n = Math.min(Math.max(lengths[i], 1), rowLength);
    if (used + n > rowLength && row.length) {
      rows.push(row);
      row = [];
      used = 0;
    }
    row.push(i);
    used += n;
  }
  if (row.length) rows.push(row);
  return rows;
}

/** One packed row as flat sequences of `rowLength`: what collate needs per example. */
export interface PackedRow {
  input_ids: number[];
  /** Document number per position, 0 for padding. */
  segments: number[];
  positions: number[];
  labels: number[];
  /** token_type_ids of each document's tokens (0 on padding), when the records have them. */
  typeIds?: number[];
  /** Sequence classification: per document slot, its first position and its class (-100 when empty). */
  documents?: { starts: number[]; labels: number[] };
  tokens: number;
}

/**
 * Concatenates the real tokens of `docs` (examples padded on the right, with `extent` real
 * positions) into one row; `padId` fills the rest.
 */
export function packExamples(docs: Example[], rowLength: number, padId: number): PackedRow {
  const row: PackedRow = { input_ids: [], segments: [], positions: [], labels: [], tokens: 0 };
  const withTypes = docs.some((ex) => ex.inputs.has('token_type_ids'));
  if (withTypes) row.typeIds = [];
  docs.forEach((ex, d) => {
    const ids = ex.inputs.get('input_ids');
    if (!ids) throw new Error(`line ${ex.line}: packing needs input_ids`);
    const types = ex.inputs.get('token_type_ids');
    const n = Math.min(ex.extent, rowLength - row.input_ids.length);
    const labels = Array.isArray(ex.label) ? ex.label : undefined;
    for (let t = 0; t < n; t++) {
      row.input_ids.push(ids.data[t]);
      row.segments.push(d + 1);
      row.positions.push(t);
      row.labels.push(t === 0 ? IGNORE_INDEX : labels ? labels[t] : ids.data[t]);
      row.typeIds?.push(types ? types.data[t] : 0);
    }
    row.tokens += n;
  });
  while (row.input_ids.length < rowLength) {
    row.input_ids.push(padId);
    row.segments.push(0);
    row.positions.push(0);
    row.labels.push(IGNORE_INDEX);
    row.typeIds?.push(0);
  }
  return row;
}

/**
 * A packed row for sequence classification: packExamples plus, for each of `slots` document
 * slots, the document's first position and its class id (`ex.label`); slots past the row's
 * documents start at 0 with the label -100 (scored, then ignored by the loss and the metrics).
 */
export function packClassExamples(docs: Example[], rowLength: number, padId: number, slots: number): PackedRow {
  if (docs.length > slots) throw new Error(`packing: a row holds ${docs.length} documents but the step has ${slots} document slots`);
  const row = packExamples(docs, rowLength, padId);
  const starts: number[] = [];
  const labels: number[] = [];
  let at = 0;
  for (const ex of docs) {
    if (typeof ex.label !== 'number') throw new Error(`line ${ex.line}: packing for classification needs one class label per record`);
    starts.push(Math.min(at, rowLength - 1)); // (an empty record would start past the row)
    labels.push(ex.label);
    at += Math.min(ex.extent, rowLength - at);
  }
  while (starts.length < slots) {
    starts.push(0);
    labels.push(IGNORE_INDEX);
  }
  row.documents = { starts, labels };
  return row;
}
