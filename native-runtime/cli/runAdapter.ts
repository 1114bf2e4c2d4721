// The adapter of a finished (or stopped) run: its compact adapter file when present, else its
// newest checkpoint, with the sharing structure rebuilt from the run's config and model.
import * as fs from 'fs';
import * as path from 'path';
import { findLinearLayers } from '../adapters/targets';
import { resolveSavedTensors } from '../adapters/modulesToSave';
import type { ResolvedConfig } from '../config/resolved';
import type { AdapterWeights } from '../io/adapterWeights';
import type { Model } from '../onnx/ir';
import { newestIntactCheckpoint } from '../io/checkpoint';
import { COMPACT_ADAPTER_FILE, readCompactAdapter } from '../io/compactAdapter';
import { RUN_FILES } from '../runFiles';
import { loadConfigModel, matchedTargets } from '../train/trainer';
import { InputError } from '../errors';

export function isRunDir(p: string): boolean {
  return fs.existsSync(path.join(p, RUN_FILES.config)) && fs.statSync(p).isDirectory();
}

export function readRunConfig(runDir: string): ResolvedConfig {
  const file = path.join(runDir, RUN_FILES.config);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as ResolvedConfig;
  } catch (e) {
    throw new InputError(`${file}: cannot read the run's config (${(e as Error).message}); is ${runDir} a run directory?`);
  }
}

/** `model`: the run's ONNX model when the caller has it (a torch run's model.path may be a Hugging Face folder; see runModel.ts). */
export function runAdapterWeights(runDir: string, model?: Model): { weights: AdapterWeights; source: string } {
  const compact = path.join(runDir, RUN_FILES.adapter, COMPACT_ADAPTER_FILE);
  if (fs.existsSync(compact)) return { weights: readCompactAdapter(compact), source: compact };
  const { checkpoint: ck, skipped } = newestIntactCheckpoint(runDir);
  if (!ck) {
    const damaged = skipped.length ? ` (damaged: ${skipped.map((s) => `${path.basename(s.dir)}: ${s.reason}`).join('; ')})` : '';
    throw new InputError(`${runDir}: the run has neither ${RUN_FILES.adapter}/${COMPACT_ADAPTER_FILE} nor an intact checkpoint${damaged}; nothing to export (did it fail before the first checkpoint?)`);
  }
  // The torch backend keeps the compact file in each checkpoint (its params.safetensors uses
  // PEFT's parameter names, which only its own resume reads).
  const ckCompact = path.join(ck.dir, COMPACT_ADAPTER_FILE);
  if (fs.existsSync(ckCompact)) return { weights: readCompactAdapter(ckCompact), source: ckCompact };
  const cfg = readRunConfig(runDir);
  const m = model ?? loadConfigModel(cfg);
  const targets = matchedTargets(cfg, m);
  const saved = resolveSavedTensors(m, findLinearLayers(m), cfg.adapter.modules_to_save);
  const state = ck.state;
  return { weights: { settings: cfg.adapter, targets, saved, tensors: state.params }, source: ck.dir };
}
