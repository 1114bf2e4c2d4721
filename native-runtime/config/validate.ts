// Validation and loading of `*.lily.json`: the single entry point used by the backend (CLI,
// `lily/validateConfig`, training) and, through the backend, by the editor's diagnostics.
//   validateConfigText  -> every problem, as ConfigDiagnostic[] (never throws)
//   loadConfig          -> a ResolvedConfig, or a ConfigError listing the problems
//   findFieldRange      -> where a diagnostic's field sits in the text (for editor ranges)
import * as fs from 'fs';
import * as path from 'path';
import type { ConfigDiagnostic } from '../protocol';
import { jsonSyntaxErrors } from './jsonLocation';
import { resolveConfig, type ResolvedConfig } from './resolved';
import { schemaDiagnostics } from './schemaErrors';
import { fileDiagnostics, semanticDiagnostics } from './semanticChecks';
import type { LilyConfig } from './types';

export { findFieldRange, findNearestFieldRange } from './jsonLocation';
export type { ResolvedConfig, ResolvedAdapter, ResolvedLilyAdapter, ResolvedLoraAdapter, ResolvedTraining } from './resolved';
export { formatPath } from './schemaErrors';

/**
 * All problems of a config's text: JSON syntax, schema (types, bounds, enums, unknown and missing
 * fields), referenced files (relative to the folder of `configPath`) and cross-field checks.
 * Messages start with the field path, e.g. `adapter.num_B: expected an integer >= 2, found 1`.
 */
export function validateConfigText(text: string, configPath: string): ConfigDiagnostic[] {
  const syntax = jsonSyntaxErrors(text);
  if (syntax.length > 0) {
    // Later syntax errors are usually echoes of the first; one precise message helps more.
    const e = syntax[0];
    return [{ path: [], severity: 'error', message: `JSON syntax error at line ${e.line}, column ${e.column}: ${e.message}` }];
  }
  const config: unknown = JSON.parse(text);
  const configDir = path.dirname(path.resolve(configPath));
  const all = [...schemaDiagnostics(config).map((d) => ({ ...d, fromSchema: true })), ...semanticDiagnostics(config), ...fileDiagnostics(config, configDir)];
  const seen = new Set<string>();
  return all.filter((d) => {
    const key = JSON.stringify(d.path) + d.message;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A config that cannot be used; `message` lists every problem as `FILE: field.path: message`. */
export class ConfigError extends Error {
  constructor(readonly file: string, readonly diagnostics: ConfigDiagnostic[]) {
    super(diagnostics.map((d) => `${file}: ${d.message}`).join('\n'));
    this.name = 'ConfigError';
  }
}

export interface LoadConfigOptions {
  /** Folder that `output.dir` is relative to (default: the process's working directory). */
  cwd?: string;
  /** Receives warnings (problems that do not stop a run). */
  onWarning?: (d: ConfigDiagnostic) => void;
}

/**
 * Reads (unless `text` is given), validates and resolves a config. Throws ConfigError when the
 * file cannot be read or has any error-severity problem.
 */
export function loadConfig(configPath: string, text?: string, options: LoadConfigOptions = {}): ResolvedConfig {
  const file = path.resolve(configPath);
  let source = text;
  if (source === undefined) {
    try {
      source = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(file, [{ path: [], severity: 'error', message: `cannot read the config file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check the path` }]);
    }
  }
  const diagnostics = validateConfigText(source, file);
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new ConfigError(file, errors);
  for (const d of diagnostics) options.onWarning?.(d);
  return resolveConfig(JSON.parse(source) as LilyConfig, file, options.cwd);
}
