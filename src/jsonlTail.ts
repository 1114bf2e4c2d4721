// Reads only what was appended to a .jsonl file since the last read (metrics.jsonl and
// router.jsonl grow by a line per logged step; re-reading them whole on every step would make
// a long run's dashboard slower and slower). A partial last line (a write in progress) is left
// for the next read: the offset only ever advances past a newline, so no UTF-8 is split.
import * as fs from 'fs';

export class JsonlTail<T> {
  private offset = 0;

  constructor(readonly file: string) {}

  /** Marks the first `lineCount` lines as read (they were sent in a snapshot). */
  skipLines(lineCount: number): void {
    this.offset = 0;
    let left = lineCount;
    while (left > 0) {
      const got = this.readNew(undefined, left).length;
      if (got === 0) break;
      left -= got;
    }
  }

  /** Every complete line from the start (a fresh snapshot); later reads continue after them. */
  readNewFromStart(onBad?: (line: string, err: Error) => void): T[] {
    this.offset = 0;
    return this.readNew(onBad);
  }

  /** New complete lines since the last call (at most `max`); malformed ones go to onBad. */
  readNew(onBad?: (line: string, err: Error) => void, max = Infinity): T[] {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return [];
    }
    try {
      const size = fs.fstatSync(fd).size;
      // Truncated or replaced (a run restarted into the same folder): start over.
      if (size < this.offset) this.offset = 0;
      if (size === this.offset) return [];
      const buf = Buffer.alloc(size - this.offset);
      const got = fs.readSync(fd, buf, 0, buf.length, this.offset);
      const out: T[] = [];
      let start = 0;
      for (let nl = buf.indexOf(10, 0); nl >= 0 && nl < got && out.length < max; nl = buf.indexOf(10, start)) {
        const line = buf.subarray(start, nl).toString('utf8');
        start = nl + 1;
        if (!line.trim()) continue;
        try {
          out.push(JSON.parse(line) as T);
        } catch (e) {
          onBad?.(line, e as Error);
        }
      }
      this.offset += start;
      return out;
    } finally {
      fs.closeSync(fd);
    }
  }
}
