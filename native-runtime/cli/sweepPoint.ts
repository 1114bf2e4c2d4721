// One point of a sweep, trained in this process as a normal run, with sweep.json written as soon
// as its run directory exists. Used by `lily sweep` one point after another, and by each point
// process of `lily sweep --parallel N` (sweepParallel.ts).
import * as fs from 'fs';
import * as path from 'path';
import type { ResolvedConfig } from '../config/validate';
import type { DeviceRequest } from '../onnx/session';
import type { MetricLine, SweepMember } from '../runFiles';
import { RUN_FILES } from '../runFiles';
import { headlineMetric } from '../train/metrics';
import { prepareTraining, runTraining } from '../train/trainer';
import type { TrainEvent } from '../protocol';
import { writeFileAtomic } from '../io/atomic';
import { EVALUATE_HOOKS } from './hooks';

export interface PointResult {
  /** 0-based position in the grid. */
  index: number;
  label: string;
  runDir?: string;
  state: string;
  final?: number;
  best?: number;
  error?: string;
}

export interface PointRequest {
  index: number;
  label: string;
  config: ResolvedConfig;
  member: SweepMember;
  maxSteps?: number;
  device?: DeviceRequest;
  threads?: number;
  log: (message: string) => void;
  onEvent?: (e: TrainEvent) => void;
}

export async function trainPoint(p: PointRequest): Promise<PointResult> {
  const metric = headlineMetric(p.config.model.task);
  const prep = await prepareTraining({ config: p.config, maxSteps: p.maxSteps, device: p.device, threads: p.threads, log: p.log });
  try {
    const outcome = await runTraining(prep, {
      onEvent: (e) => {
        if (e.event === 'started') writeFileAtomic(path.join(e.runDir, RUN_FILES.sweep), JSON.stringify(p.member, null, 2) + '\n');
        p.onEvent?.(e);
      },
      log: p.log,
      onEvaluate: EVALUATE_HOOKS,
      handleSignals: true,
    });
    const evals = readEvals(outcome.runDir).map((m) => m[metric.name]).filter((v): v is number => Number.isFinite(v));
    return {
      index: p.index, label: p.label, runDir: outcome.runDir, state: outcome.state,
      final: outcome.evalAfter?.[metric.name],
      best: evals.length ? (metric.higherIsBetter ? Math.max(...evals) : Math.min(...evals)) : undefined,
      ...(outcome.error ? { error: outcome.error } : {}),
    };
  } finally {
    prep.data.close();
    await prep.runner.release();
  }
}

function readEvals(runDir: string): Array<Record<string, number>> {
  try {
    return fs.readFileSync(path.join(runDir, RUN_FILES.metrics), 'utf8').split('\n').filter(Boolean)
      .map((l) => { try { return JSON.parse(l) as MetricLine; } catch { return undefined; } })
      .filter((m): m is MetricLine & { type: 'eval' } => m?.type === 'eval').map((m) => m.metrics as Record<string, number>);
  } catch {
    return [];
  }
}
