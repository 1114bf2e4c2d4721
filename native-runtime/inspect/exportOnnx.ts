// `lily export --format adapted-onnx | merged-onnx`: a trained adapter as a plain inference model.
//   adapted-onnx  the base model plus the exact adapter subgraph (Lily keeps its data-dependent
//                 routing), trained tensors as initializers, no router or training outputs.
//   merged-onnx   routing frozen at its mean over a calibration set (the eval set by default),
//                 ΔW folded into the base weights: the base graph, zero adapter overhead. Both
//                 models are evaluated on the eval set and the metric difference is reported,
//                 since freezing the routing changes the function for Lily (LoRA merges exactly).
import * as fs from 'fs';
import * as path from 'path';
import type { ResolvedConfig } from '../config/resolved';
import type { AdapterWeights } from '../io/adapterWeights';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic';
import type { Model } from '../onnx/ir';
import { saveModel } from '../onnx/proto';
import { createSession, type DeviceRequest } from '../onnx/session';
import { LABELS } from '../train/data/batch';
import type { DataPipeline } from '../train/data/pipeline';
import { EvalAccumulator, type Metrics } from '../train/metrics';
import { buildInferenceModel } from './adaptedModel';
import type { Mixtures } from './deltaFactors';
import { inspectAdapter } from './inspection';
import { mergeAdapter } from './merge';
import { firstBatchShapes, openReferenceData } from './referenceData';

export interface ExportSource {
  config: ResolvedConfig;
  model: Model;
  weights: AdapterWeights;
}

export interface ExportOptions {
  log?: (message: string) => void;
  /** Calibration data for the frozen routing (merged-onnx; default: the eval set, else the train set). */
  calibration?: string;
  device?: DeviceRequest;
  threads?: number;
}

export interface OnnxExportResult {
  files: string[];
  /** merged-onnx: eval metrics of the merged model minus those of the dynamic (adapted) model. */
  metricDelta?: Record<string, number>;
  metrics?: { dynamic: Metrics; merged: Metrics };
}

export const EXPORT_MODEL_FILE = 'model.onnx';
export const MERGE_REPORT_FILE = 'merge_report.json';
/** Models over this size keep their weights in an external data file (protobuf's 2 GB limit). */
const EXTERNAL_DATA_BYTES = 1.5 * 1024 ** 3;

function initializerBytes(model: Model): number {
  let n = 0;
  for (const t of model.graph.initializers.values()) n += (t.data as { byteLength?: number }).byteLength ?? 0;
  return n;
}

function writeModel(model: Model, outDir: string): string[] {
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, EXPORT_MODEL_FILE);
  const external = initializerBytes(model) > EXTERNAL_DATA_BYTES;
  saveModel(model, file, { externalData: external });
  return external ? [file, `${file}.data`] : [file];
}

/** The tokenizer beside the exported model, so the folder is self-contained. */
function copyTokenizer(cfg: ResolvedConfig, outDir: string): string[] {
  if (!fs.existsSync(cfg.model.tokenizer)) return [];
  const dest = path.join(outDir, path.basename(cfg.model.tokenizer));
  // Through a temp file and a rename, like every file written into a run directory.
  writeFileAtomic(dest, fs.readFileSync(cfg.model.tokenizer));
  return [dest];
}

function valuesOf(w: AdapterWeights): Map<string, Float32Array> {
  return new Map([...w.tensors].map(([k, t]) => [k, t.data]));
}

/** Evaluates an exported model file on a data pipeline's eval batches. */
export async function evaluateModelFile(file: string, data: DataPipeline, cfg: ResolvedConfig, model: Model, opts: { device?: DeviceRequest; threads?: number } = {}): Promise<Metrics> {
  const { session } = await createSession(file, { device: opts.device ?? 'cpu', threads: opts.threads });
  try {
    const logitsName = cfg.model.output ?? model.graph.outputs[0].name;
    const inputs = session.inputNames;
    const acc = new EvalAccumulator(cfg.model.task);
    for (const batch of data.evalBatches()) {
      const feeds = Object.fromEntries(inputs.map((n) => [n, batch.tensors[n]]));
      const out = await session.run(feeds);
      const logits = out[logitsName];
      acc.add(logits.data as Float32Array, logits.dims, batch.tensors[LABELS].data as ArrayLike<number | bigint>);
    }
    return acc.result();
  } finally {
    await session.release();
  }
}

async function adaptedModel(src: ExportSource, probe: DataPipeline | undefined): Promise<Model> {
  return buildInferenceModel(src.model, src.weights.settings, valuesOf(src.weights), { probeShapes: probe ? firstBatchShapes(probe) : undefined });
}

export async function exportAdaptedOnnx(src: ExportSource, outDir: string, opts: ExportOptions = {}): Promise<OnnxExportResult> {
  const needsProbe = src.weights.settings.method === 'lily' && src.weights.settings.routing !== 'batch';
  const ref = needsProbe ? openReferenceData(src.config, src.model) : undefined;
  try {
    if (needsProbe && !ref) throw new Error(`${src.config.configPath}: masked/token routing needs one data file (data.eval or data.train) to learn which layers see tokens`);
    const model = await adaptedModel(src, ref?.data);
    opts.log?.(`Writing the adapted model (${src.weights.settings.method}, ${src.weights.targets.reduce((s, t) => s + t.layers.length, 0)} adapted layers) to ${outDir}`);
    return { files: [...writeModel(model, outDir), ...copyTokenizer(src.config, outDir)] };
  } finally {
    ref?.data.close();
  }
}

export async function exportMergedOnnx(src: ExportSource, outDir: string, opts: ExportOptions = {}): Promise<OnnxExportResult> {
  const { config: cfg, model, weights } = src;
  const log = opts.log ?? (() => undefined);
  const lily = weights.settings.method === 'lily';
  const calibration = lily ? openReferenceData(cfg, model, opts.calibration) : undefined;
  const evalData = cfg.data.eval ? openReferenceData(cfg, model, cfg.data.eval) : undefined;
  try {
    if (lily && !calibration) throw new Error(`${cfg.configPath}: merging a Lily adapter needs a calibration set to freeze the routing; the config has neither data.eval nor data.train`);
    let mixtures: Mixtures | undefined;
    if (lily) {
      log(`Freezing the routing at its mean over ${calibration!.file}`);
      mixtures = (await inspectAdapter({ model, weights, config: calibration!.config, step: 0, reference: calibration, device: opts.device, threads: opts.threads })).mixtures;
    }
    const merged = mergeAdapter(model, weights, mixtures);
    const files = writeModel(merged.model, outDir);
    files.push(...copyTokenizer(cfg, outDir));
    log(`Merged ${merged.layers.length} layers into the base weights: ${files[0]}`);

    let metrics: OnnxExportResult['metrics'];
    let metricDelta: Record<string, number> | undefined;
    if (evalData) {
      // The dynamic model is the adapted-onnx export; written to a scratch folder to be evaluated by file.
      const scratch = fs.mkdtempSync(path.join(outDir, '.dynamic-'));
      try {
        const dynamicFiles = writeModel(await adaptedModel(src, evalData.data), scratch);
        const dynamic = await evaluateModelFile(dynamicFiles[0], evalData.data, evalData.config, model, opts);
        const mergedMetrics = await evaluateModelFile(files[0], evalData.data, evalData.config, model, opts);
        metrics = { dynamic, merged: mergedMetrics };
        metricDelta = Object.fromEntries(Object.keys(mergedMetrics).filter((k) => k in dynamic).map((k) => [k, mergedMetrics[k] - dynamic[k]]));
        log(`Eval ${evalData.file}: ${Object.entries(metricDelta).map(([k, v]) => `${k} ${dynamic[k].toFixed(4)} (dynamic) -> ${mergedMetrics[k].toFixed(4)} (merged)`).join(', ')}`);
      } finally {
        fs.rmSync(scratch, { recursive: true, force: true });
      }
    } else {
      log('No eval set in the config: the merged model was not compared with the dynamic one.');
    }
    const report = path.join(outDir, MERGE_REPORT_FILE);
    writeJsonAtomic(report, {
      method: weights.settings.method,
      calibration: calibration?.file ?? null,
      eval: evalData?.file ?? null,
      ...(metrics ? { metrics, metric_delta: metricDelta } : {}),
      layers: merged.layers.map((l) => ({ ...l, ...(mixtures?.get(l.module) ? { mixture: mixtures.get(l.module) } : {}) })),
    });
    files.push(report);
    return { files, metricDelta, metrics };
  } finally {
    calibration?.data.close();
    evalData?.data.close();
  }
}
