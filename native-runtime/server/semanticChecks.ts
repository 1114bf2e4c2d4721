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

const startsWith = (p: Array<string | number>, prefix: string[]) => prefix.every((k, i) => p[i] === k);

/** Adapter fields that decide which layers are adapted. */
const SELECTION = ['target_modules', 'exclude_modules', 'layers_to_transform', 'layers_pattern'] as const;

/**
 * Model and target checks. Runs next to schema errors elsewhere in the config (`schemaErrors`),
 * reading only the fields those errors leave valid, so every problem shows at once. A
 * target_modules entry that matches no layer is reported on that entry, with the nearest
 * suffix as suggestion (a quick fix in the editor).
 */
export function semanticDiagnostics(config: unknown, configPath: string, models: ModelCache, schemaErrors: ConfigDiagnostic[] = []): ConfigDiagnostic[] {
  const blocked = (prefix: string[]) => schemaErrors.some((e) => e.severity === 'error' && startsWith(e.path, prefix));
  const obj = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : undefined);
  const modelSection = obj(obj(config)?.model);
  const adapterSection = obj(obj(config)?.adapter);
  if (typeof modelSection?.path !== 'string' || blocked(['model', 'path'])) return [];
  const modelPath = path.resolve(path.dirname(path.resolve(configPath)), modelSection.path);
  // A missing model file (or a folder) is reported by validateConfigText's file checks.
  if (!fs.existsSync(modelPath) || fs.statSync(modelPath).isDirectory()) return [];
  let model;
  try {
    model = models.get(modelPath);
  } catch (e) {
    return [{ path: ['model', 'path'], severity: 'error', message: `model.path: cannot load the model: ${(e as Error).message}` }];
  }
  if (!adapterSection || adapterSection.target_modules === undefined || blocked(['adapter', 'target_modules'])) return [];
  const selection: Record<string, unknown> = {};
  for (const k of SELECTION) if (adapterSection[k] !== undefined && !blocked(['adapter', k])) selection[k] = adapterSection[k];
  const layers = findLinearLayers(model);
  const match = (sel: Record<string, unknown>): string | undefined => {
    try {
      matchTargets(layers, sel as unknown as LilyConfig['adapter']);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  };
  // Entry by entry first: a typo is underlined where it is, and others are not blamed.
  const entries = Array.isArray(selection.target_modules) ? selection.target_modules : [];
  const perEntry: ConfigDiagnostic[] = [];
  entries.forEach((entry, i) => {
    if (typeof entry !== 'string') return;
    const message = match({ target_modules: [entry] });
    if (!message || !/matches no linear layer/.test(message)) return;
    const suggestion = /did you mean "([^"]+)"/.exec(message)?.[1];
    perEntry.push({
      path: ['adapter', 'target_modules', i], severity: 'error',
      message: message.replace(/^adapter\.target_modules:/, `adapter.target_modules[${i}]:`),
      ...(suggestion ? { suggestion } : {}),
    });
  });
  if (perEntry.length > 0) return perEntry;
  const message = match(selection);
  return message ? [{ path: fieldPathOfMessage(message, ['adapter', 'target_modules']), severity: 'error', message }] : [];
}
