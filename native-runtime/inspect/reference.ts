// One pass over a reference set (the eval set by default) with the adapted model: router
// statistics per Lily layer (and so the mixtures that freeze ΔW) plus the task metrics of the
// adapter on that set, from the same forward passes.
import type { TaskType } from '../config/types';
import type { AdapterSettings } from '../io/adapterWeights';
import type { TargetInfo } from '../runFiles';
import { LABELS, type Batch } from '../train/data/batch';
import { EvalAccumulator, type Metrics } from '../train/metrics';
import type { AdaptedRunner } from './adaptedRunner';
import { RouterStatsAccumulator } from './routerStats';

export interface ReferenceOptions {
  task: TaskType;
  /** The model output holding the logits. */
  logitsOutput: string;
  /** Class names by id, for per-class router means. */
  labelNames?: string[];
  /** Which reference input's per-token probabilities to keep (default 0, the first). */
  exampleIndex?: number;
  /** Attention-mask input name (for which rows count under masked/token routing). */
  maskInput?: string;
}

export interface ReferenceResult {
  /** Lily only. */
  router?: RouterStatsAccumulator;
  /** When the reference records carry labels. */
  metrics?: Metrics;
  samples: number;
}

export async function runReference(
  runner: AdaptedRunner, batches: Iterable<Batch>, values: Map<string, Float32Array>,
  settings: AdapterSettings, targets: TargetInfo[], opts: ReferenceOptions,
): Promise<ReferenceResult> {
  const router = settings.method === 'lily'
    ? new RouterStatsAccumulator(targets, {
      numB: settings.num_B,
      routing: settings.routing,
      labelNames: opts.labelNames,
      classes: opts.task === 'sequence-classification' ? 'sample' : opts.task === 'token-classification' ? 'token' : 'none',
      exampleIndex: opts.exampleIndex,
    })
    : undefined;
  const acc = new EvalAccumulator(opts.task);
  let labelled = true;
  let samples = 0;
  for (const batch of batches) {
    const { outputs, tokenProbs } = await runner.run(batch.tensors, values);
    const labels = batch.tensors[LABELS]?.data as ArrayLike<number | bigint> | undefined;
    const mask = opts.maskInput ? batch.tensors[opts.maskInput]?.data as ArrayLike<number | bigint> | undefined : undefined;
    router?.add({
      size: batch.size,
      tokenProbs,
      mask,
      labels,
      firstTokens: batch.firstTokens,
      inputIds: batch.tensors.input_ids?.data as ArrayLike<number | bigint> | undefined,
    });
    const logits = outputs[opts.logitsOutput];
    if (!logits) throw new Error(`the adapted model has no output "${opts.logitsOutput}"`);
    if (labels) acc.add(logits.data as Float32Array, logits.dims, labels);
    else labelled = false;
    samples += batch.size;
  }
  return { router, metrics: labelled && samples > 0 ? acc.result() : undefined, samples };
}
