// `modules_to_save`: whole modules trained besides the adapter (typically a classifier head).
// A name selects the weight and bias of the linear layer with that module path, plus any
// initializer named `<name>` or `<name>.<something>` (e.g. a LayerNorm's weight and bias).
import { closest } from 'fastest-levenshtein';
import type { Model } from '../onnx/ir';
import type { LinearLayer } from './targets';

export interface SavedTensor {
  /** Initializer name in the ONNX model (also the internal parameter name). */
  name: string;
  /** The `modules_to_save` entry that selected it. */
  module: string;
  /** Key in PEFT/torch state dicts, without the `base_model.model.` prefix, e.g. `classifier.weight`. */
  peftName: string;
  /** True when the ONNX tensor is the transpose of the torch one (a MatMul weight stored [d_in, d_out]). */
  transposed: boolean;
}

export function resolveSavedTensors(model: Model, linear: LinearLayer[], names: string[]): SavedTensor[] {
  const g = model.graph;
  const out: SavedTensor[] = [];
  const taken = new Set<string>();
  const take = (t: SavedTensor) => {
    if (taken.has(t.name)) return;
    untieIdentityCopy(model, t.name);
    const init = g.initializers.get(t.name);
    if (!init || init.dtype !== 'float32') return;
    taken.add(t.name);
    out.push(t);
  };
  for (const module of names) {
    const before = out.length;
    for (const l of linear.filter((x) => x.module === module)) {
      // torch Linear weight is [d_out, d_in]: Gemm transB=1 and Transpose-fed MatMul store it so.
      take({ name: l.weight, module, peftName: `${module}.weight`, transposed: !l.transB });
      if (l.bias) take({ name: l.bias, module, peftName: `${module}.bias`, transposed: false });
    }
    for (const name of g.initializers.keys()) {
      if (name === module || name.startsWith(`${module}.`)) take({ name, module, peftName: name, transposed: false });
    }
    if (out.length === before) {
      const candidates = [...new Set([...linear.map((l) => l.module), ...[...g.initializers.keys()].filter((k) => !k.includes('::')).map((k) => k.replace(/\.(weight|bias)$/, ''))])];
      const hint = candidates.length ? ` (did you mean "${closest(module, candidates)}"?)` : '';
      throw new Error(`adapter.modules_to_save: "${module}" names no float parameter of the model${hint}; give a module path such as a linear layer's name`);
    }
  }
  return out;
}

/**
 * TorchScript exports keep one copy of identical initializers and feed the others through
 * `Identity` (a fresh head's zero bias becomes `Identity(some.LayerNorm.bias)`). Training the
 * tensor in full needs its own copy: the Identity is replaced by an initializer of that name,
 * so the weight it was tied to by value stays frozen. Tensors with no such Identity are left alone.
 */
function untieIdentityCopy(model: Model, name: string): void {
  const g = model.graph;
  if (g.initializers.has(name)) return;
  const at = g.nodes.findIndex((n) => n.opType === 'Identity' && (n.domain === '' || n.domain === 'ai.onnx') && n.outputs[0] === name);
  if (at < 0) return;
  const source = g.initializers.get(g.nodes[at].inputs[0]);
  if (!source || source.dtype !== 'float32') return;
  g.initializers.set(name, { name, dtype: source.dtype, dims: [...source.dims], data: (source.data as Float32Array).slice() });
  g.nodes.splice(at, 1);
}
