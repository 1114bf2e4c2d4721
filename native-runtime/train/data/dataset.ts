// A dataset file indexed in one streaming pass: for each record its byte range and line are
// kept (16 bytes per record), never the records themselves, so files larger than memory work.
// Records are read back by offset when a batch needs them. Parquet and Arrow data (columnar.ts)
// keep their columnar table and build a row object when a batch needs it. Shuffling is an exact, seeded
// permutation of these record indices (see plan.ts), not a shuffle buffer: every epoch sees
// every record once, in an order that depends only on (seed, epoch).
import * as fs from 'fs';
import { DataError } from './errors';
import { LabelScheme, LabelStats } from './labels';
import { checkRecord, Example, parseCsvHeader, parseRecord, RawRecord, RecordSpec, toExample } from './record';
import { isUtf8 } from 'buffer';
import { readRange, scanRecords } from './scan';
import { ColumnarTable, openColumnar } from './columnar';

class GrowableOffsets {
  starts = new Float64Array(1024);
  lengths = new Uint32Array(1024);
  lines = new Uint32Array(1024);
  count = 0;
  push(start: number, length: number, line: number): void {
    if (this.count === this.starts.length) {
      const grow = <T extends Float64Array | Uint32Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.starts = grow(this.starts);
      this.lengths = grow(this.lengths);
      this.lines = grow(this.lines);
    }
    this.starts[this.count] = start;
    this.lengths[this.count] = length;
    this.lines[this.count] = line;
    this.count++;
  }
}

export class Dataset {
  private fd: number | undefined;

  private constructor(
    readonly spec: RecordSpec,
    private readonly offsets: GrowableOffsets,
    readonly header: string[] | undefined,
    readonly labelStats: LabelStats,
    private readonly table?: ColumnarTable,
  ) {}

  /** `ClassLabel` names of a field (Parquet/Arrow data written by Hugging Face `datasets`). */
  classLabels(field: string): string[] | undefined {
    return this.table?.classLabels.get(field);
  }

  /**
   * Scans and validates every record of `spec.file`. Throws a DataError naming the file and
   * line of the first malformed record.
   */
  static index(spec: RecordSpec): Dataset {
    if (!fs.existsSync(spec.file)) throw new DataError(spec.file, undefined, undefined, 'file not found');
    if (spec.format === 'parquet' || spec.format === 'arrow') return Dataset.indexColumnar(spec);
    const offsets = new GrowableOffsets();
    const stats = new LabelStats(spec.file);
    let header: string[] | undefined;
    for (const rec of scanRecords(spec.file, spec.format)) {
      // Policy: reject, naming FILE:LINE. Replacing bad bytes with U+FFFD would train on text
      // the user never wrote (and tokenizers map it to [UNK]); a wrong encoding is worth fixing.
      if (!isUtf8(rec.bytes)) throw new DataError(spec.file, rec.line, undefined, `not valid UTF-8 (first bad byte at column ${firstBadUtf8(rec.bytes) + 1}); data files must be UTF-8: re-save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)`);
      if (spec.format === 'csv' && !header) {
        header = parseCsvHeader(rec.bytes, spec.file, rec.line);
        continue;
      }
      const raw = parseRecord(rec.bytes, spec, rec.line, header);
      checkRecord(spec, raw, rec.line, stats);
      offsets.push(rec.start, rec.end - rec.start, rec.line);
    }
    if (offsets.count === 0) throw new DataError(spec.file, undefined, undefined, `no records found; expected ${spec.format === 'csv' ? 'a header row and data rows' : 'one JSON object per line'}`);
    return new Dataset(spec, offsets, header, stats);
  }

  /** Validates every row of a columnar table; a row's "line" is its 0-based row index. */
  private static indexColumnar(spec: RecordSpec): Dataset {
    const table = openColumnar(spec.file, spec.format as 'parquet' | 'arrow');
    const offsets = new GrowableOffsets();
    const stats = new LabelStats(spec.file);
    for (let i = 0; i < table.numRows; i++) {
      checkRecord(spec, table.row(i), i, stats);
      offsets.push(i, 0, i);
    }
    if (offsets.count === 0) throw new DataError(spec.file, undefined, undefined, `no rows found (columns: ${table.columns.join(', ') || 'none'})`);
    return new Dataset(spec, offsets, undefined, stats, table);
  }

  get size(): number {
    return this.offsets.count;
  }

  get file(): string {
    return this.spec.file;
  }

  lineOf(i: number): number {
    return this.offsets.lines[i];
  }

  record(i: number): RawRecord {
    if (i < 0 || i >= this.size) throw new RangeError(`record ${i} out of range (dataset has ${this.size})`);
    if (this.table) return this.table.row(this.offsets.starts[i]);
    this.fd ??= fs.openSync(this.spec.file, 'r');
    const start = this.offsets.starts[i];
    const bytes = readRange(this.fd, start, start + this.offsets.lengths[i]);
    return parseRecord(bytes, this.spec, this.offsets.lines[i], this.header);
  }

  example(i: number, scheme: LabelScheme): Example {
    return toExample(this.spec, this.record(i), this.offsets.lines[i], scheme);
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Byte index of the first byte that does not start a valid UTF-8 sequence (for the error message). */
function firstBadUtf8(b: Buffer): number {
  let lo = 0;
  let hi = b.length;
  // The shortest invalid prefix, by bisection on isUtf8 (a prefix may end mid-character: allow 3 bytes).
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (isUtf8(b.subarray(0, mid)) || isUtf8(b.subarray(0, Math.min(b.length, mid + 1))) || isUtf8(b.subarray(0, Math.min(b.length, mid + 2))) || isUtf8(b.subarray(0, Math.min(b.length, mid + 3)))) lo = mid;
    else hi = mid;
  }
  return lo;
}
