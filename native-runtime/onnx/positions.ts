// How many token positions a model embeds: the rows of its learned position-embedding table
// (BERT's `embeddings.position_embeddings.weight`, GPT-2's `wpe`). A data.max_length above it
// fails inside onnxruntime ("Incompatible dimensions" at the embeddings' Add), so a new config
// must not propose more. Undefined when the model has no such table (rotary or sinusoidal
// positions, or a non-text model).
import type { Model } from './ir';

const POSITION_TABLE = /position|(^|[./_])wpe([./_]|$)/i;

export function maxPositions(model: Model): number | undefined {
  for (const node of model.graph.nodes) {
    if (node.opType !== 'Gather') continue;
    const table = node.inputs[0];
    const t = model.graph.initializers.get(table);
    if (t && t.dims.length === 2 && (POSITION_TABLE.test(table) || POSITION_TABLE.test(node.name))) return t.dims[0];
  }
  return undefined;
}
