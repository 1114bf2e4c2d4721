// Packing for causal LM (`data.packing`): several documents share one row of `rowLength`
// tokens instead of each being padded to it. Within a row every document keeps its own
// positions (position_ids restart at 0) and its own attention: `attention_mask` holds the
// document number (1, 2, ...; 0 = padding) and the model's mask lets a query see a key only of
// the same number (hf_models.py exports such models). The first token of each document gets
// the ignore label, so no document is predicted from the end of the previous one: the loss is
// the same token mean as the documents padded into separate rows.
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
  tokens: number;
}

/**
 * Concatenates the real tokens of `docs` (examples padded on the right, with `extent` real
 * positions) into one row; `padId` fills the rest.
 */
export function packExamples(docs: Example[], rowLength: number, padId: number): PackedRow {
  const row: PackedRow = { input_ids: [], segments: [], positions: [], labels: [], tokens: 0 };
  docs.forEach((ex, d) => {
    const ids = ex.inputs.get('input_ids');
    if (!ids) throw new Error(`line ${ex.line}: packing needs input_ids`);
    const n = Math.min(ex.extent, rowLength - row.input_ids.length);
    const labels = Array.isArray(ex.label) ? ex.label : undefined;
    for (let t = 0; t < n; t++) {
      row.input_ids.push(ids.data[t]);
      row.segments.push(d + 1);
      row.positions.push(t);
      row.labels.push(t === 0 ? IGNORE_INDEX : labels ? labels[t] : ids.data[t]);
    }
    row.tokens += n;
  });
  while (row.input_ids.length < rowLength) {
    row.input_ids.push(padId);
    row.segments.push(0);
    row.positions.push(0);
    row.labels.push(IGNORE_INDEX);
  }
  return row;
}
