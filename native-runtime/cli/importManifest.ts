// `lily-import.json`: what `lily import` records beside the model.onnx it wrote, so that later
// steps (`lily init`, VS Code's New Adapter Config) start from the model's own task and labels,
// and a reader can tell where the ONNX model came from.
import * as fs from 'fs';
import * as path from 'path';
import type { TaskType } from '../config/types';
import { writeFileAtomic } from '../io/atomic';

export const IMPORT_MANIFEST = 'lily-import.json';

export interface ImportManifest {
  /** The Hugging Face folder exported (absolute). */
  source: string;
  /** The hub id, when the source was found in the hub cache. */
  source_id?: string;
  architecture: string;
  model_type: string;
  task: TaskType;
  /** optimum's task: `text-generation` is the decoder graph without a KV cache. */
  exporter_task: string;
  num_labels?: number;
  /** Class names in id order, from config.json's id2label. */
  labels?: string[];
  /** Exported with --packing for data.packing (document-number mask; a classifier also takes document_starts). */
  packing?: boolean;
  /** Parameter count of the source weights. */
  parameters: number;
  /** Versions of torch, transformers and optimum-onnx that exported it, and the Python used. */
  exporter: { python: string; versions: Record<string, string> };
  created_at: string;
}

export function writeImportManifest(folder: string, m: ImportManifest): void {
  writeFileAtomic(path.join(folder, IMPORT_MANIFEST), JSON.stringify(m, null, 2) + '\n');
}

/** The manifest beside a model, or undefined when the model was not imported (or the file is unreadable). */
export function readImportManifest(folder: string): ImportManifest | undefined {
  const file = path.join(folder, IMPORT_MANIFEST);
  if (!fs.existsSync(file)) return undefined;
  try {
    const m = JSON.parse(fs.readFileSync(file, 'utf8')) as ImportManifest;
    return typeof m.task === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}
