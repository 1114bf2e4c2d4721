// The `$schema` value written into new configs: a path relative to the config file pointing at
// the JSON Schema shipped with this package (repo checkout or installed extension), so VS Code
// validates and completes the file without any setting.
import * as fs from 'fs';
import * as path from 'path';

/** Absolute path of `schemas/lily.schema.json`, searched upward from this module. */
export function schemaFile(): string | undefined {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'schemas', 'lily.schema.json');
    if (fs.existsSync(candidate)) return candidate;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

/** `$schema` for a config written at `configFile` (forward slashes, as JSON Schema URIs want). */
export function schemaRefFor(configFile: string): string | undefined {
  const schema = schemaFile();
  if (!schema) return undefined;
  let rel = path.relative(path.dirname(path.resolve(configFile)), schema).split(path.sep).join('/');
  if (!rel.startsWith('.')) rel = `./${rel}`;
  return rel;
}
