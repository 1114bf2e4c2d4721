// The benchmark batch: token ids with right padding (rows of different lengths, as real text
// batches have), an attention mask and class labels. Seeded, so every worker builds the same one.
import * as ort from 'onnxruntime-node';
import { mulberry32 } from '../../native-runtime/adapters/init';

export interface BenchBatch {
  input_ids: ort.Tensor;
  attention_mask: ort.Tensor;
  labels: ort.Tensor;
}

export function makeBatch(batch: number, seq: number, vocab: number, numLabels: number, seed: number): BenchBatch {
  const rand = mulberry32(seed);
  const ids = new BigInt64Array(batch * seq);
  const mask = new BigInt64Array(batch * seq);
  for (let b = 0; b < batch; b++) {
    // Row 0 is full length; the others keep between half and all of the positions.
    const len = b === 0 ? seq : Math.ceil(seq / 2 + rand() * (seq / 2));
    for (let t = 0; t < seq; t++) {
      mask[b * seq + t] = t < len ? 1n : 0n;
      ids[b * seq + t] = t < len ? BigInt(1 + Math.floor(rand() * (vocab - 1))) : 0n;
    }
  }
  const labels = BigInt64Array.from({ length: batch }, () => BigInt(Math.floor(rand() * numLabels)));
  return {
    input_ids: new ort.Tensor('int64', ids, [batch, seq]),
    attention_mask: new ort.Tensor('int64', mask, [batch, seq]),
    labels: new ort.Tensor('int64', labels, [batch]),
  };
}
