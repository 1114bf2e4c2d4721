// Checks a schema-valid config against its model, which only the backend can do: the model file
// loads, and the adapter's target_modules match linear layers in it. Diagnostics point at the
// field to fix (the host maps paths to ranges in the editor).
import * as fs from 'fs';
import * as path from 'path';
import { findLinearLayers, matchTargets } from '../adapters/targets';
import type { LilyConfig } from '../config/types';
import type { ConfigDiagnostic } from '../protocol';
import type { ModelCache } from './modelCache';

/** `adapter.exclude_modules: ...` -> ["adapter", "exclude_modules"]: the field an error names. */
export function fieldPathOfMessage(message: string, fallback: Array<string | number>): Array<string | number> {
  const m = /^([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*):/.exec(message);
  return m ? m[1].split('.') : fallback;
}

export function semanticDiagnostics(config: LilyConfig, configPath: string, models: ModelCache): ConfigDiagnostic[] {
  const modelPath = path.resolve(path.dirname(path.resolve(configPath)), config.model.path);
  if (!fs.existsSync(modelPath)) {
    return [{ path: ['model', 'path'], severity: 'error', message: `model file not found: ${modelPath} (model.path is relative to the config file's folder)` }];
  }
  let model;
  try {
    model = models.get(modelPath);
  } catch (e) {
    return [{ path: ['model', 'path'], severity: 'error', message: `cannot load the model: ${(e as Error).message}` }];
  }
  try {
    matchTargets(findLinearLayers(model), config.adapter);
  } catch (e) {
    const message = (e as Error).message;
    return [{ path: fieldPathOfMessage(message, ['adapter', 'target_modules']), severity: 'error', message }];
  }
  return [];
}
