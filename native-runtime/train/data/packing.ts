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
 * Groups documents (by index) into rows of at most `rowLength` tokens, best-fit decreasing:
 * longest first, each into the row it leaves the least room in (a new row when none has room).
 * Next-fit in file order, which this replaced, left 14% of the bench's man-page rows (512
 * tokens) empty; best-fit decreasing leaves about 1%. Lengths are capped at `rowLength` (records
 * are already truncated to max_length). Each row lists its documents in file order; rows come
 * out longest-first documents first, so callers shuffle them (the batch plan does).
 */
export function packRows(lengths: ArrayLike<number>, rowLength: number): number[][] {
  if (!(rowLength >= 1)) throw new Error(`packRows: row length must be positive, got ${rowLength}`);
  const L = Math.floor(rowLength);
  const size = (i: number) => Math.min(Math.max(lengths[i], 1), L);
  // Stable: equal lengths keep file order, so the result is a pure function of the input.
  const order = Array.from({ length: lengths.length }, (_, i) => i).sort((a, b) => size(b) - size(a) || a - b);
  const rows: number[][] = [];
  const roomOf: number[] = [];
  const open = new RoomIndex(L);
  for (const doc of order) {
    const n = size(doc);
    let r = open.takeAtLeast(n);
    if (r === undefined) {
      r = rows.length;
      rows.push([]);
      roomOf.push(L);
    }
    rows[r].push(doc);
    roomOf[r] -= n;
    if (roomOf[r] > 0) open.put(roomOf[r], r);
  }
  for (const row of rows) row.sort((a, b) => a - b);
  return rows;
}

/**
 * Rows with room left, by how much room: `takeAtLeast(n)` removes and returns a row with the
 * least room >= n (the best fit) in O(log L), through a segment tree of per-room counts.
 */
class RoomIndex {
  private readonly stacks: number[][];
  private readonly counts: Int32Array;
  private readonly leaves: number;

  constructor(maxRoom: number) {
    this.stacks = Array.from({ length: maxRoom + 1 }, () => []);
    let leaves = 1;
    while (leaves < maxRoom + 1) leaves *= 2;
    this.leaves = leaves;
    this.counts = new Int32Array(2 * leaves);
  }

  put(room: number, row: number): void {
    this.stacks[room].push(row);
    this.bump(room, 1);
  }

  takeAtLeast(n: number): number | undefined {
    const room = this.firstNonEmptyFrom(n);
    if (room === undefined) return undefined;
    this.bump(room, -1);
    return this.stacks[room].pop();
  }

  private bump(room: number, by: number): void {
    for (let k = room + this.leaves; k >= 1; k >>= 1) this.counts[k] += by;
  }

  /** The smallest room >= n that holds a row. */
  private firstNonEmptyFrom(n: number): number | undefined {
    const search = (node: number, lo: number, hi: number): number | undefined => {
      if (hi < n || this.counts[node] === 0) return undefined;
      if (lo === hi) return lo;
      const mid = (lo + hi) >> 1;
      return search(2 * node, lo, mid) ?? search(2 * node + 1, mid + 1, hi);
    };
    return search(1, 0, this.leaves - 1);
  }
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
