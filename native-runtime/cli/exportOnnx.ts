// The `merged-onnx` and `adapted-onnx` formats of `lily export` (registered in exportCommand's
// EXPORTERS table): a run's adapter as a plain inference model. The work is in inspect/exportOnnx.ts.
import type { ExportResult } from '../protocol';
import { exportAdaptedOnnx, exportMergedOnnx, type ExportSource } from '../inspect/exportOnnx';
import { loadConfigModel } from '../train/trainer';
import type { ExportContext } from './exportCommand';
import { readRunConfig, runAdapterWeights } from './runAdapter';

function runSource(runDir: string, log: (m: string) => void): ExportSource {
  const config = readRunConfig(runDir);
  const { weights, source } = runAdapterWeights(runDir);
  log(`Adapter: ${source}; model: ${config.model.path}`);
  return { config, model: loadConfigModel(config), weights };
}

export const ONNX_EXPORTERS: Record<string, (ctx: ExportContext) => Promise<ExportResult>> = {
  'merged-onnx': async ({ runDir, outDir, log, calibration }) => {
    const src = runSource(runDir, log);
    const r = await exportMergedOnnx(src, outDir, { log, calibration, threads: src.config.runtime.threads });
    return { files: r.files, ...(r.metricDelta ? { metricDelta: r.metricDelta } : {}) };
  },
  'adapted-onnx': async ({ runDir, outDir, log }) => {
    const src = runSource(runDir, log);
    return exportAdaptedOnnx(src, outDir, { log });
  },
};
