// Loading the config named on the command line: schema + semantic validation (ConfigError,
// exit 2), warnings to stderr.
import * as path from 'path';
import { loadConfig, type ResolvedConfig } from '../config/validate';
import type { Output } from './io';

export function loadConfigArg(file: string, cwd: string, out: Output): ResolvedConfig {
  return loadConfig(path.resolve(cwd, file), undefined, {
    cwd,
    onWarning: (d) => out.log(`warning: ${path.resolve(cwd, file)}: ${d.message}`),
  });
}
