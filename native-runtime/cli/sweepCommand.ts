// `lily sweep <config> --grid training.lr=1e-3,3e-3 adapter.scaling=1,2`: trains every point of
// the grid, one after the other, each as a normal run (its own run directory, config.json,
// metrics, adapter) named "<name> [lr=0.001 scaling=1]", plus a sweep.json that groups the runs
// (the Runs view shows them under one sweep). Ends with a table of the final and best eval
// metric per point. Every point is validated before the first one trains.
import * as fs from 'fs';
import * as path from 'path';
import { loadConfig, type ResolvedConfig } from '../config/validate';
import type { DeviceRequest } from '../onnx/session';
import type { MetricLine, SweepMember } from '../runFiles';
import { RUN_FILES } from '../runFiles';
import { headlineMetric } from '../train/metrics';
import { prepareTraining, runTraining } from '../train/trainer';
import { writeFileAtomic } from '../io/atomic';
import { Command, JSON_OPTION } from './command';
import { EXIT, InputError, UsageError } from './errors';
import { EVALUATE_HOOKS } from './hooks';
import { Output } from './io';
import { applyOverride, combinations, overrideLabel, parseGrid, type Override } from './sweepGrid';

interface PointResult {
  label: string;
  runDir: string;
  state: string;
  final?: number;
  best?: number;
}

export const sweepCommand: Command = {
  spec: {
    name: 'sweep',
    usage: '<config.lily.json> --grid FIELD=V1,V2,... [FIELD=V1,V2,...]',
    summary: 'Train every combination of a grid of config values, each as a normal run, grouped as one sweep.',
    details: [
      'Example: lily sweep demo.lily.json --grid training.lr=1e-3,3e-3,1e-2 adapter.scaling=1,2 (6 runs).',
      'Runs train one after the other; each gets the threads given (or runtime.threads). Ends with a table',
      'of the final and best eval metric per point. Exit codes: 0 all completed, 1 a run failed, 2 invalid input.',
    ],
    positional: { min: 1, max: 64 },
    options: [
      { name: 'grid', kind: 'string', value: 'FIELD=V1,V2', help: 'First axis; more axes follow as further arguments.' },
      { name: 'max-steps', kind: 'int', value: 'N', help: 'Steps per run (overrides training.max_steps and epochs).' },
      { name: 'device', kind: 'string', value: 'X', help: 'Execution provider for every run (overrides runtime.device).' },
      { name: 'threads', kind: 'int', value: 'N', help: 'Intra-op threads per run (overrides runtime.threads).' },
      JSON_OPTION,
    ],
  },
  async run(args, ctx) {
    const out = new Output(ctx.io, !!args.options.json);
    const [configArg, ...moreAxes] = args.positional;
    const grid = args.options.grid as string | undefined;
    if (grid === undefined) throw new UsageError('lily sweep: --grid is required, e.g. --grid training.lr=1e-3,3e-3 adapter.scaling=1,2', 'sweep');
    const axes = parseGrid([grid, ...moreAxes]);
    const configPath = path.resolve(ctx.cwd, configArg);
    let base: Record<string, unknown>;
    try {
      base = JSON.parse(fs.readFileSync(configPath, 'utf8'));
    } catch (e) {
      throw new InputError(`${configPath}: cannot read the config: ${(e as Error).message}`);
    }
    const points = combinations(axes);
    const name = typeof base.name === 'string' && base.name ? base.name : path.basename(configPath).replace(/(\.lily)?\.json$/i, '');
    // Validate every point first: a typo in the grid must not surface after an hour of training.
    const configs: Array<{ override: Override; label: string; config: ResolvedConfig }> = points.map((override) => {
      const label = overrideLabel(override);
      const text = JSON.stringify({ ...applyOverride(base, override), name: `${name} [${label}]` });
      return { override, label, config: loadConfig(configPath, text, { cwd: ctx.cwd, onWarning: (d) => out.log(`warning: ${configPath} [${label}]: ${d.message}`) }) };
    });
    const sweepId = `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-')}-${process.pid}`;
    out.log(`Sweep ${sweepId}: ${points.length} runs of ${configPath} over ${axes.map((a) => `${a.path.join('.')} (${a.values.length})`).join(' × ')}`);
    const task = configs[0].config.model.task;
    const metric = headlineMetric(task);
    const results: PointResult[] = [];
    let failed = false;
    for (const [index, point] of configs.entries()) {
      out.log(`[${index + 1}/${configs.length}] ${point.label}`);
      const prep = await prepareTraining({
        config: point.config,
        maxSteps: args.options['max-steps'] as number | undefined,
        device: args.options.device as DeviceRequest | undefined,
        threads: args.options.threads as number | undefined,
        log: (m) => out.log(`  ${m}`),
      });
      try {
        const member: Omit<SweepMember, 'index'> = {
          sweep_id: sweepId, name, total: configs.length, config_path: configPath,
          overrides: Object.fromEntries(point.override.map((o) => [o.path.join('.'), o.value])),
        };
        const outcome = await runTraining(prep, {
          onEvent: (e) => {
            if (e.event === 'started') writeFileAtomic(path.join(e.runDir, RUN_FILES.sweep), JSON.stringify({ ...member, index }, null, 2) + '\n');
            if (out.json) out.emit(e);
          },
          log: (m) => out.log(`  ${m}`),
          onEvaluate: EVALUATE_HOOKS,
          handleSignals: true,
        });
        const evals = readEvals(outcome.runDir).map((m) => m[metric.name]).filter((v): v is number => Number.isFinite(v));
        results.push({
          label: point.label, runDir: outcome.runDir, state: outcome.state,
          final: outcome.evalAfter?.[metric.name],
          best: evals.length ? (metric.higherIsBetter ? Math.max(...evals) : Math.min(...evals)) : undefined,
        });
        if (outcome.state === 'stopped') break; // Ctrl-C stops the sweep, not just this point
        if (outcome.state !== 'completed') failed = true;
      } finally {
        prep.data.close();
        await prep.runner.release();
      }
    }
    const fmt = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(4));
    out.print(`| ${axes.map((a) => a.path.join('.')).join(' | ')} | final ${metric.name} | best ${metric.name} | state | run |`);
    out.print(`| ${axes.map(() => '---').join(' | ')} | --- | --- | --- | --- |`);
    for (const [i, r] of results.entries()) {
      const values = configs[i].override.map((o) => String(o.value));
      out.print(`| ${values.join(' | ')} | ${fmt(r.final)} | ${fmt(r.best)} | ${r.state} | ${path.relative(ctx.cwd, r.runDir) || r.runDir} |`);
    }
    if (out.json) out.emit({ event: 'sweep', sweepId, metric: metric.name, results });
    if (results.length < configs.length) return EXIT.interrupted;
    return failed ? EXIT.failure : EXIT.ok;
  },
};

function readEvals(runDir: string): Array<Record<string, number>> {
  try {
    return fs.readFileSync(path.join(runDir, RUN_FILES.metrics), 'utf8').split('\n').filter(Boolean)
      .map((l) => { try { return JSON.parse(l) as MetricLine; } catch { return undefined; } })
      .filter((m): m is MetricLine & { type: 'eval' } => m?.type === 'eval').map((m) => m.metrics as Record<string, number>);
  } catch {
    return [];
  }
}
