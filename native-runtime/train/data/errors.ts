// Errors in user data. They carry the file and the 1-based line so the CLI can print
// `FILE:LINE: field "label": ...` and exit with code 2 (invalid input).

export class DataError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly field: string | undefined,
    readonly detail: string,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${field !== undefined ? `field "${field}": ` : ''}${detail}`);
    this.name = 'DataError';
  }
}
