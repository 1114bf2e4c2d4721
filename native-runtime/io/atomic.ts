// Crash-safe file writes for the run directory, which other processes (the extension, the
// dashboard, `lily` commands) read while training writes it.
//  - Whole files (status.json, spectra, safetensors) are written to a temp file in the same folder,
//    fsynced, then renamed over the target: a reader sees the old or the new file, never a mix.
//  - Logs (metrics.jsonl, router.jsonl) are appended a line at a time and fsynced. A crash can
//    still leave a torn last line, so readers skip an incomplete final line.
import * as fs from 'fs';
import * as path from 'path';

let tempCounter = 0;

/** A temp name beside `file`, unique per process and call (so concurrent writers never collide). */
export function tempPathFor(file: string): string {
  tempCounter = (tempCounter + 1) % 1e9;
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${tempCounter}.tmp`);
}

/** fsync a folder so a rename inside it survives a power loss (not supported on Windows: skipped). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Windows cannot open or fsync folders; the rename is still atomic there.
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EACCES') throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Puts the file being written into a failed write's message: Node says only `ENOSPC: no space
 * left on device, write`, and a user with a full disk needs to know which file (and so which
 * disk). The error keeps its `code`.
 */
export function nameFileInError(file: string, e: unknown): unknown {
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.message === 'string' && err.code && !err.message.includes(file)) {
    err.message = `cannot write ${file}: ${err.message}${err.code === 'ENOSPC' || err.code === 'EDQUOT' ? ' (free some space on that disk, then resume the run)' : ''}`;
  }
  return e;
}

/** Writes `data` to `file` atomically: temp file in the same folder, write, fsync, rename, fsync folder. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  try {
    writeFileAtomicUnnamed(file, data);
  } catch (e) {
    throw nameFileInError(file, e);
  }
}

function writeFileAtomicUnnamed(file: string, data: string | Uint8Array): void {
  const tmp = tempPathFor(file);
  const fd = fs.openSync(tmp, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let written = 0;
    // writeSync takes at most 2 GB per call (a 7B model's int4 weight cache is 4.25 GB).
    while (written < bytes.length) written += fs.writeSync(fd, bytes, written, Math.min(bytes.length - written, 1 << 30));
    fs.fsyncSync(fd);
  } catch (e) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(path.dirname(file));
}

/** Writes pretty-printed JSON (with a final newline) atomically. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/**
 * Appends one JSON line and fsyncs it. When the file ends in a torn line (a crash mid-append), a
 * newline is written first, so the new record starts on its own line instead of gluing onto the
 * fragment (the reader then skips just the fragment).
 */
export function appendLine(file: string, obj: unknown): void {
  const line = JSON.stringify(obj);
  if (line === undefined || line.includes('\n')) throw new Error(`appendLine(${file}): expected a JSON-serialisable value`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'a+');
    const size = fs.fstatSync(fd).size;
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      fs.readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = '\n';
    }
    fs.writeSync(fd, prefix + line + '\n');
    fs.fsyncSync(fd);
  } catch (e) {
    throw nameFileInError(file, e);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export interface JsonlReadOptions {
  /** Called for each skipped line that is not the torn final one (a corrupt record mid-file). */
  onBadLine?: (lineNumber: number, text: string) => void;
}

/**
 * Reads a JSON-lines file. A missing file reads as empty; an incomplete or unparsable final line
 * (a write in progress, or a crash mid-append) is skipped; unparsable lines before it are skipped
 * and reported through `onBadLine`.
 */
export function readJsonl<T = unknown>(file: string, options: JsonlReadOptions = {}): T[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return parseJsonlText<T>(text, options).records;
}

/**
 * Reads the complete lines appended since byte `offset` (for tailing a growing log).
 * Returns the records and the offset to continue from: the end of the last complete line, so a
 * line still being written is read whole next time.
 */
export function readJsonlFrom<T = unknown>(file: string, offset: number, options: JsonlReadOptions = {}): { records: T[]; nextOffset: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], nextOffset: offset };
    throw e;
  }
  try {
    const size = fs.fstatSync(fd).size;
    // A file shorter than the offset was replaced: start over.
    const start = size < offset ? 0 : offset;
    const buf = Buffer.alloc(size - start);
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    const end = buf.lastIndexOf(0x0a, got - 1);
    if (end < 0) return { records: [], nextOffset: start };
    const { records } = parseJsonlText<T>(buf.subarray(0, end + 1).toString('utf8'), options);
    return { records, nextOffset: start + end + 1 };
  } finally {
    fs.closeSync(fd);
  }
}

function parseJsonlText<T>(text: string, options: JsonlReadOptions): { records: T[] } {
  const lines = text.split('\n');
  const records: T[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const isLast = i === lines.length - 1; // no newline after it: possibly torn
    try {
      records.push(JSON.parse(line) as T);
    } catch {
      if (!isLast) options.onBadLine?.(i + 1, line);
    }
  });
  return { records };
}

/** Reads a JSON file, or returns undefined when it is missing or unreadable (torn, empty). */
export function readJsonIfValid<T = unknown>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
