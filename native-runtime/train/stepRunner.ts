// Runs training steps: one ORT session per batch shape. Training batches share one shape (the
// data pipeline drops an epoch's last partial batch), but the eval set's last batch, or a train
// set smaller than one batch, can be smaller: padding would change Lily's batch-mean routing, so
// a second shape is compiled rather than padded. Parameters and optimizer states live in
// preallocated Float32Array pairs shared by every shape: each step reads `cur` and ORT writes
// into `next` (preallocated outputs), then the two swap, so no parameter-sized array is
// allocated by us per step.
import * as ort from 'onnxruntime-node';
import type { Model } from '../onnx/ir';
import { modelToSessionInput } from '../onnx/proto';
import { createSession, type Device, type DeviceRequest } from '../onnx/session';
import type { AdapterParam } from '../adapters/inject';
import { buildTrainingStep, STEP_IO, type StepOptions, type TrainingStepGraphs } from './step';
import { forwardProducts } from './forwardProducts';

export interface RunnerOptions extends Omit<StepOptions, 'inputShapes'> {
  device?: DeviceRequest;
  threads?: number;
  /**
   * Evaluation only (`lily eval`): open no training session (the gradient + optimizer graph is
   * the larger one for ORT to optimise); `step` refuses.
   */
  evalOnly?: boolean;
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Feed the frozen float32 weights to every session as inputs from one set of buffers instead
   * of handing them to ORT as initializers, which ORT copies into each session. With several
   * batch shapes (length buckets) or an eval session beside the train one, each extra session
   * then costs its activations only, not another copy of the model.
   */
  shareFrozenWeights?: boolean;
  /**
   * runtime.pack_weights (default off here; the trainer settles "auto" with autoPackWeights):
   * true, the train session packs every frozen weight for the matrix products (ORT prepacking):
   * with shareFrozenWeights it then keeps its own initializers (packed as W for x·W and as Wᵀ for
   * the input gradients: two copies) while other sessions share. 'forward': with
   * shareFrozenWeights, the weights the forward products read (x·W) stay shared for every other
   * reader, and the train session holds one packed copy for those products. Off, each product
   * packs its weight on the fly: 8-12% more CPU per step on Llama-style d 512/1024 at 4x512.
   */
  prepackTrain?: boolean | 'forward';
  /**
   * With shareFrozenWeights: the train session keeps the LM head packed (keptHead below). Only
   * for runs with one train shape (packing): every length bucket's session would hold its own
   * copy and packed forms (16 buckets at Llama d 512: +3.1 GB, measured). Default false.
   */
  packHead?: boolean;
  /**
   * The train sessions' ORT CPU memory arena (session.ts memoryArena; default on). ORT keeps one
   * arena per session at its largest run and never gives it back, so with several train shapes
   * (length buckets) the process holds the sum of their peaks: bench clm-512 with 4 buckets
   * 3.4 GB against 1.5 GB without arenas, which costs page faults on every run instead (measured
   * in README "Benchmarks"). The eval session of a training run never keeps an arena: it runs
   * rarely and its peak would otherwise stay beside the train session's for the whole run.
   */
  memoryArena?: boolean;
}

export interface StepResult {
  loss: number;
  gradNorm: number;
  /** Mean router probabilities [num_B] per adapted Lily layer (module -> probs), this batch. */
  routerProbs: Map<string, Float32Array>;
  /** With `exposeGradients`: the raw (unclipped) gradients of this step, by parameter. */
  grads?: Map<string, Float32Array>;
}

export interface EvalResult {
  loss: number;
  /** Number of labels the loss averaged over. */
  count: number;
  /** The logits; absent when the eval graph computes the head in chunks (then `tokens`). */
  logits?: ort.Tensor;
  /** Chunked head: per-position arg-max predictions [batch, seq] (int64) and target log-probabilities [batch, seq]. */
  tokens?: { predictions: ort.Tensor; labelLogp: ort.Tensor };
  routerProbs: Map<string, Float32Array>;
  /** With exposeTokenProbs: per-row router probabilities [rows, num_B] per layer. */
  tokenProbs?: Map<string, ort.Tensor>;
}

export interface OptimizerStateSnapshot {
  /** Optimizer steps taken so far. */
  step: number;
  /** `<param>.<slot>` -> values (copies). */
  tensors: Map<string, Float32Array>;
}

/** A double buffer: ORT reads `cur`, writes `next`; then they swap. */
class Slot {
  cur: ort.Tensor;
  next: ort.Tensor;
  constructor(readonly dims: number[], init?: Float32Array) {
    const n = dims.reduce((a, b) => a * b, 1);
    this.cur = new ort.Tensor('float32', init ? Float32Array.from(init) : new Float32Array(n), dims);
    this.next = new ort.Tensor('float32', new Float32Array(n), dims);
  }
  swap(): void {
    const t = this.cur;
    this.cur = this.next;
    this.next = t;
  }
  get data(): Float32Array {
    return this.cur.data as Float32Array;
  }
}

interface Compiled {
  graphs: TrainingStepGraphs;
  train?: ort.InferenceSession;
  eval?: ort.InferenceSession;
  /** Frozen weights each session takes as inputs (shareFrozenWeights). */
  lifted: { train: string[]; eval: string[] };
  /** prepackTrain 'forward': the shared weights the train session also holds packed for x·W. */
  packed?: string[];
}

/** Float32 initializers at least this large (elements) are shared as inputs. */
const SHARED_WEIGHT_MIN_ELEMENTS = 1024;
/** prepackTrain 'forward': the name of a weight's packed copy in the train session. */
const PACKED_SUFFIX = '::packed';

export class StepRunner {
  private readonly compiled = new Map<string, Promise<Compiled>>();
  private readonly paramSlots = new Map<string, Slot>();
  private readonly stateSlots = new Map<string, Slot[]>();
  /** shareFrozenWeights: one tensor per frozen weight, fed to every session. */
  private readonly frozen = new Map<string, { data: unknown; tensor: ort.Tensor }>();
  private steps = 0;
  device: Device | undefined;
  deviceNote: string | undefined;

  private constructor(private readonly model: Model, private readonly opts: RunnerOptions, private readonly first: TrainingStepGraphs) {
    for (const p of first.params) {
      this.paramSlots.set(p.name, new Slot(p.dims, p.init));
      this.stateSlots.set(p.name, first.optimizer.stateSlots.map(() => new Slot(p.dims)));
    }
  }

  /** Builds the step for `inputShapes` (the usual batch shape) and opens its session. */
  static async create(model: Model, inputShapes: Record<string, number[]>, opts: RunnerOptions, prebuilt?: TrainingStepGraphs): Promise<StepRunner> {
    // `prebuilt`: the graphs of buildTrainingStep(model, {...opts, inputShapes}) when the caller
    // already built them (the trainer estimates memory from them before any session exists).
    const graphs = prebuilt ?? await buildTrainingStep(model, { ...opts, inputShapes });
    const runner = new StepRunner(model, opts, graphs);
    runner.compiled.set(shapeKey(inputShapes), Promise.resolve({ graphs, lifted: { train: [], eval: [] } }));
    await runner.session(inputShapes, opts.evalOnly ? 'eval' : 'train');
    return runner;
  }

  /**
   * Builds the step graph for another batch shape and opens its session now (e.g. every length
   * bucket at start-up), so that no step later pays for it. Frozen weights are shared with the
   * graphs already open, and the trainable and optimizer buffers are the same ones.
   */
  async prepare(inputShapes: Record<string, number[]>): Promise<void> {
    await this.session(inputShapes, this.opts.evalOnly ? 'eval' : 'train');
  }

  /** Trainable tensors in a fixed order (adapter tensors, then modules_to_save). */
  get params(): Array<Pick<AdapterParam, 'name' | 'dims' | 'role'>> {
    return this.first.params.map((p) => ({ name: p.name, dims: [...p.dims], role: p.role }));
  }

  get graphs(): TrainingStepGraphs {
    return this.first;
  }

  get stepCount(): number {
    return this.steps;
  }

  /** One optimizer step on `batch` (data inputs and `labels`) with learning rate `lr`. */
  async step(batch: Record<string, ort.Tensor>, lr: number): Promise<StepResult> {
    if (this.opts.evalOnly) throw new Error('StepRunner: created with evalOnly (for evaluation), it cannot take training steps; create it without evalOnly to train');
    const shapes = this.batchShapes(batch);
    const c = await this.compiledFor(shapes);
    const { graphs } = c;
    const session = await this.session(shapes, 'train');
    const t = this.steps + 1;
    const feeds: Record<string, ort.Tensor> = { ...this.dataFeeds(batch, graphs), ...this.frozenFeeds(c.lifted.train), [STEP_IO.lr]: scalar(lr), [STEP_IO.step]: scalar(t) };
    const fetches: Record<string, ort.Tensor | null> = { [STEP_IO.loss]: null, [STEP_IO.gradNorm]: null };
    for (const r of graphs.routerOutputs) fetches[r.output] = null;
    for (const g of graphs.gradOutputs?.values() ?? []) fetches[g] = null;
    for (const p of graphs.params) {
      const slot = this.paramSlots.get(p.name)!;
      feeds[p.name] = slot.cur;
      fetches[graphs.optimizer.paramOutputs.get(p.name)!] = slot.next;
      const st = graphs.optimizer.states.get(p.name)!;
      this.stateSlots.get(p.name)!.forEach((s, k) => {
        feeds[st.inputs[k]] = s.cur;
        fetches[st.outputs[k]] = s.next;
      });
    }
    const out = await session.run(feeds, fetches);
    for (const s of this.paramSlots.values()) s.swap();
    for (const list of this.stateSlots.values()) for (const s of list) s.swap();
    this.steps = t;
    return {
      loss: (out[STEP_IO.loss].data as Float32Array)[0],
      gradNorm: (out[STEP_IO.gradNorm].data as Float32Array)[0],
      routerProbs: new Map(graphs.routerOutputs.map((r) => [r.module, out[r.output].data as Float32Array])),
      grads: graphs.gradOutputs && new Map([...graphs.gradOutputs].map(([p, g]) => [p, out[g].data as Float32Array])),
    };
  }

  /** Forward + loss on `batch` with the current parameters; no update. */
  async evaluate(batch: Record<string, ort.Tensor>): Promise<EvalResult> {
    const shapes = this.batchShapes(batch);
    const c = await this.compiledFor(shapes);
    const { graphs } = c;
    const session = await this.session(shapes, 'eval');
    const feeds: Record<string, ort.Tensor> = { ...this.dataFeeds(batch, graphs), ...this.frozenFeeds(c.lifted.eval) };
    for (const p of graphs.params) feeds[p.name] = this.paramSlots.get(p.name)!.cur;
    const out = await session.run(feeds);
    const tokenOutputs = graphs.routerOutputs.filter((r) => r.tokenOutput);
    return {
      loss: (out[STEP_IO.loss].data as Float32Array)[0],
      count: (out[STEP_IO.lossCount].data as Float32Array)[0],
      logits: graphs.evalTokens ? undefined : out[graphs.logits],
      tokens: graphs.evalTokens && { predictions: out[graphs.evalTokens.predictions], labelLogp: out[graphs.evalTokens.labelLogp] },
      routerProbs: new Map(graphs.routerOutputs.map((r) => [r.module, out[r.output].data as Float32Array])),
      tokenProbs: tokenOutputs.length ? new Map(tokenOutputs.map((r) => [r.module, out[r.tokenOutput!]])) : undefined,
    };
  }

  /** The current trainable tensors, by internal name, without copying (valid until the next step). */
  paramViews(): Array<[string, Float32Array]> {
    return [...this.paramSlots].map(([k, s]) => [k, s.data]);
  }

  /** Copies of the current trainable tensors, by internal name. */
  getParams(): Map<string, Float32Array> {
    return new Map([...this.paramSlots].map(([k, s]) => [k, Float32Array.from(s.data)]));
  }

  /** Overwrites trainable tensors (e.g. when resuming); names and sizes must match. */
  setParams(values: Map<string, Float32Array>): void {
    for (const [name, v] of values) {
      const slot = this.paramSlots.get(name);
      if (!slot) throw new Error(`setParams: "${name}" is not a trainable tensor of this run (have ${[...this.paramSlots.keys()].slice(0, 5).join(', ')}, ...)`);
      if (v.length !== slot.data.length) throw new Error(`setParams: "${name}" has ${v.length} values, expected ${slot.data.length} (shape [${slot.dims.join(', ')}])`);
      slot.data.set(v);
    }
  }

  getOptimizerState(): OptimizerStateSnapshot {
    const tensors = new Map<string, Float32Array>();
    const slots = this.first.optimizer.stateSlots;
    for (const [name, list] of this.stateSlots) list.forEach((s, k) => tensors.set(`${name}.${slots[k]}`, Float32Array.from(s.data)));
    return { step: this.steps, tensors };
  }

  setOptimizerState(state: OptimizerStateSnapshot): void {
    const slots = this.first.optimizer.stateSlots;
    for (const [name, list] of this.stateSlots) {
      list.forEach((s, k) => {
        const key = `${name}.${slots[k]}`;
        const v = state.tensors.get(key);
        if (!v) throw new Error(`setOptimizerState: the checkpoint has no "${key}" (was it written by another optimizer or adapter?)`);
        if (v.length !== s.data.length) throw new Error(`setOptimizerState: "${key}" has ${v.length} values, expected ${s.data.length}`);
        s.data.set(v);
      });
    }
    this.steps = state.step;
  }

  async release(): Promise<void> {
    for (const c of this.compiled.values()) {
      const done = await c;
      await done.train?.release();
      await done.eval?.release();
      done.train = done.eval = undefined;
    }
    this.compiled.clear();
  }

  /**
   * With shareFrozenWeights: `model` with its large float32 initializers turned into inputs
   * (the same tensor objects for every session), and their names.
   */
  private liftFrozen(model: Model, quantizedFeeds: readonly string[], kind: 'train' | 'eval', keep?: string): { model: Model; lifted: string[]; packed?: string[] } {
    // Quantized weights (model.weights_dtype) are always inputs: one copy for every session, and
    // onnxruntime cannot constant-fold their dequantization back into float32 initializers.
    const quantized = new Set(quantizedFeeds);
    // A session can only pack initializers: with prepackTrain the train session keeps its own.
    const share = !!this.opts.shareFrozenWeights && !(kind === 'train' && this.opts.prepackTrain === true);
    if (!share && quantized.size === 0) return { model, lifted: [] };
    const initializers = new Map(model.graph.initializers);
    const inputs = [...model.graph.inputs];
    const lifted: string[] = [];
    // prepackTrain 'forward': the forward products' weights stay initializers too (packed once).
    const forward = kind === 'train' && this.opts.prepackTrain === 'forward' ? forwardProducts(model.graph, SHARED_WEIGHT_MIN_ELEMENTS) : undefined;
    let nodes = model.graph.nodes;
    const packed: string[] = [];
    for (const [name, t] of model.graph.initializers) {
      const isQuantized = quantized.has(name) && (t.data instanceof Int8Array || t.data instanceof Uint8Array || t.data instanceof Float32Array);
      const isShared = share && t.dtype === 'float32' && t.data instanceof Float32Array && t.data.length >= SHARED_WEIGHT_MIN_ELEMENTS;
      if ((!isQuantized && !isShared) || name === keep) continue;
      let f = this.frozen.get(name);
      if (!f) {
        f = { data: t.data, tensor: new ort.Tensor(t.dtype as 'float32' | 'int8' | 'uint8', t.data as Float32Array | Int8Array | Uint8Array, t.dims) };
        this.frozen.set(name, f);
      } else if (f.data !== t.data) continue; // same name, other values (a shape-specific constant): stays
      initializers.delete(name);
      inputs.push({ name, dtype: t.dtype, shape: [...t.dims] });
      lifted.push(name);
      const readers = forward?.get(name);
      if (readers && !isQuantized) {
        // The same buffer under a second name, read by the forward products only: onnxruntime
        // packs it and, with no other reader, keeps just the packed form.
        const own = `${name}${PACKED_SUFFIX}`;
        initializers.set(own, { ...t, name: own });
        let rewired = 0;
        nodes = nodes.map((n) => {
          if (!readers.has(n)) return n;
          rewired++;
          return { ...n, inputs: n.inputs.map((i, k) => (k === 1 && i === name ? own : i)) };
        });
        // (Listed only when a product reads the copy: what the tests check.)
        if (rewired > 0) packed.push(name);
      }
    }
    return { model: { ...model, graph: { ...model.graph, initializers, inputs, nodes } }, lifted, ...(forward ? { packed } : {}) };
  }

  private frozenFeeds(names: string[]): Record<string, ort.Tensor> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const n of names) feeds[n] = this.frozen.get(n)!.tensor;
    return feeds;
  }

  private batchShapes(batch: Record<string, ort.Tensor>): Record<string, number[]> {
    const shapes: Record<string, number[]> = {};
    for (const name of this.first.dataInputs) {
      const t = batch[name];
      if (!t) throw new Error(`batch: missing model input "${name}" (the batch has ${Object.keys(batch).join(', ')})`);
      shapes[name] = [...t.dims];
    }
    if (!batch[this.first.labels.name]) throw new Error(`batch: missing "${this.first.labels.name}" (the labels of the ${this.opts.task} task)`);
    return shapes;
  }

  private dataFeeds(batch: Record<string, ort.Tensor>, graphs: TrainingStepGraphs): Record<string, ort.Tensor> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of graphs.dataInputs) feeds[name] = batch[name];
    const labels = batch[graphs.labels.name];
    if (labels.type !== graphs.labels.dtype) {
      throw new Error(`batch: "${graphs.labels.name}" is ${labels.type}, expected ${graphs.labels.dtype} for the ${this.opts.task} task`);
    }
    feeds[graphs.labels.name] = labels;
    return feeds;
  }

  private compiledFor(shapes: Record<string, number[]>): Promise<Compiled> {
    const key = shapeKey(shapes);
    let c = this.compiled.get(key);
    if (!c) {
      // Same adapter config and seed: identical tensor names and shapes; the values stay ours.
      c = buildTrainingStep(this.model, { ...this.opts, inputShapes: shapes }).then((graphs) => ({ graphs, lifted: { train: [], eval: [] } }));
      this.compiled.set(key, c);
      c.catch(() => this.compiled.delete(key));
    }
    return c;
  }

  private async session(shapes: Record<string, number[]>, kind: 'train' | 'eval'): Promise<ort.InferenceSession> {
    const c = await this.compiledFor(shapes);
    const have = c[kind];
    if (have) return have;
    const head = kind === 'train' ? keptHead(c.graphs, this.opts) : undefined;
    const { model, lifted, packed } = this.liftFrozen(c.graphs[kind], c.graphs.quantized?.feeds ?? [], kind, head);
    c.lifted[kind] = lifted;
    if (packed) c.packed = packed;
    // Weights travel as views (no 340 MB serialised copy for a BERT-base-sized model).
    const { bytes, externalData } = modelToSessionInput(model);
    const { session, device, note } = await createSession(bytes, {
      // Every shape runs where the first one landed (`auto` must not pick differently later).
      device: this.device ?? this.opts.device ?? 'cpu',
      threads: this.opts.threads,
      optimization: this.opts.optimization,
      externalData,
      // The step reads every frozen weight as W and as W^T: packed, that is two copies.
      prepack: kind === 'train' ? !!this.opts.prepackTrain || !!head : undefined,
      // ORT's one-block plan of a step's intermediates held about twice the live set; for the
      // eval session it is a second block beside the arena (clm-512 eval: +1.1 GB on its 2nd run).
      memoryPattern: kind === 'train' || !this.opts.evalOnly ? false : undefined,
      memoryArena: this.arenaFor(kind),
    });
    if (!this.device) {
      this.device = device;
      this.deviceNote = note;
    }
    c[kind] = session;
    return session;
  }

  /** Whether a session of `kind` keeps ORT's CPU arena (see RunnerOptions.memoryArena). */
  private arenaFor(kind: 'train' | 'eval'): boolean {
    if (kind === 'eval') return !!this.opts.evalOnly;
    return this.opts.memoryArena ?? true;
  }
}

function scalar(v: number): ort.Tensor {
  return new ort.Tensor('float32', Float32Array.of(v), []);
}

function shapeKey(shapes: Record<string, number[]>): string {
  return JSON.stringify(Object.keys(shapes).sort().map((k) => [k, shapes[k]]));
}

/**
 * The chunked LM loss's head weight that a train session keeps as its own, packed initializer
 * while the other frozen weights are shared inputs. Inside the loss's Loop the head's two
 * products per chunk re-pack the [d, V] weight on every call when it is an input: measured at
 * Llama d 512, V 32000, 4x512, 1 thread, the loss Loop takes 983 CPU ms with the shared input
 * and 829 ms with the head prepacked, for +3x the head (its copy and two packed forms, ~190 MB
 * there) of memory. Not with runtime.pack_weights (every weight is packed then), a quantized head
 * (read a vocabulary slice at a time), gradient checkpointing (the run asked for memory over
 * time), nor a head over KEPT_HEAD_MAX_BYTES (Qwen2.5-0.5B's 151936 x 896 table would cost 1.6 GB).
 */
export function keptHead(graphs: TrainingStepGraphs, opts: Pick<RunnerOptions, 'shareFrozenWeights' | 'prepackTrain' | 'packHead' | 'gradientCheckpointing'>): string | undefined {
  const chunks = graphs.lossChunks;
  if (!opts.shareFrozenWeights || opts.prepackTrain === true || !opts.packHead || opts.gradientCheckpointing || !chunks || chunks.vocabSlice) return undefined;
  const t = graphs.train.graph.initializers.get(chunks.weight);
  const ok = t && t.dtype === 'float32' && t.data instanceof Float32Array && t.data.length > 0 && t.data.length * 4 <= KEPT_HEAD_MAX_BYTES;
  return ok ? chunks.weight : undefined;
}

/** How the runner holds the frozen weights, as estimateStepMemory counts them (memoryEstimate.ts EstimateOptions). */
export function weightsLayout(graphs: TrainingStepGraphs, opts: Pick<RunnerOptions, 'shareFrozenWeights' | 'prepackTrain' | 'packHead' | 'gradientCheckpointing'>): { sharedWeights: boolean; packedWeights: boolean | 'forward'; forwardPackedBytes?: number; keptHead?: string } {
  const forward = opts.prepackTrain === 'forward' && opts.shareFrozenWeights ? forwardPackedBytes(graphs.train.graph) : undefined;
  return { sharedWeights: !!opts.shareFrozenWeights, packedWeights: forward !== undefined ? 'forward' : !!opts.prepackTrain, ...(forward !== undefined ? { forwardPackedBytes: forward } : {}), keptHead: keptHead(graphs, opts) };
}

/** The float32 bytes of the weights prepackTrain 'forward' packs (each once). */
export function forwardPackedBytes(g: TrainingStepGraphs['train']['graph']): number {
  let bytes = 0;
  for (const name of forwardProducts(g, SHARED_WEIGHT_MIN_ELEMENTS).keys()) bytes += (g.initializers.get(name)!.data as Float32Array).byteLength;
  return bytes;
}

/**
 * runtime.pack_weights "auto": the forward products' weights packed ('forward') when the run
 * trains on the CPU (a GPU provider would hold the copy in device memory for nothing) with
 * one train shape and shared weights (data.packing: with length buckets every bucket's session
 * would hold its own packed copy), no gradient checkpointing (that run asked for memory over
 * time), and the packed copy takes at most 1/8 of the machine's memory; otherwise none.
 */
export function autoPackWeights(graphs: TrainingStepGraphs, run: { cpu: boolean; oneTrainShape: boolean; gradientCheckpointing?: boolean; machineBytes: number }): 'forward' | false {
  if (!run.cpu || !run.oneTrainShape || run.gradientCheckpointing) return false;
  const bytes = forwardPackedBytes(graphs.train.graph);
  return bytes > 0 && bytes <= run.machineBytes / 8 ? 'forward' : false;
}

/** The largest LM head a train session packs on its own (a d 1024, V 32000 head is 125 MiB). */
export const KEPT_HEAD_MAX_BYTES = 128 * 2 ** 20;

