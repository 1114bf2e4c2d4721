// Evaluation hooks the `train` command passes to the trainer: router statistics and spectra
// (native-runtime/inspect) register here, so the trainer does not depend on the inspect code.
import { inspectionHook } from '../inspect/inspection';
import type { EvaluateHook } from '../train/trainer';

export const EVALUATE_HOOKS: EvaluateHook[] = [inspectionHook()];
