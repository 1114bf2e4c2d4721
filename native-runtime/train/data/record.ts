// One data record: parse (JSONL line or CSV row), validate (while indexing, so a bad line is
// reported before any run directory exists), and convert to model inputs + label.
//
// A record either carries model inputs by name (`input_ids`, `attention_mask`, `pixel_values`,
// ...: used as they are, sequences padded/truncated to max_length) or a text field (and an
// optional pair field) that is tokenized with the model's tokenizer.json.
import { parse as parseCsv } from 'csv-parse/sync';
import type { TaskType } from '../../config/types';
import type { ValueInfo } from '../../onnx/ir';
import { DataError } from './errors';
import { IGNORE_INDEX, LabelScheme, LabelStats, labelToId } from './labels';
import type { DataFormat } from './scan';
import type { TextTokenizer } from './tokenizer';

export type RawRecord = Record<string, unknown>;

export interface RecordSpec {
  file: string;
  format: DataFormat;
  task: TaskType;
  textField: string;
  textPairField?: string;
  labelField: string;
  maxLength: number;
  /** The model's graph inputs (names, dtypes, shapes). */
  modelInputs: ValueInfo[];
  tokenizer?: TextTokenizer;
}

export interface Example {
  /** Per model input: flat values and the shape without the batch dimension. */
  inputs: Map<string, { data: number[]; dims: number[] }>;
  /** Class id, regression target, or per-token labels (length max_length). */
  label?: number | number[];
  /** Non-padding tokens (for tokens/s). */
  tokens: number;
  /**
   * Positions up to and including the last non-padding one: trimming the sequence inputs to
   * this many keeps every real token (padding is on the right). See padding.ts.
   */
  extent: number;
  /** Token strings, when the record was tokenized here. */
  tokenStrings?: string[];
  line: number;
}

/** Integer model inputs are token-aligned sequences of length max_length. */
export function isSequenceInput(v: ValueInfo): boolean {
  return v.dtype !== 'float32' && v.dtype !== 'float16' && v.dtype !== 'float64' && v.dtype !== 'bfloat16';
}

/**
 * A packed classifier's input (data.packing for sequence classification, see packing.ts): the
 * position of each document's first token per row, int64 [batch, documents].
 */
export const DOCUMENT_STARTS = 'document_starts';

/** Sequence inputs the pipeline can build when a record does not carry them. */
const DERIVABLE = new Set(['attention_mask', 'token_type_ids', 'position_ids', DOCUMENT_STARTS]);

export function parseCsvHeader(bytes: Buffer, file: string, line: number): string[] {
  const rows = parseCsvBytes(bytes, file, line);
  const header = rows[0].map((h) => h.trim());
  const dup = header.find((h, i) => header.indexOf(h) !== i);
  if (dup !== undefined) throw new DataError(file, line, dup, 'column name appears twice in the CSV header');
  return header;
}

function parseCsvBytes(bytes: Buffer, file: string, line: number): string[][] {
  let rows: string[][];
  try {
    rows = parseCsv(bytes, { relax_column_count: true }) as string[][];
  } catch (e) {
    throw new DataError(file, line, undefined, `malformed CSV: ${(e as Error).message}`);
  }
  if (rows.length !== 1) throw new DataError(file, line, undefined, `malformed CSV: expected one row, found ${rows.length}`);
  return rows;
}

/** Parses one record's bytes into an object (CSV rows are keyed by the header). */
export function parseRecord(bytes: Buffer, spec: Pick<RecordSpec, 'file' | 'format'>, line: number, header?: string[]): RawRecord {
  if (spec.format === 'jsonl') {
    let v: unknown;
    try {
      v = JSON.parse(bytes.toString('utf8'));
    } catch (e) {
      throw new DataError(spec.file, line, undefined, `invalid JSON (${(e as Error).message}); each line must be one JSON object`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      throw new DataError(spec.file, line, undefined, `expected a JSON object, found ${Array.isArray(v) ? 'an array' : typeof v}`);
    }
    return v as RawRecord;
  }
  const row = parseCsvBytes(bytes, spec.file, line)[0];
  if (!header) throw new Error('CSV record parsed without a header');
  if (row.length !== header.length) {
    throw new DataError(spec.file, line, undefined, `has ${row.length} columns, the header has ${header.length} (${header.join(', ')})`);
  }
  const rec: RawRecord = {};
  header.forEach((h, i) => { rec[h] = row[i]; });
  return rec;
}

// ---------------------------------------------------------------------------
// Field readers: each throws a DataError naming the file, line and field.

function fieldError(spec: RecordSpec, line: number, field: string, detail: string): DataError {
  return new DataError(spec.file, line, field, detail);
}

/** CSV cells hold arrays as JSON text ("[1, 2, 3]"). */
function maybeJson(v: unknown): unknown {
  if (typeof v === 'string') {
    const t = v.trim();
    if (t.startsWith('[')) {
      try { return JSON.parse(t); } catch { return v; }
    }
  }
  return v;
}

function intArray(spec: RecordSpec, line: number, field: string, v: unknown): number[] {
  const a = maybeJson(v);
  if (!Array.isArray(a) || !a.every((x) => Number.isInteger(x))) {
    throw fieldError(spec, line, field, `expected an array of integers, found ${describe(v)}`);
  }
  return a as number[];
}

/** Flattens a nested numeric array, returning its values and shape. */
function numericTensor(spec: RecordSpec, line: number, field: string, v: unknown): { data: number[]; dims: number[] } {
  const a = maybeJson(v);
  const dims: number[] = [];
  for (let x: unknown = a; Array.isArray(x); x = x[0]) dims.push(x.length);
  const data: number[] = [];
  const walk = (x: unknown, depth: number): void => {
    if (depth === dims.length) {
      if (typeof x !== 'number' || !Number.isFinite(x)) throw fieldError(spec, line, field, `expected finite numbers, found ${describe(x)}`);
      data.push(x);
      return;
    }
    if (!Array.isArray(x) || x.length !== dims[depth]) throw fieldError(spec, line, field, `ragged nested array (expected ${dims[depth]} items at depth ${depth})`);
    for (const y of x) walk(y, depth + 1);
  };
  walk(a, 0);
  return { data, dims };
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (the field is missing)';
  const s = JSON.stringify(v);
  const short = s && s.length > 40 ? s.slice(0, 40) + '...' : s;
  return `${Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v} ${short}`;
}

function textOf(spec: RecordSpec, rec: RawRecord, line: number, field: string): string {
  const v = rec[field];
  if (typeof v !== 'string') {
    const fields = Object.keys(rec).join(', ');
    throw fieldError(spec, line, field, `expected a string, found ${describe(v)} (record fields: ${fields}); set data.text_field or give input_ids`);
  }
  return v;
}

function wordsOf(spec: RecordSpec, rec: RawRecord, line: number): string[] {
  const v = maybeJson(rec[spec.textField]);
  if (typeof v === 'string') return v.split(/\s+/).filter((w) => w.length > 0);
  if (Array.isArray(v) && v.every((w) => typeof w === 'string')) return v as string[];
  throw fieldError(spec, line, spec.textField, `expected a list of words (or a string), found ${describe(rec[spec.textField])}`);
}

function numberOf(spec: RecordSpec, line: number, field: string, v: unknown): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw fieldError(spec, line, field, `expected a finite number, found ${describe(v)}`);
  return n;
}

/** A label as found in the data: class labels stay strings or integers until the scheme is known. */
function rawClassLabel(spec: RecordSpec, line: number, field: string, v: unknown): string | number {
  if (typeof v === 'string' && v.length > 0) return v;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw fieldError(spec, line, field, `expected a class name or an integer class id, found ${describe(v)}`);
}

function pretokenized(spec: RecordSpec, rec: RawRecord): boolean {
  return rec.input_ids !== undefined && spec.modelInputs.some((m) => m.name === 'input_ids');
}

// ---------------------------------------------------------------------------

/**
 * Validates a record while indexing and collects its labels into `stats`. Everything that
 * could make `toExample` fail later is checked here, so training never stops on bad data.
 */
export function checkRecord(spec: RecordSpec, rec: RawRecord, line: number, stats: LabelStats): void {
  const pre = pretokenized(spec, rec);
  for (const m of spec.modelInputs) {
    if (rec[m.name] !== undefined) {
      if (isSequenceInput(m)) intArray(spec, line, m.name, rec[m.name]);
      else numericTensor(spec, line, m.name, rec[m.name]);
    } else if (!isSequenceInput(m)) {
      throw fieldError(spec, line, m.name, `the model input ${m.name} (${m.dtype}) is missing from the record; give it as a (nested) list of numbers`);
    } else if (m.name !== 'input_ids' && !DERIVABLE.has(m.name)) {
      throw fieldError(spec, line, m.name, `the model input ${m.name} is missing from the record and cannot be derived; add it to every record`);
    }
  }
  const needsText = spec.modelInputs.some((m) => m.name === 'input_ids') && !pre;
  if (needsText) {
    if (!spec.tokenizer) throw fieldError(spec, line, 'input_ids', 'the record has no input_ids and no tokenizer.json was found; set model.tokenizer or pre-tokenize the data');
    if (spec.task === 'token-classification') wordsOf(spec, rec, line);
    else textOf(spec, rec, line, spec.textField);
    if (spec.textPairField) textOf(spec, rec, line, spec.textPairField);
  }
  const lf = spec.labelField;
  const v = maybeJson(rec[lf]);
  switch (spec.task) {
    case 'sequence-classification':
      stats.add(rawClassLabel(spec, line, lf, v), line);
      break;
    case 'regression':
      numberOf(spec, line, lf, v);
      break;
    case 'token-classification': {
      if (!Array.isArray(v)) throw fieldError(spec, line, lf, `expected a list of per-${pre ? 'token' : 'word'} labels, found ${describe(rec[lf])}`);
      const expected = pre ? intArray(spec, line, 'input_ids', rec.input_ids).length : wordsOf(spec, rec, line).length;
      if (v.length !== expected) throw fieldError(spec, line, lf, `has ${v.length} labels for ${expected} ${pre ? 'tokens' : 'words'}`);
      for (const x of v) stats.add(rawClassLabel(spec, line, lf, x), line);
      break;
    }
    case 'causal-lm':
      if (rec.labels !== undefined) intArray(spec, line, 'labels', rec.labels);
      break;
  }
}

/** Pads or truncates to `n` values. */
function fit(a: number[], n: number, pad: number): number[] {
  if (a.length >= n) return a.slice(0, n);
  return a.concat(new Array<number>(n - a.length).fill(pad));
}

/** Converts a validated record to padded model inputs and a label. */
export function toExample(spec: RecordSpec, rec: RawRecord, line: number, scheme: LabelScheme): Example {
  const T = spec.maxLength;
  const inputs = new Map<string, { data: number[]; dims: number[] }>();
  const pre = pretokenized(spec, rec);
  const padId = spec.tokenizer?.padId ?? 0;
  let ids: number[] | undefined;
  let typeIds: number[] | undefined;
  let wordIds: number[] | undefined;
  let tokenStrings: string[] | undefined;
  if (pre) {
    ids = intArray(spec, line, 'input_ids', rec.input_ids);
  } else if (spec.tokenizer && spec.modelInputs.some((m) => m.name === 'input_ids')) {
    const enc = spec.task === 'token-classification'
      ? spec.tokenizer.encodeWords(wordsOf(spec, rec, line), T)
      : spec.tokenizer.encode(textOf(spec, rec, line, spec.textField), spec.textPairField ? textOf(spec, rec, line, spec.textPairField) : undefined, T);
    ids = enc.ids;
    typeIds = enc.typeIds;
    wordIds = enc.wordIds;
    tokenStrings = enc.tokens;
  }
  const realLen = Math.min(ids?.length ?? T, T);
  let mask: number[] | undefined;
  for (const m of spec.modelInputs) {
    const given = rec[m.name];
    if (!isSequenceInput(m)) {
      inputs.set(m.name, numericTensor(spec, line, m.name, given));
      continue;
    }
    // Per batch, not per record: collate makes it (one document per row, starting at 0).
    if (m.name === DOCUMENT_STARTS) continue;
    let data: number[];
    if (m.name === 'input_ids' && ids) data = fit(ids, T, padId);
    else if (given !== undefined) data = fit(intArray(spec, line, m.name, given), T, 0);
    else if (m.name === 'attention_mask') data = fit(new Array<number>(realLen).fill(1), T, 0);
    else if (m.name === 'token_type_ids') data = fit(typeIds ?? [], T, 0);
    else if (m.name === 'position_ids') data = Array.from({ length: T }, (_, i) => i);
    else throw fieldError(spec, line, m.name, `the model input ${m.name} is missing from the record`);
    if (m.name === 'attention_mask') mask = data;
    inputs.set(m.name, { data, dims: [T] });
  }
  mask ??= fit(new Array<number>(realLen).fill(1), T, 0);
  const tokens = mask.reduce((s, x) => s + (x ? 1 : 0), 0);
  let extent = mask.length;
  while (extent > 0 && !mask[extent - 1]) extent--;

  let label: number | number[] | undefined;
  const lf = spec.labelField;
  const v = maybeJson(rec[lf]);
  if (scheme.kind === 'regression') label = numberOf(spec, line, lf, v);
  else if (scheme.kind === 'lm') {
    const given = rec.labels !== undefined ? intArray(spec, line, 'labels', rec.labels) : undefined;
    const base = given ? fit(given, T, IGNORE_INDEX) : fit(ids ?? [], T, IGNORE_INDEX);
    label = base.map((x, i) => (mask![i] ? x : IGNORE_INDEX));
  } else if (!scheme.tokenLevel) {
    label = labelToId(scheme, rawClassLabel(spec, line, lf, v), spec.file, line, lf);
  } else {
    const perItem = (v as unknown[]).map((x) => labelToId(scheme, rawClassLabel(spec, line, lf, x), spec.file, line, lf));
    let perToken: number[];
    if (wordIds) {
      // Hugging Face's convention: the first sub-token of a word carries its label, the rest are ignored.
      perToken = wordIds.map((w, i) => (w >= 0 && (i === 0 || wordIds![i - 1] !== w) ? perItem[w] : IGNORE_INDEX));
    } else perToken = perItem;
    label = fit(perToken, T, IGNORE_INDEX);
  }
  return { inputs, label, tokens, extent, tokenStrings, line };
}
