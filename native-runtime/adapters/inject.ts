// Adapter injection as an IR transform: every matched linear layer `y = x W (+b)` becomes
// `y = x W (+b) + delta(x)`, with Lily's or LoRA's delta, and the adapter tensors (plus any
// `modules_to_save` initializers) become float32 graph inputs, each shared tensor exactly once.
//
// Internal tensor names and their PEFT counterparts (`base_model.model.<name>.weight`):
//   <module>.lily_A       [d_in, r]          PEFT lily_A.weight [r, d_in] (transposed); named after
//                                            the first layer of its A group, copied to every layer
//   <module>.lily_B       [num_B, r, d_out]  PEFT lily_B.weight [num_B*r, d_out] (same memory);
//                                            named after the first layer of the target
//   <module>.lily_router  [r, num_B]         PEFT lily_router.weight [num_B, r] (transposed)
//   <module>.lora_A       [d_in, r]          PEFT lora_A.weight [r, d_in] (transposed)
//   <module>.lora_B       [r, d_out]         PEFT lora_B.weight [d_out, r] (transposed)
// Router probabilities of each Lily layer are graph outputs `<module>.lily_router_probs` [num_B].
import type { Model, Node } from '../onnx/ir';
import { GraphBuilder, attr, tensorSize } from '../onnx/ir';
import type { TargetInfo } from '../runFiles';
import type { ResolvedAdapter } from './defaults';
import { Emitter, staticShape } from './emit';
import { kaimingUniform } from './init';
import { LayerContext, type MaskColumn } from './layerContext';
import { emitLilyDelta } from './lily';
import { emitLoraDelta } from './lora';
import { resolveSavedTensors, type SavedTensor } from './modulesToSave';
import { findLinearLayers, matchTargets, type LinearLayer } from './targets';

export type AdapterTensorRole = 'lily_A' | 'lily_B' | 'lily_router' | 'lora_A' | 'lora_B' | 'saved';

/** A trainable tensor: a float32 graph input of the adapted model. */
export interface AdapterParam {
  name: string;
  dims: number[];
  role: AdapterTensorRole;
  init: Float32Array;
}

export interface AdaptedLayer {
  module: string;
  /** Key of its sharing group (MatchedTarget.key). */
  target: string;
  /** Index within the target, model order. */
  index: number;
  /** Lily: which A it uses (floor(index / stride_A)); LoRA: its own index. */
  a_group: number;
  layer: LinearLayer;
  tensors: { A: string; B: string; router?: string };
  /** Lily: graph output [num_B] holding the mean router probabilities of this forward pass. */
  routerOutput?: string;
  /** Lily with `exposeTokenProbs`: graph output [rows, num_B] with per-row router probabilities. */
  tokenProbsOutput?: string;
}

export interface Injection {
  config: ResolvedAdapter;
  targets: TargetInfo[];
  layers: AdaptedLayer[];
  /** Adapter tensors (target by target, in creation order), then modules_to_save tensors. */
  params: AdapterParam[];
  saved: SavedTensor[];
}

export interface InjectOptions {
  /** Seed of the default initialisation (default 42). */
  seed?: number;
  /** Initial values keyed by internal name; tensors not in the map get the default initialisation. */
  initial?: Map<string, Float32Array>;
  /** Name of the attention-mask graph input; required by `masked` routing. */
  maskInput?: string;
  /** Also output per-row router probabilities (for router statistics over a reference set). */
  exposeTokenProbs?: boolean;
}

const ROUTER_SUFFIX = '.lily_router_probs';
const TOKEN_PROBS_SUFFIX = '.lily_router_token_probs';

/** Adds the adapter to `model` in place and returns what was added. */
export function injectAdapters(model: Model, cfg: ResolvedAdapter, opts: InjectOptions = {}): Injection {
  const g = model.graph;
  const seed = opts.seed ?? 42;
  const linear = findLinearLayers(model);
  const matched = matchTargets(linear, cfg);
  const e = new Emitter(new GraphBuilder(g), model);
  const params: AdapterParam[] = [];
  const addParam = (name: string, dims: number[], role: AdapterTensorRole, init: Float32Array) => {
    params.push({ name, dims, role, init });
    g.inputs.push({ name, dtype: 'float32', shape: dims });
  };

  // Sharing: one A per stride_A consecutive layers, one B pool per target (Lily).
  const layers: AdaptedLayer[] = [];
  for (const t of matched) {
    if (cfg.method === 'lily') {
      const bName = `${t.layers[0].module}.lily_B`;
      addParam(bName, [cfg.num_B, cfg.r, t.d_out], 'lily_B', new Float32Array(cfg.num_B * cfg.r * t.d_out));
      let aName = '';
      t.layers.forEach((l, i) => {
        const group = Math.floor(i / cfg.stride_A);
        if (i % cfg.stride_A === 0) {
          aName = `${l.module}.lily_A`;
          addParam(aName, [t.d_in, cfg.r], 'lily_A', kaimingUniform(t.d_in * cfg.r, t.d_in, seed, aName));
        }
        const router = `${l.module}.lily_router`;
        addParam(router, [cfg.r, cfg.num_B], 'lily_router', kaimingUniform(cfg.r * cfg.num_B, cfg.r, seed, router));
        layers.push({ module: l.module, target: t.key, index: i, a_group: group, layer: l, tensors: { A: aName, B: bName, router } });
      });
    } else {
      t.layers.forEach((l, i) => {
        const A = `${l.module}.lora_A`;
        const B = `${l.module}.lora_B`;
        addParam(A, [t.d_in, cfg.r], 'lora_A', kaimingUniform(t.d_in * cfg.r, t.d_in, seed, A));
        addParam(B, [cfg.r, t.d_out], 'lora_B', new Float32Array(cfg.r * t.d_out));
        layers.push({ module: l.module, target: t.key, index: i, a_group: i, layer: l, tensors: { A, B } });
      });
    }
  }

  const maskColumn = prepareMask(model, e, cfg, opts.maskInput);
  const nodeByName = new Map(g.nodes.map((n) => [n.name, n]));
  const order = new Map(g.nodes.map((n, i) => [n.name, i]));
  const inModelOrder = [...layers].sort((a, b) => order.get(a.layer.node)! - order.get(b.layer.node)!);
  for (const al of inModelOrder) {
    const node = nodeByName.get(al.layer.node)!;
    const start = g.nodes.length;
    emitLayer(model, e, node, al, cfg, maskColumn, opts.exposeTokenProbs ?? false);
    // Keep the node list topologically sorted: the new nodes go right after the base node.
    const added = g.nodes.splice(start);
    g.nodes.splice(g.nodes.indexOf(node) + 1, 0, ...added);
  }

  const saved = resolveSavedTensors(model, linear, cfg.modules_to_save);
  for (const s of saved) {
    const t = g.initializers.get(s.name)!;
    g.initializers.delete(s.name);
    addParam(s.name, [...t.dims], 'saved', Float32Array.from(t.data as Float32Array));
  }

  applyInitial(params, opts.initial);
  const targets: TargetInfo[] = matched.map((t) => ({
    target: t.key,
    d_in: t.d_in,
    d_out: t.d_out,
    layers: layers.filter((l) => l.target === t.key).map((l) => ({ module: l.module, index: l.index, a_group: l.a_group })),
  }));
  return { config: cfg, targets, layers, params, saved };
}

/** The attention mask as a float column [rows, 1] and its count, emitted once at the top of the graph. */
function prepareMask(model: Model, e: Emitter, cfg: ResolvedAdapter, maskInput: string | undefined): MaskColumn | undefined {
  if (cfg.method !== 'lily') return undefined;
  if (cfg.routing === 'masked' && !maskInput) {
    throw new Error('adapter.routing is "masked" but the model has no attention-mask input to average over; give the mask input name, or use routing "batch" or "token"');
  }
  if (!maskInput || cfg.routing === 'batch') return undefined;
  if (!model.graph.inputs.some((i) => i.name === maskInput)) {
    throw new Error(`attention-mask input "${maskInput}" is not an input of the model (inputs: ${model.graph.inputs.map((i) => i.name).join(', ')})`);
  }
  const g = model.graph;
  const start = g.nodes.length;
  const rows = tensorSize(staticShape(model, maskInput) ?? [-1]);
  const scope = 'lily_mask';
  // Through bool: a packed row's mask holds document numbers (1, 2, ...), each a real token.
  const real = e.op('Cast', [maskInput], { to: attr.i(9) }, staticShape(model, maskInput), scope, 'bool');
  const asFloat = e.op('Cast', [real], { to: attr.i(1) }, staticShape(model, maskInput), scope);
  const column = e.setShape(e.reshape(asFloat, [-1, 1], scope), [rows, 1]);
  const total = e.setShape(e.reduceSum(column, undefined, false, scope), []);
  const count = e.op('Max', [total, e.scalar(1, `${scope}/one`)], {}, [], scope);
  g.nodes.unshift(...g.nodes.splice(start));
  return { column, count, rows };
}

function emitLayer(model: Model, e: Emitter, node: Node, al: AdaptedLayer, cfg: ResolvedAdapter, mask: MaskColumn | undefined, exposeTokenProbs: boolean): void {
  const g = model.graph;
  const b = e.b;
  const { d_in: dIn, d_out: dOut } = al.layer;
  const scope = al.module;
  const x = node.inputs[0];
  const y = node.outputs[0];
  const xShape = staticShape(model, x);
  const yShape = staticShape(model, y);
  const rows = xShape ? tensorSize(xShape) / dIn : -1;
  const xRank = (g.valueInfo.get(x) ?? g.inputs.find((i) => i.name === x))?.shape?.length;

  // Rename the base output; the adapted sum takes over its name, so consumers are untouched.
  const yBase = b.fresh(`${scope}/base_out`);
  node.outputs[0] = yBase;
  const yInfo = g.valueInfo.get(y);
  if (yInfo) g.valueInfo.set(yBase, { ...yInfo, name: yBase });

  const ctx0 = (maskCol: MaskColumn | undefined, x2: string) => new LayerContext(e, scope, x2, rows, maskCol);
  const x2 = xShape && xShape.length === 2 ? x : e.reshape(x, [-1, dIn], scope);
  if (x2 !== x) e.setShape(x2, [rows, dIn]);

  let delta2: string;
  if (cfg.method === 'lily') {
    // The mask applies to layers that see one row per token; others (a pooled head) average over their rows.
    const perToken = (xRank ?? 3) >= 3 && (rows < 0 || mask === undefined || mask.rows < 0 || rows === mask.rows);
    const useMask = mask && perToken ? mask : undefined;
    const ctx = ctx0(useMask, x2);
    const out = emitLilyDelta(ctx, { A: al.tensors.A, B: al.tensors.B, router: al.tensors.router! }, { r: cfg.r, num_B: cfg.num_B, d_out: dOut, scaling: cfg.scaling, routing: cfg.routing });
    delta2 = out.delta;
    al.routerOutput = `${scope}${ROUTER_SUFFIX}`;
    b.op('Reshape', [out.probs, b.constInt64([cfg.num_B], false, `${scope}/shape`)], {}, { outputs: [al.routerOutput], scope });
    e.setShape(al.routerOutput, [cfg.num_B]);
    g.outputs.push({ name: al.routerOutput, dtype: 'float32', shape: [cfg.num_B] });
    if (exposeTokenProbs) {
      al.tokenProbsOutput = `${scope}${TOKEN_PROBS_SUFFIX}`;
      b.op('Identity', [out.tokenProbs], {}, { outputs: [al.tokenProbsOutput], scope });
      g.outputs.push({ name: al.tokenProbsOutput, dtype: 'float32', shape: [rows >= 0 ? rows : 'rows', cfg.num_B] });
    }
  } else {
    delta2 = emitLoraDelta(ctx0(undefined, x2), { A: al.tensors.A, B: al.tensors.B }, { r: cfg.r, d_out: dOut, scaling: cfg.lora_alpha / cfg.r });
  }

  let delta = delta2;
  if (!(yShape && yShape.length === 2)) {
    const shape = yShape ? b.constInt64(yShape, false, `${scope}/shape`) : b.op1('Shape', [yBase], {}, scope);
    delta = b.op1('Reshape', [delta2, shape], {}, scope);
    e.setShape(delta, yShape);
  }
  b.op('Add', [yBase, delta], {}, { outputs: [y], scope });
}

function applyInitial(params: AdapterParam[], initial: Map<string, Float32Array> | undefined): void {
  if (!initial) return;
  const byName = new Map(params.map((p) => [p.name, p]));
  for (const [name, values] of initial) {
    const p = byName.get(name);
    if (!p) {
      const known = params.slice(0, 6).map((q) => q.name).join(', ');
      throw new Error(`initial adapter tensor "${name}" is not a tensor of this adapter (expected names like ${known}, ...); check that the adapter file was made for this model and target_modules`);
    }
    if (values.length !== p.init.length) {
      throw new Error(`initial adapter tensor "${name}" has ${values.length} values, expected ${p.init.length} (shape [${p.dims.join(', ')}]); check r, num_B and the model`);
    }
    p.init = Float32Array.from(values);
  }
}

/** Turns adapter inputs into initializers holding `values` (an adapted model for inference/export). */
export function bakeAdapterParams(model: Model, injection: Injection, values: Map<string, Float32Array>): void {
  const g = model.graph;
  for (const p of injection.params) {
    const data = values.get(p.name) ?? p.init;
    g.initializers.set(p.name, { name: p.name, dtype: 'float32', dims: [...p.dims], data: Float32Array.from(data) });
  }
  const names = new Set(injection.params.map((p) => p.name));
  g.inputs = g.inputs.filter((i) => !names.has(i.name));
}
