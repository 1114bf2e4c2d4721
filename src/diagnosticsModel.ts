// Maps the backend's config diagnostics (field paths) to editor ranges (0-based line and
// character), so VS Code underlines the offending field. No vscode import: tested in Node.
import { findNearestFieldRange, jsonSyntaxErrors, type TextRange } from '../native-runtime/config/jsonLocation';
import type { ConfigDiagnostic } from '../native-runtime/protocol';

export interface Position { line: number; character: number }
export interface EditorDiagnostic {
  range: { start: Position; end: Position };
  message: string;
  severity: 'error' | 'warning';
  /** The replacement a quick fix can offer (a misspelled key or value). */
  suggestion?: string;
  /** Whether the range covers the property's key (unknown fields) rather than its value. */
  onKey: boolean;
  /** VS Code's JSON validation reports it from the same schema: shown once, as VS Code's. */
  fromSchema?: boolean;
}

/**
 * What the Problems panel gets from Lily: everything but schema violations, which VS Code's
 * JSON validation already reports as you type (two entries per problem before). Schema
 * violations with a suggestion stay available as quick fixes on VS Code's diagnostic.
 */
export function splitForEditor(diags: EditorDiagnostic[]): { shown: EditorDiagnostic[]; fixesOnly: EditorDiagnostic[] } {
  return {
    shown: diags.filter((d) => !d.fromSchema),
    fixesOnly: diags.filter((d) => d.fromSchema && d.suggestion !== undefined),
  };
}

/** Whether two ranges share a position (a fix applies to a diagnostic it overlaps). */
export function overlaps(a: EditorDiagnostic['range'], b: EditorDiagnostic['range']): boolean {
  const before = (p: Position, q: Position) => p.line < q.line || (p.line === q.line && p.character < q.character);
  return !before(a.end, b.start) && !before(b.end, a.start);
}

/** Offset -> 0-based position, over precomputed line starts (one pass per document). */
export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }
  position(offset: number): Position {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: offset - this.starts[lo] };
  }
  range(r: TextRange): { start: Position; end: Position } {
    return { start: this.position(r.offset), end: this.position(r.offset + Math.max(r.length, 0)) };
  }
}

/** An unknown field is wrong by its name: underline the key, not the value. */
function isAboutKey(d: ConfigDiagnostic): boolean {
  return /(^|: )unknown field/i.test(d.message);
}

export function toEditorDiagnostics(text: string, diagnostics: ConfigDiagnostic[]): EditorDiagnostic[] {
  const index = new LineIndex(text);
  const out: EditorDiagnostic[] = [];
  // Syntax errors carry exact offsets here; the backend can only report them without a field
  // path, so its path-less diagnostics are dropped in favour of these.
  // Like the backend, only the first: later syntax errors are usually echoes of it.
  const syntax = jsonSyntaxErrors(text);
  if (syntax.length > 0) {
    const e = syntax[0];
    const more = syntax.length > 1 ? ` (${syntax.length - 1} more after it)` : '';
    out.push({ range: index.range({ offset: e.offset, length: Math.max(e.length, 1) }), message: `JSON syntax error: ${e.message}${more}`, severity: 'error', onKey: false });
  }
  for (const d of diagnostics) {
    if (syntax.length > 0 && d.path.length === 0) continue;
    const onKey = isAboutKey(d);
    const r = d.path.length === 0 ? { offset: 0, length: Math.min(1, text.length) } : findNearestFieldRange(text, d.path, onKey ? 'key' : 'value');
    out.push({
      range: index.range(r),
      // Backend messages already start with the field path, as the Problems list shows them.
      message: d.message,
      severity: d.severity,
      ...(d.suggestion !== undefined ? { suggestion: d.suggestion } : {}),
      ...(d.fromSchema ? { fromSchema: true } : {}),
      onKey,
    });
  }
  return out;
}
