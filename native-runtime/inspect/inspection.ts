// Router statistics and spectra of an adapter, from one pass over a reference set, and the two
// places they are written: a run directory at each evaluation (the trainer's evaluation hook)
// and `lily inspect`.
import type { ResolvedConfig } from '../config/resolved';
import type { AdapterWeights } from '../io/adapterWeights';
import type { RunWriter } from '../io/runDir';
import type { Model } from '../onnx/ir';
import type { DeviceRequest } from '../onnx/session';
import type { RouterStats, SpectrumReport } from '../runFiles';
import type { DataPipeline } from '../train/data/pipeline';
import type { Metrics } from '../train/metrics';
import type { EvaluateHook } from '../train/trainer';
import { loadRunModel } from '../train/trainer';
import { defaultMaskInput } from './adaptedModel';
import { AdaptedRunner } from './adaptedRunner';
import type { Mixtures } from './deltaFactors';
import { firstBatchShapes } from './referenceData';
import { runReference } from './reference';
import { computeSpectrum } from './spectrum';

export interface InspectionInput {
  model: Model;
  weights: AdapterWeights;
  /** Task, logits output and label names come from here (needed with a reference set). */
  config?: ResolvedConfig;
  step: number;
  /** The reference set; without one, Lily spectra use the uniform mixture and there are no router statistics. */
  reference?: { data: DataPipeline; file: string };
  /** Adapter values by internal name (default: the weights' tensors). */
  values?: Map<string, Float32Array>;
  exampleIndex?: number;
  device?: DeviceRequest;
  threads?: number;
  /** A runner built earlier for the same model and adapter (the trainer hook reuses one). */
  runner?: AdaptedRunner;
}

export interface Inspection {
  routerStats?: RouterStats;
  spectrum: SpectrumReport;
  /** The adapter's metrics on the reference set, when it has labels. */
  metrics?: Metrics;
  mixtures?: Mixtures;
  samples: number;
}

/** Builds the inspection graph for a model and adapter (probe shapes from the reference set). */
export async function createInspectionRunner(model: Model, weights: AdapterWeights, data: DataPipeline, opts: { device?: DeviceRequest; threads?: number } = {}): Promise<AdaptedRunner> {
  return AdaptedRunner.create(model, weights.settings, { probeShapes: firstBatchShapes(data), device: opts.device, threads: opts.threads });
}

export async function inspectAdapter(input: InspectionInput): Promise<Inspection> {
  const { weights, config } = input;
  const values = input.values ?? new Map([...weights.tensors].map(([k, t]) => [k, t.data]));
  // LoRA's ΔW does not depend on the data: no forward pass needed.
  if (!input.reference || weights.settings.method !== 'lily') {
    const reference = weights.settings.method === 'lily' ? 'uniform mixture (no reference set)' : undefined;
    return { spectrum: computeSpectrum(weights, undefined, { step: input.step, reference }), samples: 0 };
  }
  const { data, file } = input.reference;
  if (!config) throw new Error('inspectAdapter: a reference set needs the config that says the task and the logits output');
  const runner = input.runner ?? await createInspectionRunner(input.model, weights, data, input);
  try {
    const res = await runReference(runner, data.evalBatches(), values, weights.settings, weights.targets, {
      task: config.model.task,
      logitsOutput: config.model.output ?? input.model.graph.outputs[0].name,
      labelNames: config.model.labels ?? data.labelNames,
      exampleIndex: input.exampleIndex,
      maskInput: defaultMaskInput(input.model),
    });
    const mixtures = res.router?.mixtures();
    return {
      routerStats: res.router?.result(input.step, file),
      spectrum: computeSpectrum(weights, mixtures, { step: input.step, reference: file }),
      metrics: res.metrics,
      mixtures,
      samples: res.samples,
    };
  } finally {
    if (!input.runner) await runner.release();
  }
}

/** Writes router_stats.json (when there are statistics) and spectrum.json into the run directory. */
export function writeInspection(writer: RunWriter, result: Pick<Inspection, 'routerStats' | 'spectrum'>): string[] {
  const files: string[] = [];
  if (result.routerStats) {
    writer.writeRouterStats(result.routerStats);
    files.push(writer.file('routerStats'));
  }
  writer.writeSpectrum(result.spectrum);
  files.push(writer.file('spectrum'));
  return files;
}

/**
 * The trainer's evaluation hook: after each evaluation, router statistics and spectra of the
 * current parameters over the eval set, written into the run directory. The inspection graph
 * (model + adapter, per-token router outputs) is built once and reused at every evaluation.
 */
export function inspectionHook(opts: { exampleIndex?: number } = {}): EvaluateHook {
  // One hook serves every training in the process (the CLI registers it once): the cached
  // model and graph belong to one model + adapter configuration and are rebuilt for another.
  let cache: { key: string; model: Model; runner?: Promise<AdaptedRunner> } | undefined;
  return async (stepRunner, evalData, ctx) => {
    const cfg = ctx.config;
    if (!evalData.eval || !cfg.data.eval) return;
    const dims = new Map(stepRunner.params.map((p) => [p.name, p.dims]));
    const values = stepRunner.getParams();
    const weights: AdapterWeights = {
      settings: cfg.adapter,
      targets: ctx.targets,
      saved: [],
      tensors: new Map([...values].map(([k, v]) => [k, { dims: dims.get(k)!, data: v }])),
    };
    const key = JSON.stringify([cfg.model.path, cfg.model.output, cfg.model.weights_dtype, cfg.adapter, ctx.targets]);
    if (cache?.key !== key) {
      const old = cache?.runner;
      cache = { key, model: loadRunModel(cfg) };
      if (old) await old.then((r) => r.release(), () => undefined);
    }
    const c = cache;
    if (cfg.adapter.method === 'lily' && !c.runner) {
      c.runner = createInspectionRunner(c.model, weights, evalData, { device: 'cpu', threads: cfg.runtime.threads });
      c.runner.catch(() => { c.runner = undefined; });
    }
    const result = await inspectAdapter({
      model: c.model, weights, config: cfg, step: ctx.step, values, exampleIndex: opts.exampleIndex,
      reference: { data: evalData, file: cfg.data.eval },
      runner: c.runner ? await c.runner : undefined,
    });
    writeInspection(ctx.writer, result);
  };
}
