// The data pipeline as the trainer sees it: index and validate the train and eval files
// (throwing a DataError before anything is written), decide the label scheme, and produce
// batches of onnxruntime tensors for a step or for evaluation.
import * as fs from 'fs';
import { PACKED_EXPORTS } from '../../config/packedExports';
import type { ResolvedConfig } from '../../config/resolved';
import type { ValueInfo } from '../../onnx/ir';
import { Batch, collate, collatePacked } from './batch';
import { Dataset } from './dataset';
import { DataError } from './errors';
import { LabelScheme, resolveLabelScheme } from './labels';
import { packClassExamples, packExamples, packRows } from './packing';
import { DOCUMENT_STARTS } from './record';
import { paddedLength } from './padding';
import { BatchPlan, sequentialBatches } from './plan';
import type { RecordSpec } from './record';
import { loadTokenizer, TextTokenizer } from './tokenizer';

export interface DataPipeline {
  train: Dataset;
  eval?: Dataset;
  scheme: LabelScheme;
  tokenizer?: TextTokenizer;
  modelInputs: ValueInfo[];
  /** Label names in id order (classification), to store in the resolved config. */
  labelNames?: string[];
  /** The training batch order. */
  plan: BatchPlan;
  /** The training batch of a 0-based global step. */
  trainBatch(step: number): Batch;
  /** Evaluation batches, in file order, covering the eval set (or `limit` records of it) once. */
  evalBatches(batchSize?: number, limit?: number): Generator<Batch>;
  close(): void;
}

export interface OpenDataOptions {
  /** The model's graph inputs the data must provide. */
  modelInputs: ValueInfo[];
  /** Classes in the model's logits, when the output shape says so. */
  modelClasses?: number;
  /** Use `eval` from this file instead of the config's (e.g. `lily eval --data`). */
  evalOverride?: string;
}

function requireFile(cfg: ResolvedConfig, field: string, file: string): void {
  if (!fs.existsSync(file)) {
    throw new DataError(cfg.configPath, undefined, field, `file ${file} does not exist (paths are relative to the config file's folder)`);
  }
}

export function openData(cfg: ResolvedConfig, opts: OpenDataOptions): DataPipeline {
  requireFile(cfg, 'data.train', cfg.data.train);
  const evalFile = opts.evalOverride ?? cfg.data.eval;
  if (evalFile) requireFile(cfg, 'data.eval', evalFile);
  let tokenizer: TextTokenizer | undefined;
  if (fs.existsSync(cfg.model.tokenizer)) {
    try {
      tokenizer = loadTokenizer(cfg.model.tokenizer);
    } catch (e) {
      throw new DataError(cfg.configPath, undefined, 'model.tokenizer', (e as Error).message);
    }
  }
  const base: Omit<RecordSpec, 'file' | 'format'> = {
    task: cfg.model.task,
    textField: cfg.data.text_field,
    textPairField: cfg.data.text_pair_field,
    labelField: cfg.data.label_field,
    maxLength: cfg.data.max_length,
    modelInputs: opts.modelInputs,
    tokenizer,
  };
  const train = Dataset.index({ ...base, file: cfg.data.train, format: cfg.data.format });
  const evalDs = evalFile ? Dataset.index({ ...base, file: evalFile, format: cfg.data.eval_format ?? cfg.data.format }) : undefined;
  const scheme = resolveLabelScheme({
    task: cfg.model.task,
    // Without model.labels, a datasets ClassLabel feature names the classes (Parquet/Arrow data).
    labels: cfg.model.labels ?? train.classLabels(cfg.data.label_field),
    numLabels: cfg.model.num_labels,
    modelClasses: opts.modelClasses,
    configFile: cfg.configPath,
  }, train.labelStats, evalDs ? [evalDs.labelStats] : []);

  const t = cfg.training;
  // Keep every training step's batch the same size: the default "batch" routing averages over
  // the batch, so a small last batch would weigh its samples differently.
  // With packing the plan shuffles packed rows (made once, best-fit decreasing), not records.
  const rows = cfg.data.packing ? packedRows(cfg, train, scheme, opts.modelInputs) : undefined;
  // A packed classifier scores a fixed number of document slots per row: the most any packed
  // row holds (unpacked batches, e.g. eval, use the same shape: one document per row).
  const documentSlots = rows && cfg.model.task === 'sequence-classification' ? Math.max(...rows.map((r) => r.length)) : 1;
  const load = (ds: Dataset, indices: number[]) => {
    const examples = indices.map((i) => ds.example(i, scheme));
    return collate(examples, opts.modelInputs, scheme, paddedLength(cfg.data, Math.max(...examples.map((ex) => ex.extent))), documentSlots);
  };
  // group_by_length needs every record's length up front (one tokenizing pass, as packing does).
  const lengths = !rows && cfg.data.group_by_length ? Array.from({ length: train.size }, (_, i) => train.example(i, scheme).extent) : undefined;
  const plan = new BatchPlan(rows ? rows.length : train.size, t.batch_size, t.seed, t.shuffle, true, lengths);
  const padId = tokenizer?.padId ?? 0;
  const trainBatch = rows
    ? (step: number) => {
      const picked = plan.indicesForStep(step).map((r) => rows[r]);
      const packed = picked.map((docs) => {
        const examples = docs.map((i) => train.example(i, scheme));
        return cfg.model.task === 'sequence-classification'
          ? packClassExamples(examples, cfg.data.max_length, padId, documentSlots)
          : packExamples(examples, cfg.data.max_length, padId);
      });
      return collatePacked(packed, opts.modelInputs, picked.map((docs) => train.lineOf(docs[0])));
    }
    : (step: number) => load(train, plan.indicesForStep(step));

  return {
    train,
    eval: evalDs,
    scheme,
    tokenizer,
    modelInputs: opts.modelInputs,
    labelNames: scheme.kind === 'class' ? scheme.names : undefined,
    plan,
    trainBatch,
    *evalBatches(batchSize = t.batch_size, limit) {
      if (!evalDs) return;
      const n = Math.min(evalDs.size, limit ?? Infinity);
      for (const idx of sequentialBatches(n, batchSize)) yield load(evalDs, idx);
    },
    close() {
      train.close();
      evalDs?.close();
    },
  };
}

/** Rows of record indices for `data.packing` (checked here: the task and the model's inputs). */
function packedRows(cfg: ResolvedConfig, train: Dataset, scheme: LabelScheme, modelInputs: ValueInfo[]): number[][] {
  const classify = cfg.model.task === 'sequence-classification';
  if (cfg.model.task !== 'causal-lm' && !classify) {
    throw new DataError(cfg.configPath, undefined, 'data.packing', `packing is for causal LM and sequence classification; task is "${cfg.model.task}"`);
  }
  const names = modelInputs.map((m) => m.name);
  const family = PACKED_EXPORTS.find((f) => f.task === cfg.model.task)!;
  const exportHint = `export it for packing (lily import MODEL --packing, for ${Object.values(family.modelTypes).join(', ')}: ` +
    `document-number mask, position_ids${classify ? `, ${DOCUMENT_STARTS}` : ''})`;
  if (!names.includes('position_ids')) {
    throw new DataError(cfg.configPath, undefined, 'data.packing', `the model has no position_ids input (inputs: ${names.join(', ')}), so packed documents would continue each other's positions; ${exportHint}, or remove data.packing`);
  }
  if (classify && !names.includes(DOCUMENT_STARTS)) {
    throw new DataError(cfg.configPath, undefined, 'data.packing', `the model has no ${DOCUMENT_STARTS} input (inputs: ${names.join(', ')}), so it cannot score each document of a packed row; ${exportHint}, or remove data.packing`);
  }
  const packable = ['input_ids', 'attention_mask', 'position_ids', 'token_type_ids', ...(classify ? [DOCUMENT_STARTS] : [])];
  const other = names.filter((n) => !packable.includes(n));
  if (other.length) {
    throw new DataError(cfg.configPath, undefined, 'data.packing', `the model input(s) ${other.join(', ')} cannot be packed (a packed row has ${packable.join(', ')}); remove data.packing`);
  }
  const lengths = Array.from({ length: train.size }, (_, i) => train.example(i, scheme).extent);
  return packRows(lengths, cfg.data.max_length);
}
