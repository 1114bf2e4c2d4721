// Where a command writes. stdout carries results (and, with --json, one JSON object per line:
// the protocol the server relays); human logs and progress go to stderr. Tests pass their own
// writers to capture both.
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether stderr is a terminal (progress redraws in place only then). */
  stderrIsTTY: boolean;
  /** Terminal width for the progress bar. */
  columns: number;
}

export function processIO(): CliIO {
  return {
    stdout: writerSurvivingClosedPipe(process.stdout),
    stderr: writerSurvivingClosedPipe(process.stderr),
    stderrIsTTY: !!process.stderr.isTTY,
    columns: process.stderr.columns || 100,
  };
}

const writers = new Map<NodeJS.WriteStream, (text: string) => void>();

/**
 * A reader that goes away must not end the command: `lily train --json` prints its events to
 * the backend server, which exits on a window reload while the run goes on (the run directory
 * is the truth), and `lily ... | head` closes early. Node reports a write to a closed pipe
 * (EPIPE) as an 'error' event on the stream, fatal without a listener: swallow that one and
 * stop writing to the stream; any other error stays fatal.
 */
function writerSurvivingClosedPipe(stream: NodeJS.WriteStream): (text: string) => void {
  const existing = writers.get(stream);
  if (existing) return existing;
  let closed = false;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
    closed = true;
  });
  const write = (text: string) => { if (!closed && !stream.destroyed) stream.write(text); };
  writers.set(stream, write);
  return write;
}

export class Output {
  constructor(readonly io: CliIO, readonly json: boolean) {}

  /** A result line for people (suppressed with --json, where stdout is machine-readable). */
  print(text: string): void {
    if (!this.json) this.io.stdout(text.endsWith('\n') ? text : text + '\n');
  }

  /** One JSON value on its own stdout line. */
  emit(value: unknown): void {
    this.io.stdout(JSON.stringify(value) + '\n');
  }

  log(text: string): void {
    this.io.stderr(text.endsWith('\n') ? text : text + '\n');
  }
}
