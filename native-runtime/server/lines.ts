// Splits a text stream into lines (the `lily ... --json` CLIs print one JSON object per line).
import type { Readable } from 'stream';

export function onLines(stream: Readable, onLine: (line: string) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).replace(/\r$/, '');
      pending = pending.slice(nl + 1);
      if (line.trim()) onLine(line);
    }
  });
  stream.on('end', () => {
    if (pending.trim()) onLine(pending);
    pending = '';
  });
}

/** Keeps the last `max` lines of a stream, for error messages ("the process said ..."). */
export class LineTail {
  private lines: string[] = [];
  constructor(private readonly max = 30) {}
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
  }
  text(): string {
    return this.lines.join('\n');
  }
  list(): string[] {
    return [...this.lines];
  }
}
