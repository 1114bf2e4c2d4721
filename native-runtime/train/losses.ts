// Task losses appended to the forward graph, from standard ops that the autodiff rules cover
// (LogSoftmax, Mul, ReduceSum, Sub, Div), so the gradient comes from the same walker as the
// rest of the model rather than a hand-written loss gradient.
//
// Cross-entropy is written without GatherElements: a one-hot of the labels (Equal against
// 0..C-1) selects the log-probabilities. A label of -100 (or any id outside 0..C-1) matches no
// class, so its row contributes nothing, which is exactly "ignore index -100"; the mean is over
// rows with a valid label (at least 1, so an all-ignored batch gives loss 0, not NaN).
import type { DataType, Model } from '../onnx/ir';
import { attr, tensorSize } from '../onnx/ir';
import type { TaskType } from '../config/types';
import { type Emitter, staticShape } from '../adapters/emit';

export const IGNORE_INDEX = -100;

export interface LossGraph {
  /** Scalar float loss (mean over valid labels). */
  loss: string;
  /** Scalar float: number of labels the mean ran over (to average eval loss over batches). */
  count: string;
  /** The labels graph input added for the task. */
  labels: { name: string; dtype: DataType; shape: number[] };
}

/**
 * Adds the task's loss on `logits` and a labels input named `labelInput`:
 * - sequence-classification: logits [batch, C], labels int64 [batch]; or, packed, logits
 *   [batch, documents, C], labels int64 [batch, documents] (-100 for an empty slot);
 * - regression: logits [batch, 1] or [batch], labels float32 [batch] (MSE);
 * - token-classification: logits [batch, seq, C], labels int64 [batch, seq], -100 ignored;
 * - causal-lm: logits [batch, seq, V], labels int64 [batch, seq] (usually the input ids with
 *   -100 at padding); position t is scored against labels[t + 1], as Hugging Face shifts them.
 */
export function addLoss(model: Model, e: Emitter, task: TaskType, logits: string, labelInput: string): LossGraph {
  const shape = staticShape(model, logits);
  if (!shape) throw new Error(`loss: the logits output "${logits}" has no static shape; specialise the model to a batch shape first`);
  const g = model.graph;
  if (g.inputs.some((i) => i.name === labelInput)) {
    throw new Error(`loss: the model already has an input named "${labelInput}"; choose another label input name`);
  }
  const scope = 'loss';
  switch (task) {
    case 'sequence-classification': {
      // [batch, documents, num_labels]: a packed classifier (data.packing) scores every document
      // of a row; empty document slots carry the label -100, so the mean is over real documents.
      if (shape.length !== 2 && shape.length !== 3) throw new Error(`loss (sequence-classification): logits "${logits}" have shape [${shape.join(', ')}]; expected [batch, num_labels] (or [batch, documents, num_labels] for packed rows)`);
      const labelShape = shape.slice(0, -1);
      const labels = addInput(model, labelInput, 'int64', labelShape);
      return { ...crossEntropy(e, logits, labels, shape, scope), labels: { name: labels, dtype: 'int64', shape: labelShape } };
    }
    case 'token-classification':
    case 'causal-lm': {
      if (shape.length !== 3) throw new Error(`loss (${task}): logits "${logits}" have shape [${shape.join(', ')}]; expected [batch, seq, classes]`);
      const [bsz, seq] = shape;
      const labels = addInput(model, labelInput, 'int64', [bsz, seq]);
      const targets = task === 'causal-lm' ? shiftLeft(e, labels, bsz, seq, scope) : labels;
      return { ...crossEntropy(e, logits, targets, shape, scope), labels: { name: labels, dtype: 'int64', shape: [bsz, seq] } };
    }
    case 'regression': {
      if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
        throw new Error(`loss (regression): logits "${logits}" have shape [${shape.join(', ')}]; expected [batch] or [batch, 1]`);
      }
      const n = shape[0];
      const labels = addInput(model, labelInput, 'float32', [n]);
      const pred = e.setShape(e.reshape(logits, [n], scope), [n]);
      const diff = e.op('Sub', [pred, labels], {}, [n], scope);
      const sq = e.op('Mul', [diff, diff], {}, [n], scope);
      const loss = e.setShape(e.reduceMean(sq, undefined, false, scope), []);
      return { loss, count: e.scalar(n, `${scope}/count`), labels: { name: labels, dtype: 'float32', shape: [n] } };
    }
    default:
      throw new Error(`loss: unknown task ${JSON.stringify(task)}; expected sequence-classification, regression, causal-lm or token-classification`);
  }
}

function addInput(model: Model, name: string, dtype: DataType, shape: number[]): string {
  model.graph.inputs.push({ name, dtype, shape });
  return name;
}

/** labels[:, 1:] followed by -100: the next-token targets of each position. */
function shiftLeft(e: Emitter, labels: string, bsz: number, seq: number, scope: string): string {
  const b = e.b;
  const rest = e.op('Slice', [labels, b.constInt64([1], false, `${scope}/start`), b.constInt64([seq], false, `${scope}/end`), b.constInt64([1], false, `${scope}/axis`)], {}, [bsz, seq - 1], scope, 'int64');
  const pad = b.constant({ name: `${scope}/ignore`, dtype: 'int64', dims: [bsz, 1], data: new BigInt64Array(bsz).fill(BigInt(IGNORE_INDEX)) });
  return e.op('Concat', [rest, pad], { axis: attr.i(1) }, [bsz, seq], scope, 'int64');
}

/** Mean cross-entropy of logits [..., C] against int64 labels [...] (ignored: ids outside 0..C-1). */
function crossEntropy(e: Emitter, logits: string, labels: string, shape: number[], scope: string): { loss: string; count: string } {
  const b = e.b;
  const c = shape[shape.length - 1];
  const rows = tensorSize(shape) / c;
  const flat = shape.length === 2 ? logits : e.setShape(e.reshape(logits, [rows, c], scope), [rows, c]);
  const logp = e.op('LogSoftmax', [flat], { axis: attr.i(1) }, [rows, c], scope);
  const labelCol = e.setShape(e.reshape(labels, [rows, 1], scope), [rows, 1], 'int64');
  const classes = b.constant({ name: `${scope}/classes`, dtype: 'int64', dims: [1, c], data: BigInt64Array.from({ length: c }, (_, i) => BigInt(i)) });
  const hit = e.op('Equal', [labelCol, classes], {}, [rows, c], scope, 'bool');
  const oneHot = e.op('Cast', [hit], { to: attr.i(1) }, [rows, c], scope);
  const picked = e.op('Mul', [oneHot, logp], {}, [rows, c], scope);
  const total = e.setShape(e.reduceSum(picked, undefined, false, scope), []);
  const validRows = e.setShape(e.reduceSum(oneHot, undefined, false, scope), []);
  const count = e.op('Max', [validRows, e.scalar(1, `${scope}/one`)], {}, [], scope);
  const mean = e.op('Div', [total, count], {}, [], scope);
  return { loss: e.op('Neg', [mean], {}, [], scope), count };
}
