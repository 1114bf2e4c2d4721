// Parameter types of each request, checked before a handler runs, so a wrong type is answered
// with JSON-RPC's -32602 Invalid params naming the field, instead of an internal text from deep
// inside (`text.charCodeAt is not a function` for a number where a config text belongs).
// Fields not listed here pass through (a newer client may send more); methods not listed are
// not checked.
import { Methods } from '../protocol';

type FieldType = 'string' | 'number' | 'boolean';
/** `field` required, `field?` optional. */
type Spec = Record<string, FieldType>;

const SPECS: Record<string, Spec> = {
  [Methods.initialize]: { 'clientName?': 'string', 'protocolVersion?': 'number' },
  [Methods.listTargets]: { modelPath: 'string' },
  [Methods.validateConfig]: { configPath: 'string', 'text?': 'string' },
  [Methods.budget]: { configPath: 'string', 'text?': 'string' },
  [Methods.memory]: { configPath: 'string' },
  [Methods.train]: { configPath: 'string', 'maxSteps?': 'number', 'runDir?': 'string', 'resume?': 'string', 'compareWithLora?': 'boolean', 'device?': 'string', 'threads?': 'number', 'backend?': 'string', 'python?': 'string', 'processes?': 'number', 'launch?': 'string' },
  [Methods.stop]: { runDir: 'string' },
  [Methods.inspect]: { path: 'string', 'reference?': 'string' },
  [Methods.export]: { runDir: 'string', format: 'string', 'out?': 'string' },
};

const describe = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

/** Why `params` do not fit `method`, or undefined when they do (or the method has no spec). */
export function paramsProblem(method: string, params: unknown): string | undefined {
  const spec = SPECS[method];
  if (!spec) return undefined;
  if (params === undefined) params = {};
  if (params === null || typeof params !== 'object' || Array.isArray(params)) return `${method}: params must be an object with named fields, got ${describe(params)}`;
  const p = params as Record<string, unknown>;
  for (const [key, type] of Object.entries(spec)) {
    const optional = key.endsWith('?');
    const name = optional ? key.slice(0, -1) : key;
    const v = p[name];
    if (v === undefined) {
      if (!optional) return `${method}: params.${name} is required (${type})`;
      continue;
    }
    if (typeof v !== type || (type === 'number' && !Number.isFinite(v))) return `${method}: params.${name} must be a ${type}, got ${describe(v)}`;
  }
  return undefined;
}
