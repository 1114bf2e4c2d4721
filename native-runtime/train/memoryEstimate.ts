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
//   pattern (stepRunner.ts disables it for the train session);
// - logits: the [tokens, vocab] part of that live set (plain loss), or the chunked loss's
//   per-iteration live set (chunkedLoss.ts; the largest Loop body's); plus the eval graph's
//   when the run evaluates;
// - adapter: the trainable tensors, double-buffered (StepRunner's Slot: ORT writes `next`);
// - optimizer: the optimizer states, double-buffered likewise;
// - graphs: every step graph beyond the first (data.padding buckets/longest: one per length),
//   what its ORT sessions keep resident (frozen weights shared), from the graph's node count;
// - runtime: Node, onnxruntime and the data pipeline, a measured constant.
// Compared with measured peaks in test/memory/memoryEstimate.test.ts and README.md ("Memory").
import type { Graph } from '../onnx/ir';
import { bytesPerElement } from '../onnx/proto';
import { liveMemory } from './liveMemory';
import type { TrainingStepGraphs } from './step';

/** Node + onnxruntime-node + the data pipeline before a model is loaded (measured: 130-180 MB). */
export const RUNTIME_BYTES = 160 * 2 ** 20;

/**
 * ORT's CPU arena rounds and fragments what the graph's live set needs: measured peaks sat
 * 9-18% above the modelled live set on three decoders (README "Memory"), so live bytes count
 * 1.25 times.
 */
export const ALLOCATOR_SLACK = 1.25;

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
  /** Step graphs beyond the first (padding buckets or longest): their sessions' resident memory. */
  graphs: number;
  runtime: number;
  total: number;
}

export interface EstimateOptions {
  /** The run opens an eval session (its own copy of the weights, its own forward live set). */
  evaluates: boolean;
  /** StepRunner's shareFrozenWeights: sessions take the loaded weights as inputs (no copies). */
  sharedWeights?: boolean;
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

/** Peak live bytes of a graph, split into values whose last dim is the vocabulary and the rest. */
function splitLive(g: Graph, vocab: number | undefined): { logits: number; other: number } {
  const r = liveMemory(g);
  let logits = 0;
  if (vocab) {
    for (const v of r.values) {
      const dims = g.valueInfo.get(v.name)?.shape;
      if (dims && dims[dims.length - 1] === vocab && v.bytes >= vocab * 4 * 2) logits += v.bytes;
    }
  }
  return { logits, other: r.peakBytes - logits };
}

function loopBodies(g: Graph): Graph[] {
  const out: Graph[] = [];
  for (const n of g.nodes) for (const a of Object.values(n.attrs)) if (a.kind === 'graph') out.push(a.value);
  return out;
}

export function estimateStepMemory(graphs: TrainingStepGraphs, opts: EstimateOptions): MemoryEstimate {
  const train = graphs.train.graph;
  const vocabDims = graphs.eval.graph.valueInfo.get(graphs.logits)?.shape ?? graphs.eval.graph.outputs.find((o) => o.name === graphs.logits)?.shape;
  const vocab = vocabDims && vocabDims.length === 3 && typeof vocabDims[2] === 'number' ? vocabDims[2] : undefined;
  const frozen = initializerBytes(train, new Set(graphs.quantized?.feeds ?? []));
  const sessions = opts.evaluates ? 2 : 1;
  const weights = frozen.rest * (opts.sharedWeights ? 1 : 1 + sessions) + frozen.once + frozen.perSession * (1 + sessions);

  const trainLive = splitLive(train, vocab);
  let logits = trainLive.logits;
  // Loops run one after the other (the vocabulary-sliced loss has two): the largest body counts.
  logits += Math.max(0, ...loopBodies(train).map((body) => liveMemory(body).peakBytes));
  let activations = trainLive.other;
  if (opts.evaluates) {
    const ev = splitLive(graphs.eval.graph, vocab);
    // The logits output is not in the live set (outputs belong to the caller), but it exists.
    const out = vocabDims?.every((d) => typeof d === 'number') ? (vocabDims as number[]).reduce((a, d) => a * d, 1) * 4 : 0;
    if (vocab) ev.logits += out;
    else ev.other += out;
    // The eval forward runs between steps: its live set does not add to the step's.
    if (ev.logits + ev.other > logits + activations) {
      logits = Math.max(logits, ev.logits);
      activations = Math.max(activations, ev.other);
    }
  }
  const paramBytes = graphs.params.reduce((s, p) => s + p.dims.reduce((a, d) => a * d, 1) * 4, 0);
  const adapter = 2 * paramBytes;
  const optimizer = 2 * graphs.optimizer.stateSlots.length * paramBytes;
  const runtime = RUNTIME_BYTES;
  activations = Math.round(activations * ALLOCATOR_SLACK);
  logits = Math.round(logits * ALLOCATOR_SLACK);
  // An extra length also gets an eval session when an eval batch has that length.
  const graphNodes = train.nodes.length + (opts.evaluates ? graphs.eval.graph.nodes.length : 0);
  const graphBytes = (opts.extraGraphs ?? 0) * graphNodes * GRAPH_BYTES_PER_NODE;
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
    // Only with several lengths (data.padding buckets or longest).
    ...(e.graphs > 0 ? [['graphs', formatMB(e.graphs)] as [string, string]] : []),
    ['runtime', formatMB(e.runtime)],
    ['total', formatMB(e.total)],
  ];
}
