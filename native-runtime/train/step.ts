// The training step as ONE ONNX graph: specialised forward with the adapter injected, the task
// loss, reverse-mode gradients of the trainable tensors only (adapter + modules_to_save),
// global-norm clipping and the optimizer update. Plus the matching eval graph (forward + loss,
// no gradients). Frozen weights stay initializers; trainable tensors and optimizer states are
// graph inputs whose updated values are graph outputs (the runner swaps them between steps).
import { DEFAULTS } from '../config/resolved';
import type { AdapterSection, TaskType } from '../config/types';
import type { Model } from '../onnx/ir';
import { reduceConstantPowers } from '../onnx/powers';
import { fullOperandFirst } from '../onnx/operandOrder';
import { sumsToAdds } from '../onnx/sumToAdds';
import { fuseRmsNorms } from '../onnx/rmsNormFusion';
import { foldScalesIntoRotary, fuseRotaryEmbeddings, importMsDomain, MS_DOMAIN } from '../onnx/rotary';
import { GraphBuilder } from '../onnx/ir';
import { cloneModel, specialize } from '../onnx/specialize';
import { checkTrainableOpset, raiseToStepOpset } from '../onnx/opset';
import { buildGradients, type RecomputeReport } from '../autodiff';
import { resolveAdapterConfig, type ResolvedAdapter } from '../adapters/defaults';
import { Emitter } from '../adapters/emit';
import { injectAdapters, type AdapterParam, type Injection } from '../adapters/inject';
import { addLoss, type LossGraph } from './losses';
import { addChunkedLoss, findLmHead } from './chunkedLoss';
import { addOptimizer, type OptimizerGraph, type OptimizerOptions } from './optimizers';
import type { QuantizedWeight } from '../quant/formats';
import { applyQuantizedWeights, weightsReadInSubgraphs } from '../quant/rewrite';
import { blockCausalAttention, DEFAULT_ATTENTION_BLOCK, type BlockAttentionReport } from './blockAttention';

export interface StepOptions {
  /** The config's adapter section (defaults are applied here). */
  adapter: AdapterSection;
  task: TaskType;
  /** Concrete shape of every dynamic model input for this step, e.g. {input_ids: [16, 128], attention_mask: [16, 128]}. */
  inputShapes: Record<string, number[]>;
  /** Model output holding the logits (default: the first graph output). */
  logitsOutput?: string;
  /** Name of the labels input the step adds (default `labels`). */
  labelInput?: string;
  /** Attention-mask input for `masked` routing (default: `attention_mask` when the model has it). */
  maskInput?: string;
  /** Optimizer settings; missing ones get the config defaults (AdamW, betas 0.9/0.999, eps 1e-8, wd 0, clip 1). */
  optimizer?: Partial<OptimizerOptions>;
  /** Seed of the default adapter initialisation (default 42). */
  seed?: number;
  /** Initial adapter tensors by internal name (e.g. from a PEFT file); the rest get the default init. */
  initial?: Map<string, Float32Array>;
  /** Eval graph only: also output per-row router probabilities `<module>.lily_router_token_probs`. */
  exposeTokenProbs?: boolean;
  /** Train graph: also output each raw (unclipped) gradient as `<param>.grad` (parity checks, debugging). */
  exposeGradients?: boolean;
  /**
   * Per-token LM heads (causal-lm, token-classification): `auto` (default) computes the head and
   * the cross-entropy in chunks of rows in the train graph (train/chunkedLoss.ts) when the head
   * is a frozen MatMul; a number also sets the rows per chunk; `off` keeps the plain loss.
   */
  lossChunks?: 'auto' | 'off' | number;
  /**
   * Gradient checkpointing (`training.gradient_checkpointing`): the backward pass recomputes
   * each segment of the forward (half a transformer block, between residual-stream values) from
   * its kept input instead of keeping every activation alive (autodiff/recompute.ts).
   */
  gradientCheckpointing?: boolean;
  /**
   * model.weights_dtype: frozen weights in a smaller type (quant/cache.ts), by initializer name.
   * Each is dequantized to float32 right before every product that reads it (quant/rewrite.ts).
   */
  frozenWeights?: ReadonlyMap<string, QuantizedWeight>;
  /**
   * causal-lm: query rows per block of causal attention computed block by block, skipping the
   * masked blocks (train/blockAttention.ts; default 128, applied from twice that length); `off`
   * keeps the export's attention.
   */
  attentionBlock?: number | 'off';
  /**
   * Sums of two or more values (the autodiff's gradient accumulation) as chains of Adds
   * (onnx/sumToAdds.ts: onnxruntime's Sum runs on one thread; same values). Default on; `false`
   * keeps the Sums (bench/abStep.ts compares the two).
   */
  sumsAsAdds?: boolean;
  /**
   * RMSNorm's forward as one SimplifiedLayerNormalization kernel that also outputs the inverse
   * root the backward reads (onnx/rmsNormFusion.ts). Default on; `false` keeps the export's nodes.
   */
  fusedRmsNorm?: boolean;
  /**
   * Rotary position embeddings as onnxruntime's RotaryEmbedding kernel, forward and backward
   * (onnx/rotary.ts, autodiff/composites.ts). Default on; `false` keeps the export's nodes.
   */
  fusedRotary?: boolean;
}

/** Fixed names of the step's scalar inputs and outputs. */
export const STEP_IO = {
  lr: 'lr',
  step: 'step',
  loss: 'loss',
  /** Number of labels the loss averaged over (tokens for LM / token classification). */
  lossCount: 'loss_count',
  gradNorm: 'grad_norm',
  /** Eval graph with the chunked head: arg-max prediction per position [batch, seq] (int64). */
  tokenPredictions: 'token_predictions',
  /** Eval graph with the chunked head: log-probability of each position's target [batch, seq] (0 where unlabelled). */
  tokenLabelLogp: 'token_label_logp',
} as const;

export interface RouterOutput {
  module: string;
  target: string;
  /** Graph output [num_B]. */
  output: string;
  /** Eval graph with exposeTokenProbs: graph output [rows, num_B]. */
  tokenOutput?: string;
}

export interface TrainingStepGraphs {
  train: Model;
  eval: Model;
  adapter: ResolvedAdapter;
  injection: Injection;
  /** Trainable tensors in a fixed order, with their initial values. */
  params: AdapterParam[];
  optimizer: OptimizerGraph;
  resolvedOptimizer: OptimizerOptions;
  /** Model inputs the caller feeds each step (besides labels). */
  dataInputs: string[];
  labels: LossGraph['labels'];
  /** Model output holding the logits (absent from the eval graph when evalTokens is set). */
  logits: string;
  /** Static shape of the logits, e.g. [batch, seq, vocab]. */
  logitsShape?: number[];
  /** Eval graph outputs replacing the logits when the head is chunked (see STEP_IO). */
  evalTokens?: { predictions: string; labelLogp: string };
  routerOutputs: RouterOutput[];
  /** With exposeGradients: parameter -> its gradient output. */
  gradOutputs?: Map<string, string>;
  /** The train graph's chunked LM loss, when used: chunk count and rows per chunk; with vocabSlice, slices of that many vocabulary rows (all rows at once). */
  lossChunks?: { chunks: number; rows: number; weight: string; vocabSlice?: number };
  /** With gradientCheckpointing: the segments found and the forward nodes recomputed. */
  recompute?: RecomputeReport;
  /**
   * With frozenWeights: the weights held in a smaller type, and the stored arrays (initializers
   * of both graphs) that sessions take as inputs from one buffer.
   */
  quantized?: { replaced: string[]; feeds: string[] };
  /** causal-lm: the attention cores computed block by block (rewritten 0 when none applied). */
  blockAttention?: BlockAttentionReport;
}

const T = DEFAULTS.training;
export const DEFAULT_OPTIMIZER: OptimizerOptions = { optimizer: T.optimizer, betas: [...T.betas], eps: T.eps, weight_decay: T.weight_decay, momentum: T.momentum, max_grad_norm: T.max_grad_norm };

export async function buildTrainingStep(model: Model, opts: StepOptions): Promise<TrainingStepGraphs> {
  // First, so that a model too old to train says so rather than failing somewhere later.
  checkTrainableOpset(model);
  const adapter = resolveAdapterConfig(opts.adapter);
  const optimizer: OptimizerOptions = { ...DEFAULT_OPTIMIZER, ...stripUndefined(opts.optimizer ?? {}) };
  const logits = opts.logitsOutput ?? model.graph.outputs[0]?.name;
  if (!logits || !model.graph.outputs.some((o) => o.name === logits)) {
    throw new Error(`model.output: "${logits}" is not an output of the model (outputs: ${model.graph.outputs.map((o) => o.name).join(', ')})`);
  }
  const hasMask = model.graph.inputs.some((i) => i.name === 'attention_mask');
  const maskInput = opts.maskInput ?? (hasMask ? 'attention_mask' : undefined);

  // Forward: keep only the logits as a model output (so specialisation drops whatever else the
  // export computes, e.g. hidden states), then specialise: static shapes everywhere.
  const logitsOnly = cloneModel(model);
  logitsOnly.graph.outputs = logitsOnly.graph.outputs.filter((o) => o.name === logits);
  const fwd = await specialize(logitsOnly, opts.inputShapes);
  // Specialised at the model's own opset; adapters, loss, gradients and optimizer are emitted at
  // >= 17 (Gather's gradient needs ScatterND's reduction, opset 16). See onnx/opset.ts.
  raiseToStepOpset(fwd);
  // Before adapters and gradients, so that both graphs and the backward pass skip masked blocks.
  const blockAttention = opts.task === 'causal-lm' && opts.attentionBlock !== 'off'
    ? await blockCausalAttention(fwd, typeof opts.attentionBlock === 'number' ? opts.attentionBlock : DEFAULT_ATTENTION_BLOCK)
    : undefined;
  const dataInputs = fwd.graph.inputs.map((i) => i.name);
  const injection = injectAdapters(fwd, adapter, { seed: opts.seed, initial: opts.initial, maskInput, exposeTokenProbs: opts.exposeTokenProbs });
  const routerOutputs: RouterOutput[] = injection.layers
    .filter((l) => l.routerOutput)
    .map((l) => ({ module: l.module, target: l.target, output: l.routerOutput!, tokenOutput: l.tokenProbsOutput }));
  const labelInput = opts.labelInput ?? 'labels';
  // Train: drop the per-row router outputs (statistics are computed on the eval graph).
  const train = cloneModel(fwd);
  const tokenOutputs = new Set(routerOutputs.map((r) => r.tokenOutput).filter((t): t is string => !!t));
  train.graph.outputs = train.graph.outputs.filter((o) => !tokenOutputs.has(o.name));
  train.graph.nodes = train.graph.nodes.filter((n) => !n.outputs.some((o) => tokenOutputs.has(o)));
  // The train graph's head: chunked when it is a frozen per-token head (no [tokens, vocab] tensor).
  const perToken = opts.task === 'causal-lm' || opts.task === 'token-classification';
  const head = perToken && opts.lossChunks !== 'off' ? findLmHead(train, logits) : undefined;

  // A head that is a [V, d] table held in a smaller type (a tied embedding with weights_dtype)
  // is read a slice of vocabulary rows at a time, so it is never dequantized whole.
  const slicing = (h: NonNullable<typeof head>) => (h.layout === 'vd' && opts.frozenWeights?.has(h.weight) ? 'vocab' as const : 'rows' as const);

  const logitsShape = fwd.graph.valueInfo.get(logits)?.shape ?? fwd.graph.outputs.find((o) => o.name === logits)?.shape;

  // Eval: the same chunked head when it applies (per-position predictions and target
  // log-probabilities instead of [tokens, vocab] logits), else the plain loss beside the logits.
  const e = new Emitter(new GraphBuilder(fwd.graph), fwd);
  const evalHead = head ? findLmHead(fwd, logits) : undefined;
  let evalTokens: TrainingStepGraphs['evalTokens'];
  let labels: LossGraph['labels'];
  if (evalHead) {
    fwd.graph.outputs = fwd.graph.outputs.filter((o) => o.name !== logits);
    const chunked = addChunkedLoss(fwd, e, evalHead, opts.task, labelInput, typeof opts.lossChunks === 'number' ? opts.lossChunks : undefined, 'eval', slicing(evalHead));
    expose(e, chunked.loss, STEP_IO.loss);
    expose(e, chunked.count, STEP_IO.lossCount);
    exposeAs(e, chunked.tokens!.predictions, STEP_IO.tokenPredictions, 'int64', chunked.labels.shape);
    exposeAs(e, chunked.tokens!.labelLogp, STEP_IO.tokenLabelLogp, 'float32', chunked.labels.shape);
    evalTokens = { predictions: STEP_IO.tokenPredictions, labelLogp: STEP_IO.tokenLabelLogp };
    labels = chunked.labels;
  } else {
    const loss = addLoss(fwd, e, opts.task, logits, labelInput);
    expose(e, loss.loss, STEP_IO.loss);
    expose(e, loss.count, STEP_IO.lossCount);
    labels = loss.labels;
  }
  const evalModel = fwd;

  const te = new Emitter(new GraphBuilder(train.graph), train);
  let seeds: Map<string, string> | undefined;
  let lossChunks: TrainingStepGraphs['lossChunks'];
  if (head) {
    train.graph.outputs = train.graph.outputs.filter((o) => o.name !== logits);
    const chunked = addChunkedLoss(train, te, head, opts.task, labelInput, typeof opts.lossChunks === 'number' ? opts.lossChunks : undefined, 'train', slicing(head));
    expose(te, chunked.loss, STEP_IO.loss);
    expose(te, chunked.count, STEP_IO.lossCount);
    seeds = chunked.seeds;
    lossChunks = { chunks: chunked.chunks, rows: chunked.chunkRows, weight: head.weight, ...(chunked.vocabSlice ? { vocabSlice: chunked.vocabSlice } : {}) };
  } else {
    const plain = addLoss(train, te, opts.task, logits, labelInput);
    expose(te, plain.loss, STEP_IO.loss);
    expose(te, plain.count, STEP_IO.lossCount);
  }
  const params = injection.params;
  const gradReport: { recompute?: RecomputeReport } = {};
  const grads = buildGradients(train.graph, STEP_IO.loss, params.map((p) => p.name), { opset: te.opset, seeds, recompute: !!opts.gradientCheckpointing, report: gradReport, rotary: opts.fusedRotary !== false });
  let gradOutputs: Map<string, string> | undefined;
  if (opts.exposeGradients) {
    gradOutputs = new Map();
    for (const p of params) {
      const out = te.b.fresh(`${p.name}.grad`);
      te.b.op('Identity', [grads.get(p.name)!], {}, { outputs: [out], scope: 'grad' });
      te.setShape(out, p.dims);
      train.graph.outputs.push({ name: out, dtype: 'float32', shape: p.dims });
      gradOutputs.set(p.name, out);
    }
  }
  const opt = addOptimizer(te, params.map((p) => ({ name: p.name, dims: p.dims })), grads, optimizer, { lr: STEP_IO.lr, step: STEP_IO.step, gradNorm: STEP_IO.gradNorm });

  let quantized: TrainingStepGraphs['quantized'];
  if (opts.frozenWeights && opts.frozenWeights.size > 0) {
    // A weight read inside a subgraph (the chunked loss's LM head in its Loop) stays float32 in
    // both graphs, so that training and evaluation compute the same function; a table whose
    // rows the vocabulary-sliced loss gathers there is read from its stored form.
    const names = [...opts.frozenWeights.keys()];
    const keep = new Set([...weightsReadInSubgraphs(train.graph, names), ...weightsReadInSubgraphs(evalModel.graph, names)]);
    const t = applyQuantizedWeights(train.graph, opts.frozenWeights, keep);
    const ev = applyQuantizedWeights(evalModel.graph, opts.frozenWeights, keep);
    quantized = { replaced: t.replaced, feeds: [...new Set([...t.feeds, ...ev.feeds].map((f) => f.name))] };
  }

  // Last, on the finished graphs: the forward's constant powers (RMSNorm's x^2) as cheaper ops.
  reduceConstantPowers(train.graph);
  reduceConstantPowers(evalModel.graph);
  if (opts.fusedRotary !== false) {
    fuseRotaryEmbeddings(train);
    fuseRotaryEmbeddings(evalModel);
    foldScalesIntoRotary(train.graph);
    foldScalesIntoRotary(evalModel.graph);
    // The backward's rotary kernels (the composite's rule) need the import even where no forward was fused.
    if (train.graph.nodes.some((n) => n.domain === MS_DOMAIN)) importMsDomain(train);
  }
  if (opts.fusedRmsNorm !== false) {
    fuseRmsNorms(train.graph, te.opset);
    fuseRmsNorms(evalModel.graph, te.opset);
  }
  if (opts.sumsAsAdds !== false) {
    sumsToAdds(train.graph);
    sumsToAdds(evalModel.graph);
  }
  // And Add/Mul with the broadcast operand second (onnxruntime's faster kernel path; same values).
  fullOperandFirst(train.graph);
  fullOperandFirst(evalModel.graph);

  return {
    train,
    eval: evalModel,
    adapter,
    injection,
    params,
    optimizer: opt,
    resolvedOptimizer: optimizer,
    dataInputs,
    labels,
    logits,
    logitsShape: logitsShape?.every((d) => typeof d === 'number') ? logitsShape as number[] : undefined,
    evalTokens,
    routerOutputs,
    gradOutputs,
    lossChunks,
    recompute: gradReport.recompute,
    quantized,
    blockAttention,
  };
}

/** Adds `value` ([dims] of `dtype`) as a graph output named `name` (through Identity). */
function exposeAs(e: Emitter, value: string, name: string, dtype: 'int64' | 'float32', dims: number[]): void {
  e.b.op('Identity', [value], {}, { outputs: [name], scope: name });
  e.setShape(name, dims, dtype);
  e.b.graph.outputs.push({ name, dtype, shape: dims });
}

/** Adds `value` as a graph output named `name` (through Identity). */
function expose(e: Emitter, value: string, name: string): void {
  e.b.op('Identity', [value], {}, { outputs: [name], scope: name });
  e.setShape(name, []);
  e.b.graph.outputs.push({ name, dtype: 'float32', shape: [] });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
