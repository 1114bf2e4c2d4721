// Errors in user data. They carry the file and the 1-based line so the CLI can print
// `FILE:LINE: field "label": ...` and exit with code 2 (invalid input). Columnar files
// (Parquet, Arrow) have no lines: their records are rows, numbered from 0 as `dataset[i]` in
// Python numbers them, and the message says `FILE: row N: ...`.

/** Files whose record numbers are 0-based rows rather than 1-based lines. */
const rowAddressed = new Set<string>();

export function markRowAddressed(file: string): void {
  rowAddressed.add(file);
}

export function isRowAddressed(file: string): boolean {
  return rowAddressed.has(file);
}

export class DataError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly field: string | undefined,
    readonly detail: string,
  ) {
    const where = line === undefined ? file : isRowAddressed(file) ? `${file}: row ${line}` : `${file}:${line}`;
    super(`${where}: ${field !== undefined ? `field "${field}": ` : ''}${detail}`);
    this.name = 'DataError';
  }
}
