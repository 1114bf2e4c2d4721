// The `$schema` value written into new configs: a path relative to the config file pointing at
// the JSON Schema committed with this package (`schemas/lily.schema.json` at the package root,
// in a repo checkout and in the installed extension alike), so VS Code validates and completes
// the file without any setting.
import * as fs from 'fs';
import * as path from 'path';

const SCHEMA = path.join('schemas', 'lily.schema.json');

/**
 * Absolute path of the package's `schemas/lily.schema.json`: the first folder upward from
 * `from` that holds both package.json and the schema. The build may leave a copy under out/
 * (no package.json there), which must not be the one configs point at.
 */
export function schemaFile(from: string = __dirname): string | undefined {
  let dir = from;
  for (let i = 0; i < 8; i++) {
    const candidate = path.join(dir, SCHEMA);
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(candidate)) return candidate;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

/** `$schema` for a config written at `configFile` (forward slashes, as JSON Schema URIs want). */
export function schemaRefFor(configFile: string, from?: string): string | undefined {
  const schema = schemaFile(from);
  if (!schema) return undefined;
  let rel = path.relative(path.dirname(path.resolve(configFile)), schema).split(path.sep).join('/');
  if (!rel.startsWith('.')) rel = `./${rel}`;
  return rel;
}
