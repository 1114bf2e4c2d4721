// Streaming record scanner for JSONL and CSV files. It reads the file in fixed-size chunks and
// yields each record's bytes with its byte range and 1-based starting line, so a dataset larger
// than memory can be indexed in one pass (only byte offsets are kept) and read back record by
// record later. CSV records may span lines inside quoted fields; the scanner tracks the quote
// state (RFC 4180: a doubled quote toggles twice, so it needs no special case).
import * as fs from 'fs';

/** Line-based formats are scanned here; `parquet` and `arrow` are read by columnar.ts. */
export type DataFormat = 'jsonl' | 'csv' | 'parquet' | 'arrow';

export interface ScannedRecord {
  /** Byte offset of the record's first byte. */
  start: number;
  /** Byte offset one past the record's last byte (line terminator excluded). */
  end: number;
  /** 1-based line number where the record starts. */
  line: number;
  bytes: Buffer;
}

const NL = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const CHUNK = 1 << 20;

function isBlank(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c !== 0x20 && c !== 0x09 && c !== CR && c !== NL) return false;
  }
  return true;
}

/** Yields the non-blank records of `file` in order. A UTF-8 BOM at the start is skipped. */
export function* scanRecords(file: string, format: 'jsonl' | 'csv'): Generator<ScannedRecord> {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(CHUNK);
    let fileOffset = 0; // offset of buf[0] in the file
    let recStart = 0; // file offset where the current record starts
    let recLine = 1;
    let line = 1;
    let inQuotes = false;
    let pending: Buffer[] = []; // parts of the current record from earlier chunks
    let first = true;

    const finish = (endOffset: number, tail: Buffer): ScannedRecord | undefined => {
      let bytes = pending.length ? Buffer.concat([...pending, tail]) : tail;
      pending = [];
      let end = endOffset;
      if (bytes.length && bytes[bytes.length - 1] === CR) { bytes = bytes.subarray(0, bytes.length - 1); end -= 1; }
      const rec = isBlank(bytes) ? undefined : { start: recStart, end, line: recLine, bytes: Buffer.from(bytes) };
      return rec;
    };

    for (;;) {
      const got = fs.readSync(fd, buf, 0, CHUNK, fileOffset);
      if (got === 0) break;
      let chunk = buf.subarray(0, got);
      let base = fileOffset;
      if (first) {
        first = false;
        if (got >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) {
          chunk = chunk.subarray(3);
          base += 3;
          recStart = 3;
        }
      }
      let segStart = 0; // start of the current record's part in this chunk
      if (format === 'jsonl') {
        let i = chunk.indexOf(NL, 0);
        while (i !== -1) {
          const rec = finish(base + i, chunk.subarray(segStart, i));
          if (rec) yield rec;
          line++;
          segStart = i + 1;
          recStart = base + segStart;
          recLine = line;
          i = chunk.indexOf(NL, segStart);
        }
      } else {
        for (let i = 0; i < chunk.length; i++) {
          const c = chunk[i];
          if (c === QUOTE) inQuotes = !inQuotes;
          else if (c === NL) {
            line++;
            if (!inQuotes) {
              const rec = finish(base + i, chunk.subarray(segStart, i));
              if (rec) yield rec;
              segStart = i + 1;
              recStart = base + segStart;
              recLine = line;
            }
          }
        }
      }
      if (segStart < chunk.length) pending.push(Buffer.from(chunk.subarray(segStart)));
      fileOffset += got;
    }
    const last = finish(fileOffset, Buffer.alloc(0));
    if (last) yield last;
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads bytes [start, end) of an open file. */
export function readRange(fd: number, start: number, end: number): Buffer {
  const b = Buffer.alloc(end - start);
  let off = 0;
  while (off < b.length) {
    const got = fs.readSync(fd, b, off, b.length - off, start + off);
    if (got === 0) throw new Error(`unexpected end of file reading bytes ${start}-${end} (was the file changed during training?)`);
    off += got;
  }
  return b;
}

export function formatFromPath(file: string): DataFormat | undefined {
  const lower = file.toLowerCase();
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson') || lower.endsWith('.json')) return 'jsonl';
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.parquet')) return 'parquet';
  if (lower.endsWith('.arrow')) return 'arrow';
  return undefined;
}
