// The merged model: routing frozen at its mean over a calibration set makes each ΔW_l static, so
// it folds into the base weight (W' = W + ΔW) and the adapter costs nothing at inference. The
// result is the plain base graph with edited initializers (and the trained modules_to_save
// tensors written in); no node is added.
//
// ΔW is [d_in, d_out] (y = x W). A MatMul weight is stored that way; Gemm with transB=1 and a
// MatMul fed through Transpose store [d_out, d_in], so they receive ΔWᵀ. A weight initializer
// that other nodes also read (tied embeddings, a shared Transpose) is never edited in place:
// the layer gets its own merged copy, and the other readers keep the original.
import type { AdapterWeights } from '../io/adapterWeights';
import type { Model, Node, Tensor } from '../onnx/ir';
import { GraphBuilder, consumers } from '../onnx/ir';
import { removeDeadCode } from '../onnx/foldDeadCode';
import { cloneModel } from '../onnx/specialize';
import { findLinearLayers, type LinearLayer } from '../adapters/targets';
import { explicitDelta, layerDeltas, type Mixtures } from './deltaFactors';

export interface MergeResult {
  model: Model;
  /** Per merged layer: the initializer that now holds W + ΔW. */
  layers: Array<{ module: string; weight: string; copied: boolean }>;
}

function float32(t: Tensor, what: string): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`${what}: initializer ${t.name} is ${t.dtype}; merging supports float32 weights only`);
  return t.data as Float32Array;
}

/** W (+) ΔW in the weight's stored layout, as a new float32 array. */
function addDelta(w: Float32Array, delta: Float64Array, dIn: number, dOut: number, transposed: boolean): Float32Array {
  const out = new Float32Array(w.length);
  if (!transposed) {
    for (let k = 0; k < w.length; k++) out[k] = w[k] + delta[k];
  } else {
    for (let o = 0; o < dOut; o++) for (let i = 0; i < dIn; i++) out[o * dIn + i] = w[o * dIn + i] + delta[i * dOut + o];
  }
  return out;
}

export function mergeAdapter(base: Model, w: AdapterWeights, mixtures: Mixtures | undefined): MergeResult {
  const model = cloneModel(base);
  const g = model.graph;
  // Trained modules_to_save tensors first: a merged layer may read one (e.g. an adapted head).
  for (const s of w.saved) {
    const init = g.initializers.get(s.name);
    const t = w.tensors.get(s.name)!;
    if (!init) throw new Error(`modules_to_save tensor "${s.name}" is not an initializer of the model; the adapter was trained on another model`);
    if (init.dims.join(',') !== t.dims.join(',')) throw new Error(`modules_to_save tensor "${s.name}" has shape [${t.dims}] but the model's initializer has [${init.dims}]`);
    g.initializers.set(s.name, { name: s.name, dtype: 'float32', dims: [...init.dims], data: Float32Array.from(t.data) });
  }

  const byModule = new Map(findLinearLayers(model).map((l) => [l.module, l]));
  const nodeByName = new Map(g.nodes.map((n) => [n.name, n]));
  const readers = consumers(g);
  const b = new GraphBuilder(g);
  const layers: MergeResult['layers'] = [];
  for (const d of layerDeltas(w, mixtures)) {
    const layer = byModule.get(d.module);
    if (!layer) throw new Error(`adapted layer "${d.module}" is not a linear layer of the model (it has ${[...byModule.keys()].slice(0, 4).join(', ')}, ...); the adapter was trained on another model`);
    if (layer.d_in !== d.target.d_in || layer.d_out !== d.target.d_out) {
      throw new Error(`adapted layer "${d.module}" is ${d.target.d_in}x${d.target.d_out} in the adapter but ${layer.d_in}x${layer.d_out} in the model`);
    }
    const delta = explicitDelta(d);
    const node = nodeByName.get(layer.node)!;
    layers.push(foldInto(g, b, readers, node, layer, delta));
  }
  // A Transpose bypassed by a merged copy may have no reader left.
  removeDeadCode(g);
  return { model, layers };
}

function foldInto(g: Model['graph'], b: GraphBuilder, readers: Map<string, Node[]>, node: Node, layer: LinearLayer, delta: Float64Array): MergeResult['layers'][number] {
  const weight = g.initializers.get(layer.weight)!;
  const w = float32(weight, layer.module);
  const { d_in: dIn, d_out: dOut } = layer;
  const weightReaders = readers.get(layer.weight) ?? [];
  // The node that reads the initializer: the layer itself, or the Transpose in front of a MatMul.
  const viaTranspose = layer.kind === 'matmul' && layer.transB;
  const transposeNode = viaTranspose ? weightReaders.find((n) => n.opType === 'Transpose' && n.outputs[0] === node.inputs[1]) : undefined;
  const exclusive = viaTranspose
    ? weightReaders.length === 1 && !!transposeNode && (readers.get(transposeNode.outputs[0]) ?? []).length === 1
    : weightReaders.length === 1;
  if (exclusive) {
    g.initializers.set(layer.weight, { ...weight, dims: [...weight.dims], data: addDelta(w, delta, dIn, dOut, layer.transB) });
    return { module: layer.module, weight: layer.weight, copied: false };
  }
  // Shared: give this layer its own copy. A MatMul then reads it directly in [d_in, d_out] layout.
  const name = b.fresh(`${layer.module}.merged_weight`);
  if (layer.kind === 'gemm') {
    g.initializers.set(name, { name, dtype: 'float32', dims: [...weight.dims], data: addDelta(w, delta, dIn, dOut, layer.transB) });
  } else {
    const data = new Float32Array(dIn * dOut);
    for (let i = 0; i < dIn; i++) {
      for (let o = 0; o < dOut; o++) data[i * dOut + o] = (layer.transB ? w[o * dIn + i] : w[i * dOut + o]) + delta[i * dOut + o];
    }
    g.initializers.set(name, { name, dtype: 'float32', dims: [dIn, dOut], data });
  }
  node.inputs[1] = name;
  return { module: layer.module, weight: name, copied: true };
}
