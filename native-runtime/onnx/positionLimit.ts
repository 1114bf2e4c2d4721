// The longest sequence a model can embed: the rows of its learned position-embedding table.
// Feeding longer sequences fails deep inside onnxruntime (`Add ... Incompatible dimensions` when
// the exported position ids are a slice of a fixed-length buffer; `Gather ... indices element out
// of data bounds` when they are computed), so training reads the limit first and checks
// data.max_length against it.
//
// The table is the data input of a Gather whose indices are computed (not a graph input, which
// would make it a token-embedding lookup) and whose name says "position" (`position_embeddings`,
// `pos_embed`, GPT-2's `wpe`). RoBERTa-style models number positions from padding_idx + 1
// (position ids from a CumSum over the padding mask): Hugging Face's padding_idx is 1, so two
// rows are unusable there.
import type { Model } from './ir';

export interface PositionLimit {
  /** Longest sequence (tokens) the model can take. */
  maxPositions: number;
  /** The initializer it was read from, for messages. */
  table: string;
}

const POSITION_NAME = /position|pos_emb|(^|[._/])wpe([._/]|$)/i;
/** Rows before the first usable position when position ids come from a CumSum over the mask. */
const ROBERTA_OFFSET = 2;

export function positionLimit(model: Model): PositionLimit | undefined {
  const g = model.graph;
  const graphInputs = new Set(g.inputs.map((i) => i.name));
  let best: PositionLimit | undefined;
  const cumsumPositions = g.nodes.some((n) => n.opType === 'CumSum');
  for (const n of g.nodes) {
    if (n.opType !== 'Gather' || graphInputs.has(n.inputs[1])) continue;
    const table = g.initializers.get(n.inputs[0]);
    if (!table || table.dims.length !== 2 || !POSITION_NAME.test(table.name)) continue;
    const rows = table.dims[0] - (cumsumPositions ? ROBERTA_OFFSET : 0);
    if (rows > 0 && (!best || rows < best.maxPositions)) best = { maxPositions: rows, table: table.name };
  }
  return best;
}
