// The grid of a sweep: `training.lr=1e-3,3e-3 adapter.scaling=1,2` -> every combination, each
// applied to the config's JSON as an override. Values are read as JSON where they parse
// (numbers, true/false, null) and as strings otherwise. Pure: tested without training.
import { InputError } from '../errors';

export interface GridAxis {
  /** Field path, e.g. ["training", "lr"]. */
  path: string[];
  values: unknown[];
}

export type Override = Array<{ path: string[]; value: unknown }>;

export function parseGrid(specs: string[]): GridAxis[] {
  if (specs.length === 0) throw new InputError('lily sweep: give at least one axis, e.g. --grid training.lr=1e-3,3e-3 adapter.scaling=1,2');
  const axes = specs.map((spec) => {
    const eq = spec.indexOf('=');
    const key = eq > 0 ? spec.slice(0, eq) : '';
    const path = key.split('.');
    if (!key || path.some((p) => !/^[A-Za-z_][\w]*$/.test(p))) {
      throw new InputError(`lily sweep: "${spec}": expected FIELD.PATH=V1,V2,... (e.g. training.lr=1e-3,3e-3)`);
    }
    const raw = spec.slice(eq + 1).split(',').map((v) => v.trim()).filter((v) => v !== '');
    if (raw.length === 0) throw new InputError(`lily sweep: "${spec}": no values after "="`);
    return { path, values: raw.map(parseValue) };
  });
  const seen = new Set<string>();
  for (const a of axes) {
    const k = a.path.join('.');
    if (seen.has(k)) throw new InputError(`lily sweep: ${k} appears twice in the grid; list all its values in one axis`);
    seen.add(k);
  }
  return axes;
}

function parseValue(v: string): unknown {
  try {
    const parsed = JSON.parse(v);
    return typeof parsed === 'object' && parsed !== null ? v : parsed;
  } catch {
    return v;
  }
}

/** Every combination, the first axis varying slowest (the order runs are trained in). */
export function combinations(axes: GridAxis[]): Override[] {
  let out: Override[] = [[]];
  for (const axis of axes) out = out.flatMap((prev) => axis.values.map((value) => [...prev, { path: axis.path, value }]));
  return out;
}

/** The config JSON with the overrides set (sections created when absent); the input is untouched. */
export function applyOverride(config: Record<string, unknown>, override: Override): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
  for (const { path, value } of override) {
    let node: Record<string, unknown> = copy;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (next === undefined) node[key] = {};
      else if (typeof next !== 'object' || next === null || Array.isArray(next)) {
        throw new InputError(`lily sweep: cannot set ${path.join('.')}: ${key} is not a section of the config`);
      }
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = value;
  }
  return copy;
}

/** "lr=0.001 scaling=2": the last path component of each axis with its value. */
export function overrideLabel(override: Override): string {
  return override.map(({ path, value }) => `${path[path.length - 1]}=${typeof value === 'string' ? value : JSON.stringify(value)}`).join(' ');
}
