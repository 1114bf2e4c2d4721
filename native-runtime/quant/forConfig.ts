// model.weights_dtype for a resolved config: the quantized store a run trains with, and the
// float32 model with the same rounded weights that inspection and exports must use so that
// they compute the function the adapter was trained on (a merged export is the dequantized
// base plus ΔW).
import type { ResolvedConfig } from '../config/resolved';
import type { Graph, Model } from '../onnx/ir';
import { producers, tensorSize } from '../onnx/ir';
import { findLinearLayers } from '../adapters/targets';
import { resolveSavedTensors } from '../adapters/modulesToSave';
import { loadOrQuantize, type QuantizedStore } from './cache';
import { dequantize, type WeightsDtype } from './formats';
import { isLazyTensor } from '../onnx/proto';

/**
 * The weight of the model's output head (logits = x W (+ b), W possibly through a Transpose):
 * it stays float32, so that the chunked LM loss (which reads it inside a Loop) and every other
 * graph use the same head.
 */
export function outputHeadWeight(graph: Graph, logits: string | undefined): string | undefined {
  const out = logits ?? graph.outputs[0]?.name;
  if (!out) return undefined;
  const prod = producers(graph);
  let node = prod.get(out);
  if (node?.opType === 'Add') node = node.inputs.map((i) => prod.get(i)).find((n) => n?.opType === 'MatMul' || n?.opType === 'Gemm');
  if (!node || (node.opType !== 'MatMul' && node.opType !== 'Gemm')) return undefined;
  const w = node.inputs[1];
  if (graph.initializers.has(w)) return w;
  const tr = prod.get(w);
  return tr?.opType === 'Transpose' && graph.initializers.has(tr.inputs[0]) ? tr.inputs[0] : undefined;
}

/**
 * The output head's weight when it must stay float32: a [d, V] head (the chunked loss reads it
 * whole in every chunk). A [V, d] embedding table the head reads through a Transpose (tied
 * embeddings, train/tiedHead.ts) is quantized with the other tables: the chunked loss then
 * reads it a slice of rows at a time (train/vocabSlicedLoss.ts). Undefined when there is none.
 */
export function float32HeadWeight(graph: Graph, logits: string | undefined): string | undefined {
  const head = outputHeadWeight(graph, logits);
  if (!head) return undefined;
  const readTransposed = graph.nodes.some((n) => n.opType === 'Transpose' && n.inputs[0] === head);
  const gathered = graph.nodes.some((n) => n.opType === 'Gather' && n.inputs[0] === head);
  return readTransposed && gathered ? undefined : head;
}

/** The run's frozen weights in cfg.model.weights_dtype, or undefined for float32. */
export function quantizedWeightsFor(cfg: ResolvedConfig, model: Model, log?: (msg: string) => void): QuantizedStore | undefined {
  // A run directory written before weights_dtype existed has no such field: float32.
  return frozenWeightsIn(cfg.model.weights_dtype ?? 'float32', cfg.model.path, model, { output: cfg.model.output, modulesToSave: cfg.adapter.modules_to_save, log });
}

/**
 * The model's frozen weights in `dtype` (undefined for float32), without a config (benchmarks):
 * every quantizable weight except a float32 output head and the modules_to_save weights (trained
 * float32 parameters, not frozen). Load the model with `lazyExternalBytes` and call
 * releaseFloatWeights afterwards to keep float32 copies out of memory.
 */
export function frozenWeightsIn(dtype: WeightsDtype, modelPath: string, model: Model, opts: { output?: string; modulesToSave?: string[]; log?: (msg: string) => void } = {}): QuantizedStore | undefined {
  if (dtype === 'float32') return undefined;
  const head = float32HeadWeight(model.graph, opts.output);
  const saved = opts.modulesToSave?.length ? resolveSavedTensors(model, findLinearLayers(model), opts.modulesToSave).map((s) => s.name) : [];
  return loadOrQuantize(modelPath, model, dtype, { exclude: [...(head ? [head] : []), ...saved], log: opts.log });
}

/**
 * Lets go of the loaded float32 values of the weights the store holds (the step graphs read the
 * store instead): each becomes a placeholder with its name, type and shape but no data. Other
 * initializers that are views into the same file buffer are copied out, so that the buffer
 * itself can be freed. Specialisation's shape probe (onnx/foldProbe.ts) feeds a placeholder
 * it needs with zeros; nothing else reads these values.
 */
export function releaseFloatWeights(model: Model, store: QuantizedStore): void {
  const inits = model.graph.initializers;
  const buffers = new Set<ArrayBufferLike>();
  for (const name of store.weights.keys()) {
    const t = inits.get(name);
    if (!t) continue;
    // A lazy tensor (loadModel's lazyExternalBytes) holds nothing: its data is not read here.
    if (!isLazyTensor(t)) buffers.add((t.data as Float32Array).buffer);
    inits.set(name, { name: t.name, dtype: t.dtype, dims: t.dims, data: new Float32Array(0) });
  }
  for (const [name, t] of inits) {
    // The other lazy initializers are read now, once (every session then shares these values).
    if (isLazyTensor(t)) {
      inits.set(name, { name: t.name, dtype: t.dtype, dims: t.dims, data: t.data });
      continue;
    }
    if (isPlaceholder(t) || Array.isArray(t.data)) continue;
    const d = t.data as Float32Array;
    if (buffers.has(d.buffer) && d.byteLength < d.buffer.byteLength) inits.set(name, { ...t, data: d.slice() });
  }
}

/** A weight released by releaseFloatWeights (no data, non-empty shape). */
export function isPlaceholder(t: { dims: number[]; data: { length: number } }): boolean {
  return t.data.length === 0 && tensorSize(t.dims) > 0;
}

/** `model` with the store's weights replaced by their dequantized float32 values (a shallow copy). */
export function withDequantizedWeights(model: Model, store: QuantizedStore | undefined): Model {
  if (!store) return model;
  const initializers = new Map(model.graph.initializers);
  for (const [name, q] of store.weights) {
    const t = initializers.get(name);
    if (t) initializers.set(name, { ...t, data: dequantize(q) });
  }
  return { ...model, graph: { ...model.graph, initializers } };
}
