// `lily export <run> --format F`: writes a run's adapter in another format. Formats are a table:
// each exporter takes the run directory and an output folder and returns the files it wrote.
import * as path from 'path';
import { writePeftAdapter } from '../io/peft';
import type { ExportResult } from '../protocol';
import { Command, JSON_OPTION } from './command';
import { EXIT, InputError } from '../errors';
import { UsageError } from './errors';
import { ONNX_EXPORTERS } from './exportOnnx';
import { Output } from './io';
import { lockIfInside } from './runLockArg';
import { PYTHON_OPTION } from './runModel';
import { isRunDir, readRunConfig, runAdapterWeights } from './runAdapter';

export interface ExportContext {
  runDir: string;
  outDir: string;
  log: (message: string) => void;
  /** merged-onnx: data file to freeze the routing on (default: the eval set). */
  calibration?: string;
  /** Where relative paths resolve; the exporter's Python for a torch run's Hugging Face folder (runModel.ts). */
  cwd: string;
  python?: string;
}

export type Exporter = (ctx: ExportContext) => Promise<string[] | ExportResult>;

/** Export formats by name. Merged/adapted ONNX exporters register here. */
export const EXPORTERS: Record<string, Exporter> = {
  peft: async ({ runDir, outDir, log }) => {
    const { weights, source } = runAdapterWeights(runDir);
    const cfg = readRunConfig(runDir);
    log(`Exporting ${source} as a PEFT adapter`);
    return { files: writePeftAdapter(outDir, weights, { task: cfg.model.task, base_model_name_or_path: cfg.model.path }) };
  },
  ...ONNX_EXPORTERS,
};

export const exportCommand: Command = {
  spec: {
    name: 'export',
    usage: '<run-dir>',
    summary: 'Export a run\'s adapter (default format: peft, loadable with PeftModel.from_pretrained).',
    positional: { min: 1, max: 1 },
    options: [
      { name: 'format', kind: 'string', value: 'F', help: `Output format: ${Object.keys(EXPORTERS).join(', ')} (default peft).` },
      { name: 'out', kind: 'string', value: 'DIR', help: 'Output folder (default <run-dir>/export/<format>).' },
      { name: 'calibration', kind: 'string', value: 'FILE', help: 'merged-onnx: data file to freeze the Lily routing on (default: the eval set).' },
      PYTHON_OPTION,
      JSON_OPTION,
    ],
  },
  async run(args, ctx) {
    const out = new Output(ctx.io, !!args.options.json);
    const runDir = path.resolve(ctx.cwd, args.positional[0]);
    const format = (args.options.format as string | undefined) ?? 'peft';
    const exporter = EXPORTERS[format];
    if (!exporter) throw new UsageError(`lily export: unknown --format "${format}"; available: ${Object.keys(EXPORTERS).join(', ')}`, 'export');
    if (!isRunDir(runDir)) throw new InputError(`${runDir}: not a run directory (no config.json); give a folder under .lily/runs`);
    const outDir = path.resolve(ctx.cwd, (args.options.out as string | undefined) ?? path.join(runDir, 'export', format));
    const calibration = args.options.calibration as string | undefined;
    const lock = lockIfInside(runDir, outDir, 'lily export', (m) => out.log(m));
    let res: Awaited<ReturnType<Exporter>>;
    try {
      res = await exporter({
        runDir, outDir, log: (m) => out.log(m), cwd: ctx.cwd, python: args.options.python as string | undefined,
        ...(calibration ? { calibration: path.resolve(ctx.cwd, calibration) } : {}),
      });
    } finally {
      lock?.release();
    }
    const result: ExportResult = Array.isArray(res) ? { files: res } : res;
    if (out.json) out.emit(result);
    else {
      for (const f of result.files) out.print(f);
      if (result.metricDelta) out.print(`eval change from merging (merged - dynamic): ${Object.entries(result.metricDelta).map(([k, v]) => `${k} ${v >= 0 ? '+' : ''}${v.toPrecision(3)}`).join(', ')}`);
    }
    return EXIT.ok;
  },
};
