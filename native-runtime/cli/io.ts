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
    stdout: (t) => { process.stdout.write(t); },
    stderr: (t) => { process.stderr.write(t); },
    stderrIsTTY: !!process.stderr.isTTY,
    columns: process.stderr.columns || 100,
  };
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
