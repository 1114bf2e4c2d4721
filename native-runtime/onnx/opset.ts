// Which opsets the engine trains, and the opset the training step is built at.
//
// Models come exported at opset 13..18+. The step's own ops need more than the oldest of those:
// the gradient of Gather on an activation (CLS pooling `x[:, 0]`) and of strided Slices is a
// ScatterND with reduction="add", which exists only from opset 16. So the step graph declares
// at least STEP_MIN_OPSET. Raising a model's opset from 13..16 to 17 keeps the meaning of every
// op transformer exports use: the versions in between only widen types or add attributes whose
// defaults keep the old behaviour (Reshape allowzero, Shape start/end, Scatter* reduction,
// RNN layout); ReduceMean/ReduceMax keep `axes` as an attribute until 18, so 17 is also the
// highest opset whose forms equal 13's. RoiAlign-16 changed its default coordinate mode; a
// model with RoiAlign keeps its own opset.
import type { Model } from './ir';
import { defaultOpset } from './ir';

/** Adapters and training need opset >= 13 (Squeeze/Unsqueeze/ReduceSum/Split take axes as inputs). */
export const MIN_TRAIN_OPSET = 13;
/** The opset the training step is built at when the model's is older. */
export const STEP_MIN_OPSET = 17;

/** The message for a model too old to train; undefined when its opset is fine. */
export function opsetTooOld(model: Model): string | undefined {
  const v = defaultOpset(model);
  if (v >= MIN_TRAIN_OPSET) return undefined;
  return `model opset ${v} is too old: adapters and training need opset >= ${MIN_TRAIN_OPSET}; re-export the model with opset_version=17 (torch.onnx.export(..., opset_version=17), or optimum-cli export onnx --opset 17)`;
}

/** Throws the opset message for a model too old to train (call it before any other work). */
export function checkTrainableOpset(model: Model): void {
  const msg = opsetTooOld(model);
  if (msg) throw new Error(msg);
}

/**
 * Raises the default-domain opset of `model` (in place) to STEP_MIN_OPSET when it is lower and
 * every op keeps its meaning there (see the file comment). Returns the opset now declared.
 */
export function raiseToStepOpset(model: Model): number {
  const v = defaultOpset(model);
  if (v >= STEP_MIN_OPSET) return v;
  if (model.graph.nodes.some((n) => n.opType === 'RoiAlign' && (n.domain ?? '') === '')) return v;
  const imp = model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  if (imp) imp.version = STEP_MIN_OPSET;
  else model.opsetImports.push({ domain: '', version: STEP_MIN_OPSET });
  // Opset 17 needs IR version 8 (ORT refuses a newer opset under an older IR).
  model.irVersion = Math.max(model.irVersion || 8, 8);
  return STEP_MIN_OPSET;
}
