// Expected peak memory of a training run, modelled from the step graphs before any session
// exists (`lily train --dry-run`, and the check that refuses a run that cannot fit).
//
// Parts (bytes):
// - weights: the frozen initializers, held once by the loaded model (views into the file's
//   bytes) and once more by each ORT session (train, and eval when the run evaluates), unless
//   the sessions take them as inputs (StepRunner's shareFrozenWeights); with model.weights_dtype
//   the quantized weights' stored arrays count once (always session inputs; their float32
//   values are released), bfloat16 bits once plus once per session (initializers);
// - activations: the train graph's live set at its peak, from node order (liveMemory.ts):
//   every value from its producer to its last reader, as ORT frees them without a memory
//   pattern (stepRunner.ts disables it for the train session), sizes from valueInfo or shape
//   inference; times ALLOCATOR_SLACK (measured, see there);
// - logits: the loss's share of that peak: [tokens, vocab] values (plain loss), or the chunked
//   loss's Loop body (chunkedLoss.ts) when the peak falls while the Loop runs (the body's live
//   set on top of what is live around the Loop); plus the eval graph's, which is not given back;
// - adapter: the trainable tensors, double-buffered (StepRunner's Slot: ORT writes `next`);
// - optimizer: the optimizer states, double-buffered likewise;
// - graphs: what the step graphs' ORT sessions and our IR of them keep resident, from their
//   node counts: the first length's train (and eval) graph, and with data.padding
//   buckets/longest every further length's (frozen weights shared);
// - runtime: Node, onnxruntime and the data pipeline, a measured constant.
// Compared with measured peaks in test/memory/memoryEstimate.test.ts and README.md ("Memory").
import type { Graph, Model, Node, ValueInfo } from '../onnx/ir';
import { defaultOpset } from '../onnx/ir';
import { bytesPerElement } from '../onnx/proto';
import { liveMemory, producedBytes } from './liveMemory';
import { ortExecutionOrder } from './ortOrder';
import type { TrainingStepGraphs } from './step';

/**
 * Node + onnxruntime-node + the data pipeline, without the model and its graphs. Measured: the
 * memory bench's stepWorker (tsx) holds 140 MB beside the weights and SESSION_BYTES_PER_NODE x
 * nodes once its session is open (fit over three decoders: 0.01B 673 nodes 147 MB, 0.5B float32
 * 9,422 nodes 253 MB, 0.5B int4 13,943 nodes 309 MB); `lily train --dry-run` of the bundled
 * demo peaks at 86 MB, its 3-step training run at 172 MB (eval set and tokenizer included).
 */
export const RUNTIME_BYTES = 140 * 2 ** 20;

/**
 * What a step adds to the resident memory, over the live set modelled in onnxruntime's node
 * order (ortOrder.ts): ORT's arena rounds, splits and extends in powers of two (its pages, once
 * touched, stay resident), kernels hold workspaces, and a freed block that does not fit the
 * next request leaves a hole. Measured (VmHWM at the step minus VmRSS with the session open,
 * over the modelled live set; stepWorker, 2 threads): Qwen2.5-0.5B-shaped 4x512 with
 * checkpointing float32 1219 / 740 MB (1.65), int4 1203 / 740 MB (1.63); Qwen2 0.01B 8x128
 * plain loss 289 / 218 MB (1.33); BERT 512x6 classifier 8x256 (lily train, one length)
 * 459 / 428 MB (1.07). Not understood yet why decoders need so much more than the encoder: the
 * largest counts, so the estimate errs high on encoders (README "Memory").
 */
export const ALLOCATOR_SLACK = 1.65;

/**
 * Resident bytes per node of the first step graph (train, and eval when the run evaluates):
 * ORT's session (kernels, its copy of the graph) and our IR of the model and of the step.
 * Measured with the session open, less the weights and RUNTIME_BYTES: 12.4 KB per node on the
 * three decoders of RUNTIME_BYTES (673 to 13,943 nodes).
 */
export const SESSION_BYTES_PER_NODE = 12.5 * 1024;

/**
 * Resident bytes an ORT session of a step graph adds per node of the train graph, beside the
 * first graph (frozen weights shared: the kernels, the session's copy of the graph and our IR of
 * it). Measured per extra bucket graph in the bench (compile, then RSS): BERT 128x2 6-7 MB (633
 * nodes), 256x4 8-11 MB (1139), 512x6 13-16 MB (1645), 768x12 27 MB (3163); Llama 512x8 16 MB
 * and 1024x8 18-24 MB (2493): 6.6-10.5 KB per node; the upper end counts.
 */
export const GRAPH_BYTES_PER_NODE = 10 * 1024;

export interface MemoryEstimate {
  weights: number;
  activations: number;
  logits: number;
  adapter: number;
  optimizer: number;
  /** The step graphs' sessions and IR: the first length's, and with padding buckets or longest every further length's. */
  graphs: number;
  runtime: number;
  total: number;
}

export interface EstimateOptions {
  /** The run opens an eval session (its own copy of the weights, its own forward live set). */
  evaluates: boolean;
  /** StepRunner's shareFrozenWeights: sessions take the loaded weights as inputs (no copies). */
  sharedWeights?: boolean;
  /**
   * runtime.pack_weights: true, the train session holds its own float32 weights and their packed
   * forms; 'forward', a packed copy of the forward products' weights (forwardPackedBytes).
   */
  packedWeights?: boolean | 'forward';
  /** With packedWeights 'forward' and shared weights: the bytes packed (stepRunner weightsLayout). */
  forwardPackedBytes?: number;
  /** stepRunner.ts keptHead: the train session's own copy of the LM head weight and its two packed forms. */
  keptHead?: string;
  /** Step graphs the run may compile beyond the first (padding.ts stepGraphCount - 1). */
  extraGraphs?: number;
}

/**
 * Initializer bytes of `g`: those listed in `once` (fed from one buffer), bfloat16 ones
 * (weights_dtype bfloat16: onnxruntime-node cannot feed them, so every session copies them,
 * shared or not) and the rest.
 */
function initializerBytes(g: Graph, once: ReadonlySet<string> = new Set()): { once: number; perSession: number; rest: number } {
  const n = { once: 0, perSession: 0, rest: 0 };
  for (const t of g.initializers.values()) {
    const part = once.has(t.name) ? 'once' : t.dtype === 'bfloat16' ? 'perSession' : 'rest';
    n[part] += t.dims.reduce((a, d) => a * d, 1) * bytesPerElement(t.dtype);
  }
  return n;
}

/**
 * Modelled transient bytes of a step (before ALLOCATOR_SLACK), split into the loss's share and
 * the rest. Two candidates, the larger counts:
 * - the graph's live-set peak (liveMemory), times ALLOCATOR_SLACK; its loss share is the values
 *   whose last dim is the vocabulary (the plain loss's logits);
 * - at each node with a subgraph (the chunked loss's Loop): what is live around it plus every
 *   intermediate its body produces. Measured: onnxruntime holds a Loop body's intermediates
 *   until the iteration ends, not to their last reader. Qwen2 0.01B 8x128 with checkpointing,
 *   one 1024-row chunk of [1024, 8000] logits: the step's peak fell 65 MB with 512-row chunks
 *   where the body's live set fell 31 MB and the sum of its intermediates 78 MB.
 */
function stepTransient(m: Model, vocab: number | undefined): { logits: number; other: number } {
  // In the order onnxruntime runs the nodes, not as listed (ortOrder.ts).
  const g = { ...m.graph, nodes: ortExecutionOrder(m.graph) };
  const opset = defaultOpset(m);
  const r = liveMemory(g, { opset });
  let vocabBytes = 0;
  if (vocab) {
    for (const v of r.values) {
      const dims = g.valueInfo.get(v.name)?.shape;
      if (dims && dims[dims.length - 1] === vocab && v.bytes >= vocab * 4 * 2) vocabBytes += v.bytes;
    }
  }
  let best = { logits: vocabBytes * ALLOCATOR_SLACK, other: (r.peakBytes - vocabBytes) * ALLOCATOR_SLACK };
  const outer = outerValues(m);
  g.nodes.forEach((n, k) => {
    const bodies = Object.values(n.attrs).filter((a) => a.kind === 'graph').map((a) => a.value as Graph);
    if (!bodies.length) return;
    const body = Math.max(...bodies.map((b) => producedBytes(b, { opset, outer })));
    if (r.liveAt[k] + body > best.logits + best.other) best = { logits: body, other: r.liveAt[k] };
  });
  return best;
}

/** What a subgraph of `m` may read from its main graph (for shape inference in its body). */
function outerValues(m: Model): ValueInfo[] {
  const g = m.graph;
  return [...g.inputs, ...g.valueInfo.values(), ...[...g.initializers.values()].map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.dims] }))];
}

export function estimateStepMemory(graphs: TrainingStepGraphs, opts: EstimateOptions): MemoryEstimate {
  const train = graphs.train.graph;
  const vocabDims = graphs.eval.graph.valueInfo.get(graphs.logits)?.shape ?? graphs.eval.graph.outputs.find((o) => o.name === graphs.logits)?.shape;
  const vocab = vocabDims && vocabDims.length === 3 && typeof vocabDims[2] === 'number' ? vocabDims[2] : undefined;
  const frozen = initializerBytes(train, new Set(graphs.quantized?.feeds ?? []));
  const sessions = opts.evaluates ? 2 : 1;
  // Packed weights: the packed form (about the float32 size), and with shared weights also the
  // train session's own copy (measured +382 MB for Llama d 512's 211 MB, +1195 for d 1024's 594).
  // 'forward': one packed form of the forward products' weights, the shared copy stays (measured
  // Llama d 1024, 4x512: peak 2657-2670 -> 3029-3049 MB for its 464 MB of layer weights).
  const packed = opts.packedWeights === 'forward' ? opts.forwardPackedBytes ?? 0 : opts.packedWeights ? frozen.rest * (opts.sharedWeights ? 2 : 1) : 0;
  const head = opts.keptHead ? train.initializers.get(opts.keptHead) : undefined;
  const keptHead = head ? 3 * head.dims.reduce((a, d) => a * d, 1) * bytesPerElement(head.dtype) : 0;
  const weights = frozen.rest * (opts.sharedWeights ? 1 : 1 + sessions) + frozen.once + frozen.perSession * (1 + sessions) + packed + keptHead;

  const trainLive = stepTransient(graphs.train, vocab);
  let logits = trainLive.logits;
  let activations = trainLive.other;
  if (opts.evaluates) {
    const ev = stepTransient(graphs.eval, vocab);
    // The logits output is not in the live set (outputs belong to the caller), but it exists.
    const out = vocabDims?.every((d) => typeof d === 'number') ? (vocabDims as number[]).reduce((a, d) => a * d, 1) * 4 : 0;
    if (vocab) ev.logits += out;
    else ev.other += out;
    // The eval forward runs between steps, but what it frees is not given back before the next
    // step: its session keeps no arena, and the memory it returns to the C allocator stays in
    // the process, while the train session's arena extends with new pages. Measured with
    // `lily train` (BERT 512x6, 8x256, padding max_length, eval first): 690 MB resident after
    // the step-0 evaluation, still there when the train steps added their 865 MB.
    logits += ev.logits;
    activations += ev.other;
  }
  const paramBytes = graphs.params.reduce((s, p) => s + p.dims.reduce((a, d) => a * d, 1) * 4, 0);
  const adapter = 2 * paramBytes;
  const optimizer = 2 * graphs.optimizer.stateSlots.length * paramBytes;
  const runtime = RUNTIME_BYTES;
  activations = Math.round(activations);
  logits = Math.round(logits);
  // An extra length also gets an eval session when an eval batch has that length.
  const graphNodes = train.nodes.length + (opts.evaluates ? graphs.eval.graph.nodes.length : 0);
  const graphBytes = Math.round(graphNodes * SESSION_BYTES_PER_NODE + (opts.extraGraphs ?? 0) * graphNodes * GRAPH_BYTES_PER_NODE);
  return { weights, activations, logits, adapter, optimizer, graphs: graphBytes, runtime, total: weights + activations + logits + adapter + optimizer + graphBytes + runtime };
}

export function formatMB(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)} MB`;
}

/** Rows of the estimate table (part, MB, what it is). */
export function estimateRows(e: MemoryEstimate): Array<[string, string]> {
  return [
    ['weights', formatMB(e.weights)],
    ['activations', formatMB(e.activations)],
    ['logits', formatMB(e.logits)],
    ['adapter', formatMB(e.adapter)],
    ['optimizer', formatMB(e.optimizer)],
    ['graphs', formatMB(e.graphs)],
    ['runtime', formatMB(e.runtime)],
    ['total', formatMB(e.total)],
  ];
}
