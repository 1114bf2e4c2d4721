// The base model with the adapter injected, kept with dynamic shapes so one graph serves every
// batch shape: for inspection (adapter tensors stay graph inputs, per-token router
// probabilities are extra outputs) and for the adapted-ONNX export (adapter tensors baked in as
// initializers, no router outputs: the exact Lily subgraph and nothing else).
//
// Why ranks are annotated first: masked/token routing applies the attention mask only to layers
// that see one row per token ([batch, tokens, d] inputs), and the injection decides that from the
// rank of the layer input. Exported models often carry no shape information for intermediate
// values, so the ranks are learned once by specialising a copy to a probe shape (an ORT probe
// run) and written back with symbolic dims, which keeps the graph shape-agnostic.
import type { ResolvedAdapter } from '../adapters/defaults';
import { bakeAdapterParams, injectAdapters, type Injection } from '../adapters/inject';
import { findLinearLayers } from '../adapters/targets';
import type { AdapterSettings } from '../io/adapterWeights';
import type { Model } from '../onnx/ir';
import { removeDeadCode } from '../onnx/foldDeadCode';
import { cloneModel, specialize } from '../onnx/specialize';

export interface AdaptedModelOptions {
  /** Attention-mask input (masked/token routing); default `attention_mask` when the model has it. */
  maskInput?: string;
  /** Concrete shapes of the dynamic inputs, to learn the rank of each layer input (masked/token routing). */
  probeShapes?: Record<string, number[]>;
  /** Also output per-row router probabilities `<module>.lily_router_token_probs`. */
  exposeTokenProbs?: boolean;
  /** Model outputs to keep (default: all of the base model's). */
  outputs?: string[];
}

export interface AdaptedModel {
  model: Model;
  injection: Injection;
}

export function defaultMaskInput(model: Model): string | undefined {
  return model.graph.inputs.some((i) => i.name === 'attention_mask') ? 'attention_mask' : undefined;
}

function needsMask(settings: AdapterSettings, maskInput: string | undefined): boolean {
  return settings.method === 'lily' && settings.routing !== 'batch' && maskInput !== undefined;
}

/** Writes the rank of every linear layer's input into valueInfo (symbolic dims, known last dim). */
async function annotateLayerInputRanks(model: Model, probeShapes: Record<string, number[]>): Promise<void> {
  const g = model.graph;
  const xs = [...new Set(findLinearLayers(model).map((l) => g.nodes.find((n) => n.name === l.node)!.inputs[0]))]
    .filter((x) => !g.valueInfo.get(x)?.shape && !g.inputs.some((i) => i.name === x));
  if (xs.length === 0) return;
  const probed = await specialize(model, probeShapes, { keepOutputs: xs });
  for (const x of xs) {
    const vi = probed.graph.valueInfo.get(x);
    if (!vi?.shape) continue;
    const last = vi.shape.length - 1;
    g.valueInfo.set(x, { name: x, dtype: vi.dtype, shape: vi.shape.map((d, k) => (k === last ? d : `${x}_dim${k}`)) });
  }
}

/** Injects the adapter into a copy of `base`; adapter tensors are graph inputs (see Injection.params). */
export async function buildAdaptedModel(base: Model, settings: AdapterSettings, opts: AdaptedModelOptions = {}): Promise<AdaptedModel> {
  const model = cloneModel(base);
  const g = model.graph;
  if (opts.outputs) {
    const missing = opts.outputs.filter((o) => !g.outputs.some((x) => x.name === o));
    if (missing.length) throw new Error(`model output "${missing[0]}" does not exist (outputs: ${g.outputs.map((o) => o.name).join(', ')})`);
    g.outputs = g.outputs.filter((o) => opts.outputs!.includes(o.name));
  }
  const maskInput = opts.maskInput ?? defaultMaskInput(model);
  if (needsMask(settings, maskInput)) {
    if (!opts.probeShapes) throw new Error(`${settings.method === 'lily' ? settings.routing : ''} routing needs probe input shapes to tell token-level layers from pooled ones`);
    await annotateLayerInputRanks(model, opts.probeShapes);
  }
  const cfg = { ...settings, modules_to_save: settings.modules_to_save ?? [] } as ResolvedAdapter;
  const injection = injectAdapters(model, cfg, { maskInput, exposeTokenProbs: opts.exposeTokenProbs });
  return { model, injection };
}

/**
 * The adapted model for inference: adapter (and modules_to_save) tensors baked in from `values`
 * (missing ones keep the injection's initial value), router outputs removed, dead nodes dropped.
 */
export async function buildInferenceModel(base: Model, settings: AdapterSettings, values: Map<string, Float32Array>, opts: Omit<AdaptedModelOptions, 'exposeTokenProbs'> = {}): Promise<Model> {
  const { model, injection } = await buildAdaptedModel(base, settings, { ...opts, exposeTokenProbs: false });
  const known = new Set(injection.params.map((p) => p.name));
  const unknown = [...values.keys()].filter((k) => !known.has(k));
  if (unknown.length) throw new Error(`adapter tensor "${unknown[0]}" is not a tensor of this model's adapter (expected names like ${[...known].slice(0, 3).join(', ')}); the adapter was made for another model or target_modules`);
  bakeAdapterParams(model, injection, values);
  const routerOutputs = new Set(injection.layers.flatMap((l) => [l.routerOutput, l.tokenProbsOutput]).filter((o): o is string => !!o));
  model.graph.outputs = model.graph.outputs.filter((o) => !routerOutputs.has(o.name));
  removeDeadCode(model.graph);
  return model;
}
