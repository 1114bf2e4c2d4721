// The classification head a sequence/token-classification or regression fine-tune must train
// besides the adapter. A model imported from a base checkpoint (e.g. `bert-base-uncased` with
// a new `BertForSequenceClassification` head) starts with a randomly initialised head: if it
// stays frozen, the adapter alone has to fit labels through random class directions and accuracy
// stays near chance. PEFT handles this by adding its SEQ_CLS/TOKEN_CLS defaults `classifier` and
// `score` to `modules_to_save`; proposals here follow the same names.
import type { Model } from '../onnx/ir';
import type { LinearLayer } from './targets';

/** PEFT's `modules_to_save` defaults for classification tasks (peft/utils/constants). */
const HEAD_NAMES = ['classifier', 'score'];

/**
 * `modules_to_save` entries covering the model's classification head, [] when it has none.
 * A head that is one linear layer (BERT's `classifier`, Llama's `score`) is named as is; a head
 * made of several (RoBERTa's `classifier.dense` + `classifier.out_proj`) is listed per layer,
 * because exporters may rename its weights, which only the linear layer's module path survives.
 */
export function proposeHeadModules(model: Model, linear: LinearLayer[]): string[] {
  const out: string[] = [];
  for (const head of HEAD_NAMES) {
    const layers = [...new Set(linear.map((l) => l.module).filter((m) => m === head || m.startsWith(`${head}.`)))];
    if (layers.includes(head)) out.push(head);
    else if (layers.length) out.push(...layers.sort());
    else if ([...model.graph.initializers.keys()].some((k) => k === `${head}.weight`)) out.push(head);
  }
  return out;
}
