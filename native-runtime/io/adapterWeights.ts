// The in-memory form of a trained adapter: each unique tensor once, under the internal names the
// adapter injection uses (native-runtime/adapters/inject.ts), plus the sharing structure.
// Writers (PEFT folder, compact native file) and readers convert to and from this.
//
// Internal names and layouts (math layout: the graph computes x A, h B):
//   <first module of the A group>.lily_A   [d_in, r]
//   <first module of the target>.lily_B    [num_B, r, d_out]
//   <module>.lily_router                   [r, num_B]
//   <module>.lora_A                        [d_in, r]
//   <module>.lora_B                        [r, d_out]
//   modules_to_save tensors: the model's initializer name and layout (see SavedTensorSpec)
import type { ResolvedLilyAdapter, ResolvedLoraAdapter } from '../config/resolved';
import type { TargetInfo } from '../runFiles';

export interface NamedTensor {
  dims: number[];
  data: Float32Array;
}

/** Lily and LoRA hyperparameters: the resolved config's adapter section without `init`. */
export type LilySettings = Omit<ResolvedLilyAdapter, 'init'>;
export type LoraSettings = Omit<ResolvedLoraAdapter, 'init'>;
export type AdapterSettings = LilySettings | LoraSettings;

/** A modules_to_save tensor (the adapters module's SavedTensor fits this shape). */
export interface SavedTensorSpec {
  /** Internal name: the ONNX initializer name. */
  name: string;
  /** Name in torch/PEFT state dicts without `base_model.model.`, e.g. `classifier.weight`. */
  peftName: string;
  /** True when the internal tensor is the transpose of the torch one (a 2-D weight stored [d_in, d_out]). */
  transposed: boolean;
}

export interface AdapterWeights {
  settings: AdapterSettings;
  /** Sharing structure: per target, its layers in model order with their A group. */
  targets: TargetInfo[];
  /** Every unique tensor once: adapter tensors and modules_to_save tensors, by internal name. */
  tensors: Map<string, NamedTensor>;
  saved: SavedTensorSpec[];
}

/** The internal tensor names one adapted layer uses. */
export interface LayerTensorNames {
  module: string;
  A: string;
  B: string;
  router?: string;
}

/** Names of the tensors each layer of a target uses, following the injection's naming rule. */
export function layerTensorNames(method: 'lily' | 'lora', target: TargetInfo): LayerTensorNames[] {
  if (method === 'lora') return target.layers.map((l) => ({ module: l.module, A: `${l.module}.lora_A`, B: `${l.module}.lora_B` }));
  const firstOfGroup = new Map<number, string>();
  for (const l of target.layers) if (!firstOfGroup.has(l.a_group)) firstOfGroup.set(l.a_group, l.module);
  const B = `${target.layers[0].module}.lily_B`;
  return target.layers.map((l) => ({ module: l.module, A: `${firstOfGroup.get(l.a_group)}.lily_A`, B, router: `${l.module}.lily_router` }));
}

/** The shape every internal adapter tensor must have, by name. */
export function expectedAdapterShapes(settings: AdapterSettings, targets: TargetInfo[]): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const t of targets) {
    for (const n of layerTensorNames(settings.method, t)) {
      if (settings.method === 'lily') {
        shapes.set(n.A, [t.d_in, settings.r]);
        shapes.set(n.B, [settings.num_B, settings.r, t.d_out]);
        shapes.set(n.router!, [settings.r, settings.num_B]);
      } else {
        shapes.set(n.A, [t.d_in, settings.r]);
        shapes.set(n.B, [settings.r, t.d_out]);
      }
    }
  }
  return shapes;
}

/** Throws, naming the tensor, when a tensor is missing or has the wrong shape or size. */
export function checkAdapterWeights(w: AdapterWeights, source: string): void {
  const problems: string[] = [];
  for (const [name, dims] of expectedAdapterShapes(w.settings, w.targets)) {
    const t = w.tensors.get(name);
    if (!t) problems.push(`tensor "${name}" is missing`);
    else if (t.dims.join(',') !== dims.join(',')) problems.push(`tensor "${name}" has shape [${t.dims}], expected [${dims}]`);
  }
  for (const s of w.saved) if (!w.tensors.has(s.name)) problems.push(`modules_to_save tensor "${s.name}" is missing`);
  for (const [name, t] of w.tensors) {
    const n = t.dims.reduce((a, b) => a * b, 1);
    if (t.data.length !== n) problems.push(`tensor "${name}" has ${t.data.length} values but shape [${t.dims}] needs ${n}`);
  }
  if (problems.length) throw new Error(`${source}: inconsistent adapter weights: ${problems.join('; ')}`);
}

/** A 2-D transpose ([rows, cols] -> [cols, rows]). */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j];
  return out;
}

/** Largest absolute elementwise difference (Infinity for different lengths, NaN-aware). */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > m || (Number.isNaN(d) && !(Number.isNaN(a[i]) && Number.isNaN(b[i])))) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** Numeric-aware comparison, so `layer.10` sorts after `layer.2` (model order of typical names). */
export function compareModuleNames(a: string, b: string): number {
  const pa = a.match(/\d+|\D+/g) ?? [];
  const pb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === y) continue;
    const nx = /^\d/.test(x);
    const ny = /^\d/.test(y);
    if (nx && ny) return Number(x) - Number(y) || x.length - y.length;
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}
