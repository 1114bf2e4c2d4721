// Locating things in the config's text: JSON syntax errors as line/column, and the text range of
// a diagnostic's field path (the extension turns it into a VS Code range). Uses Microsoft's
// jsonc-parser, the parser VS Code's own JSON support is built on, so offsets agree with the editor.
import * as jsonc from 'jsonc-parser';

export interface TextRange {
  offset: number;
  length: number;
}

export interface JsonSyntaxError {
  offset: number;
  length: number;
  /** 1-based, as editors show them. */
  line: number;
  column: number;
  message: string;
}

// Words for jsonc-parser's error codes (its own names are CamelCase identifiers).
const SYNTAX_WORDS: Record<string, string> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'invalid number',
  PropertyNameExpected: 'expected a property name in double quotes',
  ValueExpected: 'expected a value',
  ColonExpected: 'expected ":"',
  CommaExpected: 'expected ","',
  CloseBraceExpected: 'expected "}"',
  CloseBracketExpected: 'expected "]"',
  EndOfFileExpected: 'expected the end of the file (only one top-level value is allowed)',
  InvalidCommentToken: 'comments are not allowed in JSON',
  UnexpectedEndOfComment: 'unterminated comment',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'unterminated number',
  InvalidUnicode: 'invalid unicode escape',
  InvalidEscapeCharacter: 'invalid escape character',
  InvalidCharacter: 'invalid character in string (control characters must be escaped)',
};

/** 1-based line and column of an offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) { line++; lineStart = i + 1; }
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * Strict JSON syntax errors (no comments, no trailing commas: the backend reads the file with
 * JSON.parse). Empty when the text parses.
 */
export function jsonSyntaxErrors(text: string): JsonSyntaxError[] {
  const errors: jsonc.ParseError[] = [];
  jsonc.parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  return errors.map((e) => {
    const comma = trailingCommaBefore(text, e.offset);
    if (comma !== undefined) {
      return { offset: comma, length: 1, ...lineColumn(text, comma), message: 'trailing comma (JSON allows none before "}" or "]"); remove it' };
    }
    const code = jsonc.printParseErrorCode(e.error);
    let message = SYNTAX_WORDS[code] ?? code;
    if (code === 'InvalidSymbol') {
      const token = text.slice(e.offset, e.offset + Math.max(1, e.length));
      message = /^[A-Za-z_$]/.test(token)
        ? `unexpected ${token}; property names and strings need double quotes`
        : `unexpected character ${JSON.stringify(token.slice(0, 20))}`;
    }
    return { offset: e.offset, length: e.length, ...lineColumn(text, e.offset), message };
  });
}

/** The offset of a comma directly (but for whitespace) before a closing bracket at `offset`. */
function trailingCommaBefore(text: string, offset: number): number | undefined {
  if (text[offset] !== '}' && text[offset] !== ']') return undefined;
  let i = offset - 1;
  while (i >= 0 && /\s/.test(text[i])) i--;
  return text[i] === ',' ? i : undefined;
}

/**
 * The text range of the JSON node at `path` (e.g. `["adapter", "num_B"]`), or undefined when
 * there is no such node. `part: 'key'` gives the property's key instead of its value (for
 * "unknown field" diagnostics, where the key is what is wrong). Works on text with syntax errors
 * as far as the parser could recover.
 */
export function findFieldRange(text: string, path: Array<string | number>, part: 'value' | 'key' = 'value'): TextRange | undefined {
  const root = jsonc.parseTree(text, [], { disallowComments: false, allowTrailingComma: true });
  if (!root) return undefined;
  const node = jsonc.findNodeAtLocation(root, path);
  if (!node) return undefined;
  if (part === 'key' && node.parent?.type === 'property' && node.parent.children?.[0]) {
    const key = node.parent.children[0];
    return { offset: key.offset, length: key.length };
  }
  return { offset: node.offset, length: node.length };
}

/**
 * The best range to show a diagnostic at: the node itself, else (a missing field) the key of the
 * nearest enclosing field that exists, else the first character of the file.
 */
export function findNearestFieldRange(text: string, path: Array<string | number>, part: 'value' | 'key' = 'value'): TextRange {
  const exact = findFieldRange(text, path, part);
  if (exact) return exact;
  for (let n = path.length - 1; n > 0; n--) {
    const up = findFieldRange(text, path.slice(0, n), 'key');
    if (up) return up;
  }
  return { offset: 0, length: Math.min(1, text.length) };
}
