// Whether "Lily: Import Hugging Face Model..." asks for a packed export, what the question says,
// and the `lily import` command line. The supported model types are the list `lily import
// --packing` uses (native-runtime/config/packedExports.ts), read with config.json as `lily import` reads it.
// No vscode import: tested in Node.
import * as path from 'path';
import { chooseTask, readHfConfig, resolveModelSource } from '../native-runtime/cli/hfModel';
import { packedExportCheck, type PackedExportCheck, type PackedFamily } from '../native-runtime/config/packedExports';

export type PackingOffer =
  /** The model has a packed export: ask with `items`. */
  | { offer: true; title: string; placeHolder: string; items: ExportChoiceItem[] }
  /** No question; `note` (when there is one) says why, for the output channel. */
  | { offer: false; note?: string };

export interface ExportChoiceItem {
  label: string;
  description: string;
  detail: string;
  packing: boolean;
}

/** The two exports of a model whose family has a packed one; the standard export first (Enter keeps it). */
export function exportChoiceItems(family: PackedFamily): ExportChoiceItem[] {
  const classifier = family.task === 'sequence-classification';
  return [
    {
      label: 'Standard export', description: 'one document per row', packing: false,
      detail: 'optimum\'s ONNX export of the model as transformers runs it; data.padding trims each batch to its longest row',
    },
    {
      label: 'Packed export', description: 'several documents per row: data.packing', packing: true,
      detail: 'Short texts share a row with little padding: fewer, fuller steps. Each document attends only to itself, with its own positions' +
        (classifier ? ' and a score of its own (the model also takes document_starts)' : '') +
        '. The new config gets data.packing: true',
    },
  ];
}

/** What to ask for the model at `source` (a folder or a hub-cache id, as `lily import` takes it). */
export function packingOffer(source: string, cwd: string, env: NodeJS.ProcessEnv = process.env): PackingOffer {
  let name: string;
  let modelType: string;
  let check: PackedExportCheck;
  try {
    const src = resolveModelSource(source, cwd, env);
    const file = path.join(src.folder, 'config.json');
    const hf = readHfConfig(src.folder);
    name = src.id ?? path.basename(src.folder);
    modelType = hf.model_type!;
    check = packedExportCheck(chooseTask(hf, file), modelType, file);
  } catch {
    // An unreadable folder or config: `lily import` itself reports it, with the file and field.
    return { offer: false };
  }
  if (check.ok) {
    return {
      offer: true, title: `Export ${name} (${modelType}, ${check.family.kind}) for packing?`,
      placeHolder: 'Enter keeps the standard export', items: exportChoiceItems(check.family),
    };
  }
  // A task that packing does not serve (regression, token or image classification) needs no note.
  if (check.why === 'task') return { offer: false };
  return { offer: false, note: `no packed export offered: model_type "${modelType}" has none (${check.family.kind}s with one: ${Object.values(check.family.modelTypes).join(', ')})` };
}

export interface ImportArgs {
  /** bin/lily.js of the installed extension. */
  cli: string;
  source: string;
  python: string;
  out?: string;
  force?: boolean;
  packing?: boolean;
}

/** The `lily import` arguments (after the Node binary): JSON result, no config file (New Adapter Config follows). */
export function importCliArgs(a: ImportArgs): string[] {
  return [a.cli, 'import', a.source, '--json', '--no-config', '--python', a.python,
    ...(a.out ? ['--out', a.out] : []), ...(a.force ? ['--force'] : []), ...(a.packing ? ['--packing'] : [])];
}
