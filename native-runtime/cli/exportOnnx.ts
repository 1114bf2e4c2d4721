// The `merged-onnx` and `adapted-onnx` formats of `lily export` (registered in exportCommand's
// EXPORTERS table): a run's adapter as a plain inference model. The work is in inspect/exportOnnx.ts.
import type { ExportResult } from '../protocol';
import { exportAdaptedOnnx, exportMergedOnnx, type ExportSource } from '../inspect/exportOnnx';
import type { ExportContext } from './exportCommand';
import { readRunConfig, runAdapterWeights } from './runAdapter';
import { runModel } from './runModel';

async function runSource(ctx: ExportContext): Promise<ExportSource> {
  const { config, model } = await runModel(readRunConfig(ctx.runDir), { cwd: ctx.cwd, python: ctx.python, log: ctx.log });
  const { weights, source } = runAdapterWeights(ctx.runDir, model);
  ctx.log(`Adapter: ${source}; model: ${config.model.path}`);
  return { config, model, weights };
}

export const ONNX_EXPORTERS: Record<string, (ctx: ExportContext) => Promise<ExportResult>> = {
  'merged-onnx': async (ctx) => {
    const { outDir, log, calibration } = ctx;
    const src = await runSource(ctx);
    const r = await exportMergedOnnx(src, outDir, { log, calibration, threads: src.config.runtime.threads });
    return { files: r.files, ...(r.metricDelta ? { metricDelta: r.metricDelta } : {}) };
  },
  'adapted-onnx': async (ctx) => {
    const src = await runSource(ctx);
    return exportAdaptedOnnx(src, ctx.outDir, { log: ctx.log });
  },
};
