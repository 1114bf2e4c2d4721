// Schema validation of a parsed config with ajv, and the translation of ajv's errors into one
// clear diagnostic each: the field path, what was expected (read from the schema itself, so the
// message never drifts from it) and what was found. ajv with allErrors reports several raw errors
// for one mistake (each branch of an anyOf, the `if` of the adapter's method switch); they are
// folded here into the single message a user needs.
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { closest, distance } from 'fastest-levenshtein';
import lilySchema from '../../schemas/lily.schema.json';
import type { ConfigDiagnostic } from '../protocol';

type Schema = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Path = Array<string | number>;

const ROOT: Schema = lilySchema as Schema;
let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: true });
    // VS Code's hover-doc keyword; ajv would reject it as unknown in strict mode.
    ajv.addKeyword('markdownDescription');
    compiled = ajv.compile(ROOT);
  }
  return compiled;
}

/** `["training", "betas", 1]` -> `training.betas[1]`. */
export function formatPath(path: Path): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${p}` : p;
  }
  return out;
}

/** A diagnostic whose message starts with its field path (as users read it in the Problems list). */
export function diagnostic(path: Path, text: string, extra: Partial<ConfigDiagnostic> = {}): ConfigDiagnostic {
  const where = formatPath(path);
  return { path, message: where ? `${where}: ${text}` : text, severity: 'error', ...extra };
}

/** A value as the user wrote it, shortened. */
export function show(value: unknown): string {
  const text = value === undefined ? 'nothing' : JSON.stringify(value);
  return text.length > 60 ? text.slice(0, 57) + '...' : text;
}

/** Schema errors of a parsed config, one diagnostic per mistake. */
export function schemaDiagnostics(config: unknown): ConfigDiagnostic[] {
  const validate = validator();
  if (validate(config)) return [];
  const errors = validate.errors ?? [];
  // anyOf errors stand for all errors inside their branches: "expected a string or an array".
  const anyOfPaths = errors.filter((e) => e.keyword === 'anyOf').map((e) => e.schemaPath + '/');
  const kept = errors.filter((e) =>
    e.keyword !== 'if' && !anyOfPaths.some((p) => e.schemaPath.startsWith(p)));

  const out: ConfigDiagnostic[] = [];
  const seen = new Set<string>();
  for (const e of kept) {
    const d = toDiagnostic(e, config);
    // Type errors can repeat for one value (e.g. the adapter's own check and its method's branch).
    if (d && !seen.has(d.message)) { seen.add(d.message); out.push(d); }
  }
  return out;
}

function toDiagnostic(e: ErrorObject, config: unknown): ConfigDiagnostic | undefined {
  const path = pointerToPath(e.instancePath, config);
  const parent = e.parentSchema as Schema | undefined;
  switch (e.keyword) {
    case 'required': {
      const field = (e.params as { missingProperty: string }).missingProperty;
      const fieldSchema = parent ? deref(parent.properties?.[field]) : undefined;
      const hint = fieldSchema?.enum ? ` (one of ${fieldSchema.enum.map(show).join(', ')})` : '';
      return diagnostic([...path, field], `required field is missing${hint}`);
    }
    case 'additionalProperties':
      return unknownField(path, (e.params as { additionalProperty: string }).additionalProperty, parent, config);
    case 'enum':
    case 'const': {
      const allowed: unknown[] = e.keyword === 'enum' ? (e.params as { allowedValues: unknown[] }).allowedValues
        : [(e.params as { allowedValue: unknown }).allowedValue];
      const found = e.data;
      const extra: Partial<ConfigDiagnostic> = {};
      let text = `expected ${allowed.length === 1 ? show(allowed[0]) : 'one of ' + allowed.map(show).join(', ')}, found ${show(found)}`;
      if (typeof found === 'string') {
        const near = nearest(found, allowed.filter((a): a is string => typeof a === 'string'));
        if (near) { text += `; did you mean ${show(near)}?`; extra.suggestion = near; }
      }
      return diagnostic(path, text, extra);
    }
    case 'type':
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
    case 'multipleOf':
    case 'minItems':
    case 'maxItems':
    case 'anyOf':
      return diagnostic(path, `expected ${parent ? describe(parent) : 'another value'}, found ${show(e.data)}`);
    default:
      return diagnostic(path, e.message ?? `invalid value ${show(e.data)}`);
  }
}

// --- unknown fields --------------------------------------------------------------------------

function unknownField(path: Path, key: string, parent: Schema | undefined, config: unknown): ConfigDiagnostic {
  const known = Object.keys(parent?.properties ?? {});
  const near = nearest(key, known);
  // A field of the other adapter method (e.g. `lora_alpha` with method "lily") is a common slip;
  // say so instead of offering an unrelated near name.
  const otherMethod = path.length === 1 && path[0] === 'adapter' ? adapterMethodOwning(key, config) : undefined;
  if (otherMethod && !known.includes(key)) {
    return diagnostic([...path, key], `unknown field for method ${show(methodOf(config))}; it belongs to method ${show(otherMethod)}`);
  }
  if (near) return diagnostic([...path, key], `unknown field; did you mean ${show(near)}?`, { suggestion: near });
  return diagnostic([...path, key], `unknown field; expected one of ${known.map((k) => show(k)).join(', ')}`);
}

function methodOf(config: unknown): unknown {
  return (config as { adapter?: { method?: unknown } })?.adapter?.method;
}

function adapterMethodOwning(key: string, config: unknown): string | undefined {
  const adapter = deref({ $ref: '#/definitions/AdapterSection' });
  for (const branch of (adapter?.allOf ?? []) as Schema[]) {
    const method = branch.if?.properties?.method?.const;
    const props = deref(branch.then)?.properties ?? {};
    if (method !== methodOf(config) && key in props) return method;
  }
  return undefined;
}

/** The closest candidate when it is close enough to be a plausible typo (case is ignored). */
export function nearest(word: string, candidates: string[]): string | undefined {
  if (candidates.length === 0) return undefined;
  const lower = candidates.map((c) => c.toLowerCase());
  const best = closest(word.toLowerCase(), lower);
  const limit = Math.max(1, Math.floor(word.length / 3));
  return distance(word.toLowerCase(), best) <= limit ? candidates[lower.indexOf(best)] : undefined;
}

// --- describing a schema in words --------------------------------------------------------------

function deref(s: Schema | undefined): Schema | undefined {
  let cur = s;
  for (let guard = 0; cur && typeof cur.$ref === 'string' && guard < 10; guard++) {
    const name = cur.$ref.replace('#/definitions/', '');
    cur = ROOT.definitions?.[name];
  }
  return cur;
}

/** "an integer >= 2", "one of \"a\", \"b\"", "an array of 2 numbers", "a string or an array of strings". */
export function describe(schema: Schema): string {
  const s = deref(schema) ?? {};
  if (Array.isArray(s.anyOf)) return s.anyOf.map((b: Schema) => describe(b)).join(' or ');
  if (Array.isArray(s.enum)) return s.enum.length === 1 ? show(s.enum[0]) : 'one of ' + s.enum.map(show).join(', ');
  if (s.const !== undefined) return show(s.const);
  const type = Array.isArray(s.type) ? s.type.join(' or ') : s.type;
  switch (type) {
    case 'integer': return 'an integer' + bounds(s);
    case 'number': return 'a number' + bounds(s);
    case 'string': return 'a string';
    case 'boolean': return 'true or false';
    case 'object': return 'an object';
    case 'array': {
      const items = s.items ? plural(s.items as Schema) : 'values';
      if (s.minItems !== undefined && s.minItems === s.maxItems) return `an array of ${s.minItems} ${items}`;
      const count = s.minItems ? ` (at least ${s.minItems})` : '';
      return `an array of ${items}${count}`;
    }
    default: return type ? `a value of type ${type}` : 'a valid value';
  }
}

function bounds(s: Schema): string {
  const parts: string[] = [];
  if (s.minimum !== undefined) parts.push(`>= ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined) parts.push(`<= ${s.maximum}`);
  if (s.exclusiveMaximum !== undefined) parts.push(`< ${s.exclusiveMaximum}`);
  return parts.length ? ' ' + parts.join(' and ') : '';
}

function plural(items: Schema): string {
  const one = describe(items);
  const m = /^an? (string|number|integer|object)(.*)$/.exec(one);
  return m ? `${m[1]}s${m[2]}` : `items that are ${one}`;
}

// --- JSON pointers -----------------------------------------------------------------------------

function pointerToPath(pointer: string, data: unknown): Path {
  if (!pointer) return [];
  const out: Path = [];
  let cur: unknown = data;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur) && /^\d+$/.test(seg)) {
      out.push(Number(seg));
      cur = cur[Number(seg)];
    } else {
      out.push(seg);
      cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}
