// Label handling: which label values a dataset holds (collected while indexing), and the
// mapping from those values to class ids. String labels map through the config's `labels`
// list, or, without one, through the sorted unique labels of the training set (the trainer
// stores that list in the resolved config so eval and export use the same ids).
import type { TaskType } from '../../config/types';
import { DataError } from './errors';

/** Label values seen in one file, each with the first line it appeared on. */
export class LabelStats {
  readonly strings = new Map<string, number>();
  readonly ints = new Map<number, number>();
  constructor(readonly file: string) {}

  add(value: string | number, line: number): void {
    if (typeof value === 'number') {
      if (!this.ints.has(value)) this.ints.set(value, line);
    } else if (!this.strings.has(value)) this.strings.set(value, line);
  }
}

export type LabelScheme =
  | { kind: 'class'; names?: string[]; numLabels: number; /** Token classification: -100 marks ignored positions. */ tokenLevel: boolean }
  | { kind: 'regression' }
  | { kind: 'lm' };

/** Label value meaning "ignore this position" in token-level losses (PyTorch's convention). */
export const IGNORE_INDEX = -100;

const INT_STRING = /^-?\d+$/;

export interface LabelOptions {
  task: TaskType;
  /** Config `model.labels`. */
  labels?: string[];
  /** Config `model.num_labels`. */
  numLabels?: number;
  /** Classes the model's logits output has, when its shape says so. */
  modelClasses?: number;
  configFile?: string;
}

/**
 * Decides the label scheme from the config and the training data, then checks every file's
 * labels against it (the first offending line is reported).
 */
export function resolveLabelScheme(opts: LabelOptions, train: LabelStats, others: LabelStats[] = []): LabelScheme {
  if (opts.task === 'regression') return { kind: 'regression' };
  if (opts.task === 'causal-lm') return { kind: 'lm' };
  const where = opts.configFile ?? 'config';
  let names = opts.labels;
  if (!names && train.strings.size > 0) {
    const nonInt = [...train.strings.keys()].filter((s) => !INT_STRING.test(s));
    if (nonInt.length > 0) names = [...train.strings.keys()].sort();
  }
  const numLabels = opts.numLabels ?? names?.length ?? opts.modelClasses ?? inferFromInts(train);
  if (names && names.length !== numLabels) {
    throw new DataError(where, undefined, 'model.labels', `has ${names.length} names but num_labels is ${numLabels}; make them agree`);
  }
  if (opts.modelClasses !== undefined && numLabels !== opts.modelClasses) {
    throw new DataError(where, undefined, 'model.num_labels',
      `is ${numLabels} but the model's logits have ${opts.modelClasses} classes; set num_labels to ${opts.modelClasses} or use a model with ${numLabels} outputs`);
  }
  const scheme: LabelScheme = { kind: 'class', names, numLabels, tokenLevel: opts.task === 'token-classification' };
  for (const stats of [train, ...others]) checkLabels(scheme, stats);
  return scheme;
}

function inferFromInts(stats: LabelStats): number {
  let max = -1;
  for (const v of stats.ints.keys()) max = Math.max(max, v);
  for (const s of stats.strings.keys()) if (INT_STRING.test(s)) max = Math.max(max, Number(s));
  return Math.max(max + 1, 1);
}

function checkLabels(scheme: ClassScheme, stats: LabelStats): void {
  for (const [s, line] of stats.strings) labelToId(scheme, s, stats.file, line);
  for (const [v, line] of stats.ints) labelToId(scheme, v, stats.file, line);
}

type ClassScheme = Extract<LabelScheme, { kind: 'class' }>;

/** Class id of one label value; throws a DataError naming the file and line when invalid. */
export function labelToId(scheme: ClassScheme, value: string | number, file: string, line: number, field = 'label'): number {
  if (typeof value === 'string') {
    const k = scheme.names ? scheme.names.indexOf(value) : -1;
    if (k >= 0) return k;
    if (!INT_STRING.test(value)) {
      const known = scheme.names ? `one of ${JSON.stringify(scheme.names)}` : 'an integer class id';
      throw new DataError(file, line, field, `label ${JSON.stringify(value)} is not ${known}; fix the record or add the label to model.labels`);
    }
    value = Number(value);
  }
  if (value === IGNORE_INDEX && scheme.tokenLevel) return value;
  if (!Number.isInteger(value) || value < 0 || value >= scheme.numLabels) {
    throw new DataError(file, line, field, `label ${value} is outside 0..${scheme.numLabels - 1} (num_labels is ${scheme.numLabels})`);
  }
  return value;
}
