// `lily sweep <config> --grid training.lr=1e-3,3e-3 adapter.scaling=1,2 [--parallel N]`: trains
// every point of the grid, each as a normal run (its own run directory, config.json, metrics,
// adapter) named "<name> [lr=0.001 scaling=1]", plus a sweep.json that groups the runs (the Runs
// view shows them under one sweep). One after the other in this process, or N at a time in point
// processes that split the threads (sweepParallel.ts). Ends with a table of the final and best
// eval metric per point. Every point is validated before the first one trains.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadConfig, type ResolvedConfig } from '../config/validate';
import type { DeviceRequest } from '../onnx/session';
import type { SweepMember } from '../runFiles';
import { headlineMetric } from '../train/metrics';
import { Command, JSON_OPTION } from './command';
import { EXIT, InputError } from '../errors';
import { UsageError } from './errors';
import { Output } from './io';
import { applyOverride, combinations, overrideLabel, parseGrid, type GridAxis, type Override } from './sweepGrid';
import { runParallel } from './sweepParallel';
import { trainPoint, type PointResult } from './sweepPoint';

export const sweepCommand: Command = {
  spec: {
    name: 'sweep',
    usage: '<config.lily.json> --grid FIELD=V1,V2,... [FIELD=V1,V2,...]',
    summary: 'Train every combination of a grid of config values, each as a normal run, grouped as one sweep.',
    details: [
      'Example: lily sweep demo.lily.json --grid training.lr=1e-3,3e-3,1e-2 adapter.scaling=1,2 (6 runs).',
      'Runs train one after the other with all the threads (--threads, else runtime.threads, else every',
      'core), or with --parallel N, N at a time, each with floor(threads / N) intra-op threads (at least 1):',
      'on 8 cores --parallel 2 gives each run 4 threads. Ends with a table of the final and best eval metric',
      'per point. Exit codes: 0 all completed, 1 a run failed, 2 invalid input, 130 stopped (Ctrl-C).',
    ],
    positional: { min: 1, max: 64 },
    options: [
      { name: 'grid', kind: 'string', value: 'FIELD=V1,V2', help: 'First axis; more axes follow as further arguments.' },
      { name: 'parallel', kind: 'int', value: 'N', help: 'Train N points at once, splitting the threads between them (default 1).' },
      { name: 'max-steps', kind: 'int', value: 'N', help: 'Steps per run (overrides training.max_steps and epochs).' },
      { name: 'device', kind: 'string', value: 'X', help: 'Execution provider for every run (overrides runtime.device).' },
      { name: 'threads', kind: 'int', value: 'N', help: 'Intra-op threads for the sweep, split between the runs of --parallel (overrides runtime.threads).' },
      { name: 'point', kind: 'int', value: 'K', help: 'Train only the K-th point (a --parallel point process).', internal: true },
      { name: 'sweep-id', kind: 'string', value: 'ID', help: 'The sweep this point belongs to (a --parallel point process).', internal: true },
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
    const pointOnly = args.options.point as number | undefined;
    const points = combinations(axes);
    const name = typeof base.name === 'string' && base.name ? base.name : path.basename(configPath).replace(/(\.lily)?\.json$/i, '');
    // Validate every point first: a typo in the grid must not surface after an hour of training.
    // (A point process leaves the warnings to the sweep that started it.)
    const configs: Array<{ override: Override; label: string; config: ResolvedConfig }> = points.map((override) => {
      const label = overrideLabel(override);
      const text = JSON.stringify({ ...applyOverride(base, override), name: `${name} [${label}]` });
      const onWarning = pointOnly ? () => undefined : (d: { message: string }) => out.log(`warning: ${configPath} [${label}]: ${d.message}`);
      return { override, label, config: loadConfig(configPath, text, { cwd: ctx.cwd, onWarning }) };
    });
    const member = (index: number, sweepId: string, parallel: number, threads: number | undefined): SweepMember => ({
      sweep_id: sweepId, name, index, total: configs.length, config_path: configPath,
      overrides: Object.fromEntries(configs[index].override.map((o) => [o.path.join('.'), o.value])),
      // The threads the session gets (onnx/session.ts defaults to every core).
      parallel, threads: threads ?? configs[index].config.runtime.threads ?? os.availableParallelism(),
      // A point process is spawned by the sweep itself (no shell in between).
      sweep_pid: pointOnly !== undefined ? process.ppid : process.pid,
    });
    const common = {
      maxSteps: args.options['max-steps'] as number | undefined,
      device: args.options.device as DeviceRequest | undefined,
    };

    if (pointOnly !== undefined) {
      // One point of a --parallel sweep: its events and then its result, on stdout as JSON.
      const index = pointOnly - 1;
      if (index >= configs.length) throw new UsageError(`lily sweep: --point ${pointOnly}: the grid has ${configs.length} points`, 'sweep');
      const sweepId = args.options['sweep-id'] as string | undefined;
      if (!sweepId) throw new UsageError('lily sweep: --point needs --sweep-id', 'sweep');
      const threads = args.options.threads as number | undefined;
      const result = await trainPoint({
        index, label: configs[index].label, config: configs[index].config,
        member: member(index, sweepId, (args.options.parallel as number | undefined) ?? 1, threads),
        ...common, threads,
        log: (m) => out.log(m), onEvent: (e) => { if (out.json) out.emit(e); },
      });
      out.emit({ event: 'sweep-point', result });
      return result.state === 'completed' ? EXIT.ok : result.state === 'stopped' ? EXIT.interrupted : EXIT.failure;
    }

    const sweepId = `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-')}-${process.pid}`;
    const parallel = Math.min((args.options.parallel as number | undefined) ?? 1, configs.length);
    const threads = (args.options.threads as number | undefined) ?? configs[0].config.runtime.threads ?? os.availableParallelism();
    const threadsPerRun = Math.max(1, Math.floor(threads / parallel));
    out.log(`Sweep ${sweepId}: ${points.length} runs of ${configPath} over ${axes.map((a) => `${a.path.join('.')} (${a.values.length})`).join(' × ')}`);
    out.log(parallel > 1
      ? `${parallel} at a time, ${threadsPerRun} thread${threadsPerRun === 1 ? '' : 's'} each (${threads} threads / ${parallel})${parallel > threads ? `: more runs than threads, so they share cores` : ''}`
      : `one at a time, ${threads} thread${threads === 1 ? '' : 's'} each`);
    const metric = headlineMetric(configs[0].config.model.task);
    let results: PointResult[] = [];
    let stopped = false;
    let invalidInput = false;
    if (parallel > 1) {
      const outcome = await runParallel({
        points: configs.map((c, index) => ({ index, label: c.label })),
        parallel, threadsPerRun, sweepId, cwd: ctx.cwd,
        sweepArgs: sweepArgsOf(configPath, axes, common),
        log: (line) => out.log(line),
        onEvent: out.json ? (e) => out.emit(e) : undefined,
      });
      ({ results, stopped, invalidInput } = outcome);
    } else {
      for (const [index, point] of configs.entries()) {
        out.log(`[${index + 1}/${configs.length}] ${point.label}`);
        const pointThreads = args.options.threads === undefined ? undefined : threadsPerRun;
        const r = await trainPoint({
          index, label: point.label, config: point.config, member: member(index, sweepId, 1, pointThreads),
          ...common, threads: pointThreads,
          log: (m) => out.log(`  ${m}`), onEvent: (e) => { if (out.json) out.emit(e); },
        });
        results.push(r);
        if (r.state === 'stopped') { stopped = true; break; } // Ctrl-C stops the sweep, not just this point
      }
    }
    printTable(out, axes, configs, results, metric.name, ctx.cwd);
    if (out.json) out.emit({ event: 'sweep', sweepId, metric: metric.name, parallel, threadsPerRun, results });
    if (stopped || results.length < configs.length || results.some((r) => r.state === 'stopped')) return EXIT.interrupted;
    if (invalidInput) return EXIT.invalidInput;
    return results.every((r) => r.state === 'completed') ? EXIT.ok : EXIT.failure;
  },
};

/** The sweep's own arguments, for its point processes (absolute config path: they may run elsewhere). */
function sweepArgsOf(configPath: string, axes: GridAxis[], common: { maxSteps?: number; device?: string }): string[] {
  const [first, ...more] = axes.map((a) => `${a.path.join('.')}=${a.values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(',')}`);
  return [
    'sweep', configPath, '--grid', first, ...more,
    ...(common.maxSteps !== undefined ? ['--max-steps', String(common.maxSteps)] : []),
    ...(common.device !== undefined ? ['--device', common.device] : []),
  ];
}

function printTable(out: Output, axes: GridAxis[], configs: Array<{ override: Override }>, results: PointResult[], metric: string, cwd: string): void {
  const fmt = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(4));
  out.print(`| ${axes.map((a) => a.path.join('.')).join(' | ')} | final ${metric} | best ${metric} | state | run |`);
  out.print(`| ${axes.map(() => '---').join(' | ')} | --- | --- | --- | --- |`);
  for (const r of results) {
    const values = configs[r.index].override.map((o) => String(o.value));
    const where = r.runDir ? path.relative(cwd, r.runDir) || r.runDir : r.error ?? '';
    out.print(`| ${values.join(' | ')} | ${fmt(r.final)} | ${fmt(r.best)} | ${r.state} | ${where} |`);
  }
}
