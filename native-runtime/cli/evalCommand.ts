// `lily eval <config|run>`: the eval-set metrics of an adapter: a run's own adapter, a PEFT
// folder given with --adapter, the config's adapter.init, or (none of these) the base model.
import * as fs from 'fs';
import * as path from 'path';
import { PEFT_FILES } from '../io/peft';
import { formatFromExtension, type ResolvedConfig } from '../config/resolved';
import { evaluate, prepareTraining } from '../train/trainer';
import { Command, JSON_OPTION } from './command';
import { loadConfigArg } from './configArg';
import { EXIT, InputError } from '../errors';
import { Output } from './io';
import { isRunDir, readRunConfig, runAdapterWeights } from './runAdapter';
import { onnxConfigOf, PYTHON_OPTION } from './runModel';

export const evalCommand: Command = {
  spec: {
    name: 'eval',
    usage: '<config.lily.json | run-dir>',
    summary: 'Evaluate an adapter on the eval set: a run\'s adapter, a PEFT folder (--adapter), or the base model.',
    positional: { min: 1, max: 1 },
    options: [
      { name: 'adapter', kind: 'string', value: 'DIR', help: 'A PEFT adapter folder (or its adapter_model.safetensors) to evaluate.' },
      { name: 'data', kind: 'string', value: 'FILE', help: 'Evaluate on this file instead of data.eval.' },
      PYTHON_OPTION,
      JSON_OPTION,
    ],
  },
  async run(args, ctx) {
    const out = new Output(ctx.io, !!args.options.json);
    const target = path.resolve(ctx.cwd, args.positional[0]);
    const fromRun = fs.existsSync(target) && fs.statSync(target).isDirectory();
    if (fromRun && !isRunDir(target)) throw new InputError(`${target}: not a run directory (no config.json); give a *.lily.json config or a run folder`);
    let config: ResolvedConfig = fromRun ? readRunConfig(target) : loadConfigArg(args.positional[0], ctx.cwd, out);
    // A torch-backend run may name a Hugging Face folder: evaluate on its ONNX export (runModel.ts).
    if (fromRun) config = await onnxConfigOf(config, { cwd: ctx.cwd, python: args.options.python as string | undefined, log: (m) => out.log(m) });
    const adapterArg = args.options.adapter as string | undefined;
    let adapterSource = config.adapter.init === 'default' ? 'base model (no adapter)' : config.adapter.init;
    if (adapterArg) {
      const abs = path.resolve(ctx.cwd, adapterArg);
      if (!fs.existsSync(abs)) throw new InputError(`--adapter: ${abs} does not exist; give a PEFT adapter folder`);
      const file = abs.endsWith('.safetensors') ? abs : path.join(abs, PEFT_FILES.weights);
      config = { ...config, adapter: { ...config.adapter, init: file } };
      adapterSource = abs;
    }
    const dataFile = args.options.data as string | undefined;
    if (dataFile) {
      const file = path.resolve(ctx.cwd, dataFile);
      config = { ...config, data: { ...config.data, eval: file, eval_format: formatFromExtension(file) ?? config.data.format } };
    }
    if (!config.data.eval) throw new InputError(`${config.configPath}: data.eval is not set; add an eval file to the config or pass --data FILE`);
    if (fromRun && !adapterArg) config = { ...config, adapter: { ...config.adapter, init: 'default' } };

    const prep = await prepareTraining({ config, evalOnly: true });
    try {
      if (fromRun && !adapterArg) {
        const { weights, source } = runAdapterWeights(target);
        prep.runner.setParams(new Map([...weights.tensors].map(([k, t]) => [k, t.data])));
        adapterSource = source;
      }
      const metrics = await evaluate(prep.runner, prep.data, config.model.task);
      const samples = prep.data.eval?.size ?? 0;
      if (out.json) out.emit({ metrics, samples, adapter: adapterSource, data: config.data.eval });
      else {
        out.print(`${config.data.eval} (${samples} samples), adapter: ${adapterSource}`);
        for (const [k, v] of Object.entries(metrics ?? {})) out.print(`  ${k.padEnd(12)} ${v.toFixed(6)}`);
      }
      return EXIT.ok;
    } finally {
      prep.data.close();
      await prep.runner.release();
    }
  },
};
