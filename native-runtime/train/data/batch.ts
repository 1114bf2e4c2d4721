// Collates examples into a batch of onnxruntime tensors keyed by model input names, plus
// `labels`: int64 [B] for classification, float32 [B] for regression, int64 [B, T] for token
// classification and causal LM (unshifted; -100 marks ignored positions).
import * as ort from 'onnxruntime-node';
import type { DataType, ValueInfo } from '../../onnx/ir';
import type { LabelScheme } from './labels';
import type { Example } from './record';

export interface Batch {
  tensors: Record<string, ort.Tensor>;
  size: number;
  /** Non-padding tokens in the batch. */
  tokens: number;
  /** Source lines of the examples (for error messages and per-example outputs). */
  lines: number[];
  /** Token strings of the first example, when tokenized here (router examples). */
  firstTokens?: string[];
}

export const LABELS = 'labels';

function makeTensor(dtype: DataType, values: number[], dims: number[], name: string): ort.Tensor {
  switch (dtype) {
    case 'int64': return new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
    case 'int32': return new ort.Tensor('int32', Int32Array.from(values), dims);
    case 'float32': return new ort.Tensor('float32', Float32Array.from(values), dims);
    case 'float64': return new ort.Tensor('float64', Float64Array.from(values), dims);
    case 'bool': return new ort.Tensor('bool', Uint8Array.from(values), dims);
    default: throw new Error(`model input ${name} has type ${dtype}, which the data pipeline cannot produce (int64, int32, float32, float64, bool)`);
  }
}

export function collate(examples: Example[], modelInputs: ValueInfo[], scheme: LabelScheme): Batch {
  if (examples.length === 0) throw new Error('collate: empty batch');
  const B = examples.length;
  const tensors: Record<string, ort.Tensor> = {};
  for (const m of modelInputs) {
    const first = examples[0].inputs.get(m.name);
    if (!first) throw new Error(`collate: example has no value for model input ${m.name}`);
    const values: number[] = [];
    for (const ex of examples) {
      const v = ex.inputs.get(m.name)!;
      if (v.dims.join('x') !== first.dims.join('x')) {
        throw new Error(`line ${ex.line}: ${m.name} has shape [${v.dims}] but line ${examples[0].line} has [${first.dims}]; records in a batch must agree`);
      }
      for (const x of v.data) values.push(x);
    }
    tensors[m.name] = makeTensor(m.dtype, values, [B, ...first.dims], m.name);
  }
  if (examples[0].label !== undefined) {
    if (Array.isArray(examples[0].label)) {
      const T = examples[0].label.length;
      const values: number[] = [];
      for (const ex of examples) values.push(...(ex.label as number[]));
      tensors[LABELS] = makeTensor('int64', values, [B, T], LABELS);
    } else {
      const values = examples.map((ex) => ex.label as number);
      tensors[LABELS] = makeTensor(scheme.kind === 'regression' ? 'float32' : 'int64', values, [B], LABELS);
    }
  }
  return {
    tensors,
    size: B,
    tokens: examples.reduce((s, ex) => s + ex.tokens, 0),
    lines: examples.map((ex) => ex.line),
    firstTokens: examples[0].tokenStrings,
  };
}
