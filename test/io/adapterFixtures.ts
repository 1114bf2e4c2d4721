// Synthetic adapters for io tests: realistic module names (incl. layer.10 after layer.2),
// two targets, deterministic values.
import { type AdapterSettings, type AdapterWeights, type LilySettings, type LoraSettings, expectedAdapterShapes } from '../../native-runtime/io/adapterWeights';
import type { TargetInfo } from '../../native-runtime/runFiles';

export function values(n: number, seed: number): Float32Array {
  // A small LCG: distinct, reproducible, non-trivial values.
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

export function makeTargets(settings: AdapterSettings, layersValue = 11): TargetInfo[] {
  const group = (i: number) => (settings.method === 'lily' ? Math.floor(i / settings.stride_A) : i);
  return [
    {
      target: 'attention.self.value', d_in: 6, d_out: 5,
      layers: Array.from({ length: layersValue }, (_, i) => ({ module: `roberta.encoder.layer.${i}.attention.self.value`, index: i, a_group: group(i) })),
    },
    {
      target: 'output.dense', d_in: 5, d_out: 7,
      layers: Array.from({ length: 2 }, (_, i) => ({ module: `roberta.encoder.layer.${i}.output.dense`, index: i, a_group: group(i) })),
    },
  ];
}

export const lilySettings = (): LilySettings => ({
  method: 'lily', r: 3, stride_A: 4, num_B: 2, scaling: 0.5, routing: 'masked',
  target_modules: ['attention.self.value', 'output.dense'], modules_to_save: ['classifier'],
});

export const loraSettings = (): LoraSettings => ({
  method: 'lora', r: 2, lora_alpha: 4, target_modules: ['attention.self.value', 'output.dense'], modules_to_save: ['classifier'],
});

/** Weights with every tensor filled, plus a classifier saved transposed (MatMul layout) and its bias. */
export function makeWeights(settings: AdapterSettings, layersValue = 11): AdapterWeights {
  const targets = makeTargets(settings, layersValue);
  const tensors = new Map<string, { dims: number[]; data: Float32Array }>();
  let seed = 1;
  for (const [name, dims] of expectedAdapterShapes(settings, targets)) {
    tensors.set(name, { dims, data: values(dims.reduce((a, b) => a * b, 1), seed++) });
  }
  tensors.set('onnx::MatMul_99', { dims: [7, 3], data: values(21, 99) }); // [d_in, d_out], torch has [3, 7]
  tensors.set('classifier.bias', { dims: [3], data: values(3, 98) });
  return {
    settings, targets, tensors,
    saved: [
      { name: 'onnx::MatMul_99', peftName: 'classifier.weight', transposed: true },
      { name: 'classifier.bias', peftName: 'classifier.bias', transposed: false },
    ],
  };
}
