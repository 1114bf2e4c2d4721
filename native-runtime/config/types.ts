// The `*.lily.json` config: the one source of truth. `npm run schema` generates the committed
// JSON Schema (schemas/lily.schema.json) from these types; a test fails when they drift.
// Doc comments become hover docs in VS Code, so write them for users.
// Field names in `adapter` follow PEFT (`r`, `stride_A`, `num_B`, ...), an ecosystem convention.

/** A Lily training configuration (`*.lily.json`). */
export interface LilyConfig {
  /** The JSON Schema this file follows. */
  $schema?: string;
  /** A short name for runs of this config (shown in the Runs view). Defaults to the file name. */
  name?: string;
  model: ModelSection;
  data: DataSection;
  adapter: AdapterSection;
  training?: TrainingSection;
  runtime?: RuntimeSection;
  output?: OutputSection;
}

export type TaskType = 'sequence-classification' | 'regression' | 'causal-lm' | 'token-classification';

export interface ModelSection {
  /**
   * Path to the exported `.onnx` model, relative to this config file. With `runtime.backend: "torch"`:
   * a Hugging Face model folder (with `config.json`), or an `.onnx` model imported by `lily import`.
   */
  path: string;
  /** What the model is trained for; selects the loss and the eval metrics. */
  task: TaskType;
  /** Model input names, when they cannot be read from the graph (default: all graph inputs). */
  inputs?: string[];
  /** Name of the output holding logits (default: the first graph output). */
  output?: string;
  /**
   * Number of classes (classification tasks).
   * @asType integer
   * @minimum 1
   */
  num_labels?: number;
  /** Class names in id order; string labels in the data map to ids through this list. */
  labels?: string[];
  /** Path to a Hugging Face `tokenizer.json` (default: `tokenizer.json` beside the model). */
  tokenizer?: string;
  /**
   * Type the frozen weights of linear layers are held in during training (weight-only; the
   * adapter, trained modules and optimizer state stay float32). `int8`: one scale per output
   * column; `int4`: a scale and zero point per group of 32 values (about 1/6 of float32);
   * `bfloat16`: half. Each weight is turned back into float32 right before the product that
   * reads it, so the model computes with the rounded weights; the eval loss changes slightly
   * (README "Frozen weights in smaller types"). Quantized once and cached in `.lily-cache/`
   * beside the model. The output head, and an embedding table tied to it, stay float32.
   * @default "float32"
   */
  weights_dtype?: 'float32' | 'bfloat16' | 'int8' | 'int4';
}

export interface DataSection {
  /**
   * Training data, relative to this config file: a `.jsonl`, `.csv` or `.parquet` file, an Arrow
   * IPC `.arrow` file, or a folder written by Hugging Face `datasets`' `save_to_disk`.
   */
  train: string;
  /** Evaluation data (same format as `train`). */
  eval?: string;
  /**
   * File format (default: from the file extension; a folder is `arrow`). `parquet` and `arrow`
   * files written by `datasets` carry `ClassLabel` names, which become the labels.
   */
  format?: 'jsonl' | 'csv' | 'parquet' | 'arrow';
  /**
   * Field holding the text to tokenize (default `text`), used when records carry no `input_ids`.
   * @default "text"
   */
  text_field?: string;
  /** Optional second text field for sentence-pair tasks. */
  text_pair_field?: string;
  /**
   * Field holding the label (default `label`).
   * @default "label"
   */
  label_field?: string;
  /**
   * Sequence length: texts are padded or truncated to this many tokens (default 128).
   * @asType integer
   * @minimum 1
   * @default 128
   */
  max_length?: number;
  /**
   * How training and eval batches are padded. `max_length`: every batch to `max_length` (one step
   * graph). `longest`: each batch to its longest row, as Hugging Face's `DataCollatorWithPadding`
   * does (one step graph per distinct length, compiled on first use). `buckets`: each batch to the
   * smallest of `buckets` that holds its longest row (a few step graphs sharing one set of
   * trainable and optimizer buffers and the frozen weights). With the default `batch` routing the
   * router averages over padded positions too, exactly as PEFT does: to match a PEFT run's
   * numbers, pad the way it did (`longest` for dynamic padding).
   * @default "max_length"
   */
  padding?: 'max_length' | 'longest' | 'buckets';
  /**
   * Sequence lengths for `padding: "buckets"`, ascending. Default: every multiple of 8 from 16 up
   * to `max_length` 128, of 16 up to 256, of 32 up to 512 (the smallest multiple of 8 that needs at
   * most 16 buckets), then `max_length`, so a batch is padded by less than 1/16 of `max_length`
   * beyond its longest row. A batch longer than the largest bucket is padded to `max_length`.
   */
  buckets?: BucketLength[];
  /**
   * Causal LM and sequence classification: pack several documents into each training row of
   * `max_length` tokens (consecutive records in file order, a longer one truncated; rows are then
   * shuffled). Each document gets its own positions (`position_ids` from 0) and attends only to
   * itself: `attention_mask` carries the document number (1, 2, ...; 0 = padding), so the model
   * must be exported with a mask that compares those numbers (scripts/oracle/hf_models.py writes
   * such models); the first token of each document is not predicted from the previous document.
   * A classifier must also take `document_starts` (each document's first position) and score
   * every document of a row (`lily import MODEL --packing`); the loss is the mean over documents.
   * This changes results: a step holds more documents (fewer steps per epoch), and the default
   * `batch` routing averages over the packed tokens instead of padding. Eval batches are not packed.
   * @default false
   */
  packing?: boolean;
  /**
   * Batch records of similar length together, as Hugging Face's `group_by_length` does: each
   * epoch's shuffled order is cut into mega-batches of 50 batches, each sorted by length
   * (longest first) and cut into batches. With `padding` `longest` or `buckets` a step then
   * pads far less. It changes which records share a batch (the batch-mean routing and the
   * gradient of each step) and runs each mega-batch's batches from long to short; the order
   * stays a function of seed and epoch (resume reads the same batches). Not with `packing`.
   * @default false
   */
  group_by_length?: boolean;
}

/**
 * A bucket's sequence length in tokens.
 * @asType integer
 * @minimum 1
 */
type BucketLength = number;

/**
 * The adapter: `method` selects Lily or LoRA and which other fields apply.
 * @discriminator method
 */
export type AdapterSection = LilyAdapterConfig | LoraAdapterConfig;

/**
 * A layer index (0-based).
 * @asType integer
 * @minimum 0
 */
type LayerIndex = number;

interface AdapterCommon {
  /**
   * Modules to adapt: a list of name suffixes (e.g. `["query", "value"]` matches
   * `encoder.layer.0.attention.self.query`), or one regular expression matched against the full name.
   */
  target_modules: string[] | string;
  /** Modules never adapted: suffixes, or one regular expression. */
  exclude_modules?: string[] | string;
  /**
   * Only adapt layers with these indices (the number after `layer.`/`layers.`/`h.`/`blocks.`).
   */
  layers_to_transform?: LayerIndex[];
  /** Parameters trained in full besides the adapter (e.g. a classifier head), by module name or initializer name. */
  modules_to_save?: string[];
  /**
   * `"default"` (seeded PEFT initialisation) or a path to a PEFT-format `adapter_model.safetensors` (or its folder),
   * relative to this config file.
   * @default "default"
   */
  init?: string;
}

export interface LilyAdapterConfig extends AdapterCommon {
  /** Lily: low-rank A projectors shared by neighbouring layers, a pool of B projectors shared by all layers, a router per layer. */
  method: 'lily';
  /**
   * Rank of the A/B projectors (PEFT default 32; 2-4x the LoRA rank you would use).
   * @asType integer
   * @minimum 1
   * @default 32
   */
  r?: number;
  /**
   * Consecutive layers sharing one A projector (PEFT default 1; 2-4 advised).
   * @asType integer
   * @minimum 1
   * @default 1
   */
  stride_A?: number;
  /**
   * Number of B projectors shared by all layers of a target (PEFT default 2; about layers/stride_A advised).
   * @asType integer
   * @minimum 2
   * @default 2
   */
  num_B?: number;
  /**
   * Plain multiplier of the adapter output (no alpha/r); typical 0.01 to 10. Default 1.
   * @default 1
   */
  scaling?: number;
  /**
   * How the router mixes the B experts: `batch` averages router probabilities over the whole batch
   * (the reference behaviour), `masked` over non-padding tokens only, `token` mixes per token.
   * @default "batch"
   */
  routing?: 'batch' | 'masked' | 'token';
}

export interface LoraAdapterConfig extends AdapterCommon {
  /** LoRA: a low-rank pair per adapted layer (the baseline to compare against). */
  method: 'lora';
  /**
   * LoRA rank (default 8).
   * @asType integer
   * @minimum 1
   * @default 8
   */
  r?: number;
  /** LoRA alpha; the update is scaled by alpha / r. Default: r (scale 1). */
  lora_alpha?: number;
}

export interface TrainingSection {
  /**
   * Passes over the training data (default 1). Ignored when `max_steps` is set.
   * @asType integer
   * @minimum 1
   * @default 1
   */
  epochs?: number;
  /**
   * Stop after this many optimizer steps.
   * @asType integer
   * @minimum 1
   */
  max_steps?: number;
  /**
   * Samples per step (default 16).
   * @asType integer
   * @minimum 1
   * @default 16
   */
  batch_size?: number;
  /**
   * Peak learning rate (default 1e-3).
   * @exclusiveMinimum 0
   * @default 0.001
   */
  lr?: number;
  /**
   * Decoupled weight decay (AdamW) or L2 (SGD). Default 0.
   * @minimum 0
   * @default 0
   */
  weight_decay?: number;
  /**
   * Optimizer (default `adamw`).
   * @default "adamw"
   */
  optimizer?: 'adamw' | 'sgd';
  /**
   * Adam betas, each in [0, 1) (default [0.9, 0.999]).
   * @default [0.9, 0.999]
   */
  betas?: [number, number];
  /**
   * Adam epsilon (default 1e-8).
   * @exclusiveMinimum 0
   * @default 1e-8
   */
  eps?: number;
  /**
   * SGD momentum, in [0, 1) (default 0.9).
   * @minimum 0
   * @exclusiveMaximum 1
   * @default 0.9
   */
  momentum?: number;
  /**
   * Learning-rate schedule after warmup (default `linear`).
   * @default "linear"
   */
  schedule?: 'constant' | 'linear' | 'cosine';
  /**
   * Steps of linear warmup from 0 to `lr` (default 0).
   * @asType integer
   * @minimum 0
   * @default 0
   */
  warmup_steps?: number;
  /**
   * Clip the global gradient norm to this value (default 1.0; 0 disables).
   * @minimum 0
   * @default 1
   */
  max_grad_norm?: number;
  /**
   * Recompute the forward pass of each transformer half-block (attention, MLP) during the
   * backward pass instead of keeping its activations alive (default false). Only the residual
   * stream between blocks is kept: activation memory drops from about one block's activations
   * per layer to one block's in all, for about one more forward pass of time per step. Gradients
   * are the same. `lily train --dry-run` shows the effect.
   * @default false
   */
  gradient_checkpointing?: boolean;
  /**
   * Seed for initialisation and data order (default 42).
   * @asType integer
   * @default 42
   */
  seed?: number;
  /**
   * Shuffle the training data each epoch (default true).
   * @default true
   */
  shuffle?: boolean;
  /**
   * Evaluate every N steps (default: once per epoch and at the end).
   * @asType integer
   * @minimum 1
   */
  eval_every?: number;
  /**
   * Log training metrics every N steps (default 10).
   * @asType integer
   * @minimum 1
   * @default 10
   */
  log_every?: number;
  /**
   * Write a checkpoint every N steps (default: at each evaluation and at the end).
   * @asType integer
   * @minimum 1
   */
  save_every?: number;
  /**
   * When a run counts as diverged. It then stops as `failed` (exit 1) at that step, keeps its
   * last good checkpoint and writes no adapter. Set a limit to 0 to switch that check off.
   */
  divergence?: DivergenceSection;
}

/** Divergence limits, checked after every step (NaN or infinite loss, gradient norm or weights always stop a run). */
export interface DivergenceSection {
  /**
   * Stop when the smoothed loss (exponential average, weight 0.1 on the newest step) rises above
   * this many times its lowest value so far (but at least 1% of the first step's loss). Default 100.
   * @minimum 0
   * @default 100
   */
  loss_factor?: number;
  /**
   * Stop when the gradient norm (before clipping) exceeds this. Default 1e6.
   * @minimum 0
   * @default 1000000
   */
  grad_norm_limit?: number;
  /**
   * Stop when any trainable weight's magnitude exceeds this. Default 1e4 (adapter weights are
   * usually below 10).
   * @minimum 0
   * @default 10000
   */
  param_limit?: number;
}

export interface RuntimeSection {
  /**
   * Execution provider: `auto` tries CUDA, then WebGPU, then CPU. Default `auto`.
   * @default "auto"
   */
  device?: 'auto' | 'cpu' | 'cuda' | 'webgpu';
  /**
   * Intra-op threads (default: all cores).
   * @asType integer
   * @minimum 1
   */
  threads?: number;
  /**
   * Which engine trains: `onnx` (this extension's own engine, one machine, no Python) or `torch`
   * (PyTorch + PEFT through `native-runtime/torch/`, launched with torchrun or `launch`, for
   * multi-process and multi-machine runs). With `torch`, `model.path` names a Hugging Face model
   * folder (or an `.onnx` file whose source folder `lily import` recorded). Default `onnx`.
   * @default "onnx"
   */
  backend?: 'onnx' | 'torch';
  /**
   * onnx backend, CPU: which frozen weights the training session keeps packed for onnxruntime's
   * matrix products (prepacking) instead of packing them again on every product.
   * `"forward"`: the weights of the forward products (x·W): about 5% faster steps (Llama-style d
   * 1024, 4x512 tokens, 2 threads: 4136-4255 -> 3923-4018 ms) for one more copy of those weights.
   * `true`: the input gradients' products (dY·Wᵀ) too: 8-10% faster, two more copies.
   * `false`: none. `"auto"` (default): `"forward"` on the CPU with `data.packing` (one train shape; with
   * length buckets every bucket's session would hold its own copy), without gradient
   * checkpointing, when the copy takes at most 1/8 of the machine's memory; otherwise `false`.
   * With `data.padding: "max_length"` and no packing the train session holds its own weights
   * anyway: `"forward"` and `true` then both pack all of them.
   * @default "auto"
   */
  pack_weights?: boolean | 'forward' | 'auto';
  /**
   * Torch backend: training processes on this machine (torchrun `--nproc-per-node`, gloo on CPU,
   * nccl on GPUs). `training.batch_size` is the global batch and must divide by it. Default 1.
   * @asType integer
   * @minimum 1
   * @default 1
   */
  processes?: number;
  /**
   * Torch backend: a launch command line instead of local processes, with `{script}` (the
   * trainer's Python entry point) and `{args}` (its arguments), e.g. for two machines
   * `torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint head:29500 {script} {args}`
   * or `srun --nodes 2 torchrun ... {script} {args}`. The run directory must be on storage every
   * machine sees.
   */
  launch?: string;
}

export interface OutputSection {
  /**
   * Folder for run directories, relative to the working directory (the workspace folder in VS Code). Default `.lily/runs`.
   * @default ".lily/runs"
   */
  dir?: string;
}
