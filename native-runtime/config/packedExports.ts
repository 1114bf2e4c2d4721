// Which Hugging Face models `lily import --packing` can export for data.packing (a document-number
// attention mask, so several documents share one row). One list, read by the CLI (its help, an
// exit 2 before Python starts, the messages), by the data pipeline (the export it names when a
// model cannot pack) and by the extension's import command (which offers a packed export only for
// these). It lives beside the config types, below all three, and imports nothing but them. The
// Python side maps the same model types to their packed classes (`PACKED` in
// native-runtime/torch/doc_classifiers.py and doc_decoders.py, which hf_export.py picks by the
// optimum task); test/cli/packedExports.test.ts fails when they differ.
import type { TaskType } from './types';

/** The task a model is imported for, as cli/hfModel.ts `chooseTask` returns it (its TaskChoice). */
export interface ImportTask {
  /** config.json's architecture, named in refusals. */
  architecture: string;
  task: TaskType;
  /** optimum's task name (`text-classification`, `text-generation`, `image-classification`, ...). */
  optimumTask: string;
}

export interface PackedFamily {
  /** The Lily task the import proposes. */
  task: TaskType;
  /** optimum's task for it (hf_export.py --task): hf_export.py picks the Python module by it. */
  optimumTask: string;
  /** What the export is, for messages ("sequence classifier"). */
  kind: string;
  /** config.json `model_type` -> the name users know the family by. */
  modelTypes: Record<string, string>;
  /** What the packed export adds beyond the mask, for messages; empty when nothing. */
  adds: string;
}

export const PACKED_EXPORTS: readonly PackedFamily[] = [
  {
    task: 'sequence-classification', optimumTask: 'text-classification', kind: 'sequence classifier',
    modelTypes: { bert: 'BERT', roberta: 'RoBERTa', electra: 'ELECTRA' }, adds: 'a score per document',
  },
  {
    task: 'causal-lm', optimumTask: 'text-generation', kind: 'causal LM',
    modelTypes: { llama: 'Llama', qwen2: 'Qwen2', mistral: 'Mistral' }, adds: '',
  },
];

/** "sequence classifier (BERT, RoBERTa, ELECTRA)", or with `plural` "sequence classifiers (...)". */
function familyText(f: PackedFamily, plural: boolean): string {
  return `${f.kind}${plural ? 's' : ''} (${Object.values(f.modelTypes).join(', ')})`;
}

/** "sequence classifiers (BERT, RoBERTa, ELECTRA) and causal LMs (Llama, Qwen2, Mistral)". */
export function packedExportsSummary(): string {
  return PACKED_EXPORTS.map((f) => familyText(f, true)).join(' and ');
}

/** The model types with a packed export for a family, sorted (as Python's `sorted(PACKED)`). */
export function packedModelTypes(f: PackedFamily): string[] {
  return Object.keys(f.modelTypes).sort();
}

export type PackedExportCheck =
  | { ok: true; family: PackedFamily }
  /** Packing does not serve the task (regression, tokens, images). */
  | { ok: false; why: 'task'; message: string }
  /** The task has packed exports (`family`), this model type has none. */
  | { ok: false; why: 'model-type'; family: PackedFamily; message: string };

/** Whether `lily import --packing` can export this model; `configFile` is named in a refusal. */
export function packedExportCheck(choice: ImportTask, modelType: string, configFile: string): PackedExportCheck {
  const family = PACKED_EXPORTS.find((f) => f.task === choice.task && f.optimumTask === choice.optimumTask);
  if (!family) {
    const as = choice.optimumTask === 'image-classification' ? `${choice.task} of images` : choice.task;
    return { ok: false, why: 'task', message: `--packing: exports a ${PACKED_EXPORTS.map((f) => familyText(f, false)).join(' or a ')} for data.packing; ${choice.architecture} is imported as ${as}: leave out --packing` };
  }
  if (!Object.hasOwn(family.modelTypes, modelType)) {
    return {
      ok: false, why: 'model-type', family,
      message: `${configFile}: --packing: architecture ${choice.architecture} (model_type "${modelType}") has no packed export for ${family.optimumTask} ` +
        `(a document-number attention mask${family.adds ? ` and ${family.adds}` : ''}); model types with one: ${packedModelTypes(family).join(', ')}. Import without --packing and leave data.packing off`,
    };
  }
  return { ok: true, family };
}
