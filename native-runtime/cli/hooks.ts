// Evaluation hooks the `train` command passes to the trainer, so the trainer does not depend on
// the inspect code: after each evaluation, router statistics (router_stats.json) and the
// spectra of ΔW (spectrum.json) of the current adapter over the eval set.
import { inspectionHook } from '../inspect/inspection';
import type { EvaluateHook } from '../train/trainer';

export const EVALUATE_HOOKS: EvaluateHook[] = [inspectionHook()];
