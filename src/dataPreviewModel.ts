// What "Lily: New Adapter Config" learns from the first rows of a data file the user picked:
// its fields, which one holds the text and which the label, and the label names, so that the
// config it writes trains as written (issue #14: it used to invent ./data/*.jsonl paths).
// Reads with the backend's own record scanner and parser (JSONL, CSV; Parquet, Arrow), so a file that previews
// here parses the same way in training. No vscode import: tested in plain Node.
import { parseCsvHeader, parseRecord, type RawRecord } from '../native-runtime/train/data/record';
import { formatFromPath, scanRecords } from '../native-runtime/train/data/scan';
import { openColumnar } from '../native-runtime/train/data/columnar';

export interface DataPreview {
  file: string;
  /** The first rows (at most `limit`). */
  rows: RawRecord[];
  /** Field names in first-seen order. */
  fields: string[];
  /** The field that most looks like the input text (longest string values), if any. */
  textField: string | undefined;
  /** The field that most looks like the label (named like one, or few distinct values), if any. */
  labelField: string | undefined;
  /** Distinct label values seen, sorted (numbers numerically). */
  labelValues: Array<string | number>;
  /** Whether the rows are already tokenized (carry input_ids): no tokenizer needed. */
  pretokenized: boolean;
}

/** Reads the first `limit` records of a JSONL or CSV file; throws a DataError naming FILE:LINE. */
export function readFirstRows(file: string, limit = 50): RawRecord[] {
  const format = formatFromPath(file);
  if (!format) throw new Error(`${file}: cannot tell the data format from the extension; use .jsonl, .csv, .parquet or .arrow`);
  const rows: RawRecord[] = [];
  if (format === 'parquet' || format === 'arrow') {
    const table = openColumnar(file, format);
    for (let i = 0; i < Math.min(limit, table.numRows); i++) rows.push(table.row(i));
    return rows;
  }
  let header: string[] | undefined;
  for (const rec of scanRecords(file, format)) {
    if (format === 'csv' && !header) {
      header = parseCsvHeader(rec.bytes, file, rec.line);
      continue;
    }
    rows.push(parseRecord(rec.bytes, { file, format }, rec.line, header));
    if (rows.length >= limit) break;
  }
  return rows;
}

const LABEL_NAMES = /^(label|labels|target|class|category|sentiment|y)$/i;
const TEXT_NAMES = /^(text|sentence|content|review|document|input|question)$/i;

export function previewData(file: string, rows: RawRecord[]): DataPreview {
  const fields: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!fields.includes(k)) fields.push(k);
  const values = (f: string) => rows.map((r) => r[f]).filter((v) => v !== undefined && v !== null && v !== '');
  const meanLength = (f: string) => {
    const vs = values(f).filter((v): v is string => typeof v === 'string');
    return vs.length === 0 ? 0 : vs.reduce((a, v) => a + v.length, 0) / vs.length;
  };
  const scalar = (v: unknown): v is string | number => typeof v === 'string' || typeof v === 'number';
  const distinct = (f: string) => [...new Set(values(f).filter(scalar))];

  // Label: a conventional name first; else the scalar field with the fewest distinct values
  // (at most 20, and fewer than the rows, so a text or id column is not mistaken for one).
  const labelCandidates = fields.filter((f) => values(f).length > 0 && values(f).every(scalar));
  let labelField = labelCandidates.find((f) => LABEL_NAMES.test(f));
  if (!labelField) {
    const few = labelCandidates
      .map((f) => ({ f, n: distinct(f).length }))
      .filter(({ n }) => n >= 1 && n <= 20 && n < rows.length)
      .sort((a, b) => a.n - b.n || meanLength(a.f) - meanLength(b.f));
    labelField = few[0]?.f;
  }
  // Text: a conventional name first; else the string field with the longest values.
  const stringFields = fields.filter((f) => f !== labelField && meanLength(f) > 0);
  const textField = stringFields.find((f) => TEXT_NAMES.test(f))
    ?? [...stringFields].sort((a, b) => meanLength(b) - meanLength(a))[0];
  const labelValues = labelField ? distinct(labelField).sort(compareLabels) : [];
  return { file, rows, fields, textField, labelField, labelValues, pretokenized: fields.includes('input_ids') };
}

function compareLabels(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}

/**
 * `model.labels` and `model.num_labels` for classification from the label values seen: string
 * labels name the classes (sorted, so the id order is stable); integer labels 0..k-1 give k
 * classes without names.
 */
export function labelSettings(values: unknown[]): { num_labels: number; labels?: string[] } | undefined {
  const all = [...new Set(values.filter((v): v is string | number => typeof v === 'string' || typeof v === 'number'))].sort(compareLabels);
  if (all.length === 0) return undefined;
  if (all.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 0)) {
    return { num_labels: Math.max(2, Math.max(...(all as number[])) + 1) };
  }
  const names = all.map(String);
  return { num_labels: Math.max(2, names.length), labels: names.length >= 2 ? names : undefined };
}

/** One line per row for a preview ("text: "great film" · label: 1"), shortened. */
export function rowSummary(row: RawRecord, fields: string[], width = 100): string {
  const text = fields.filter((f) => f in row).map((f) => `${f}: ${JSON.stringify(row[f])}`).join(' · ');
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}
