// The reference set as batches: a run's eval set by default, or any data file in the config's
// format (`--reference FILE`, `--calibration`), through the trainer's own data pipeline so that
// tokenization, padding, labels and batch size are exactly those of evaluation.
import * as fs from 'fs';
import { formatFromExtension, type ResolvedConfig } from '../config/resolved';
import type { Model } from '../onnx/ir';
import { openData, type DataPipeline } from '../train/data/pipeline';

export interface ReferenceData {
  data: DataPipeline;
  /** The file the statistics are over. */
  file: string;
  /** The config with the data's label names filled in. */
  config: ResolvedConfig;
}

function modelInputsOf(cfg: ResolvedConfig, model: Model) {
  const inputs = model.graph.inputs;
  if (!cfg.model.inputs) return inputs;
  return cfg.model.inputs.map((name) => {
    const v = inputs.find((i) => i.name === name);
    if (!v) throw new Error(`${cfg.configPath}: model.inputs: "${name}" is not an input of the model (inputs: ${inputs.map((i) => i.name).join(', ')})`);
    return v;
  });
}

function logitsClassesOf(cfg: ResolvedConfig, model: Model): number | undefined {
  if (cfg.model.task !== 'sequence-classification' && cfg.model.task !== 'token-classification') return undefined;
  const name = cfg.model.output ?? model.graph.outputs[0]?.name;
  const last = model.graph.outputs.find((o) => o.name === name)?.shape?.at(-1);
  return typeof last === 'number' ? last : undefined;
}

/**
 * Opens `reference` (default: data.eval, else data.train) as the eval side of the config's data
 * pipeline. Returns undefined when there is no file at all.
 */
export function openReferenceData(cfg: ResolvedConfig, model: Model, reference?: string): ReferenceData | undefined {
  const file = reference ?? cfg.data.eval ?? (fs.existsSync(cfg.data.train) ? cfg.data.train : undefined);
  if (!file) return undefined;
  if (!fs.existsSync(file)) throw new Error(`reference data ${file} does not exist; give a .jsonl or .csv file in the format of the config's data`);
  const withEval: ResolvedConfig = { ...cfg, data: { ...cfg.data, eval: file, eval_format: cfg.data.eval === file && cfg.data.eval_format ? cfg.data.eval_format : formatFromExtension(file) ?? cfg.data.format } };
  const data = openData(withEval, { modelInputs: modelInputsOf(cfg, model), modelClasses: logitsClassesOf(cfg, model), evalOverride: file });
  const config = data.labelNames && !cfg.model.labels ? { ...cfg, model: { ...cfg.model, labels: data.labelNames } } : cfg;
  return { data, file, config };
}

/** The shapes of the first reference batch's model inputs (probe shapes for the inspection graph). */
export function firstBatchShapes(data: DataPipeline): Record<string, number[]> | undefined {
  for (const batch of data.evalBatches(undefined, undefined)) {
    const shapes: Record<string, number[]> = {};
    for (const m of data.modelInputs) if (batch.tensors[m.name]) shapes[m.name] = [...batch.tensors[m.name].dims];
    return shapes;
  }
  return undefined;
}
