// `lily import <hf-folder-or-cached-model-id>`: a Hugging Face model to a Lily-ready folder in one
// step. Reads config.json (task from `architectures`, labels from `id2label`), refuses a model
// too large to export in this machine's memory before starting anything, exports with optimum in
// the user's Python (hf_export.py; decoders without a KV cache), writes model.onnx (external data
// when large), tokenizer.json and lily-import.json, then proposes a config as `lily init` does.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { packedExportCheck, packedExportsSummary } from '../config/packedExports';
import type { TaskType } from '../config/types';
import { Command, JSON_OPTION } from './command';
import { EXIT, InputError, isInputError } from '../errors';
import { chooseTask, exportMemory, gib, labelsOf, readHfConfig, resolveModelSource } from './hfModel';
import { writeImportManifest, type ImportManifest } from './importManifest';
import { initCommand } from './initCommand';
import { parseArgs } from './args';
import { Output, type CliIO } from './io';
import { ImportFailure, runExporter } from './pythonExporter';

const TASKS: TaskType[] = ['sequence-classification', 'regression', 'causal-lm', 'token-classification'];

/** Tokenizer files worth carrying over; the data pipeline reads tokenizer.json. */
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

export interface ImportSummary {
  modelDir: string;
  modelPath: string;
  manifest: ImportManifest;
  /** The proposed config (`lily init`'s JSON), unless --no-config. */
  init?: Record<string, unknown>;
}

/**
 * Where an import writes by default, relative to the working directory: `<name>-onnx` and
 * `<name>.lily.json`, and for the packed export `<name>-packed-onnx` and `<name>-packed.lily.json`.
 * The two exports of one model are different models (the packed one takes document numbers), so
 * importing one must not ask to replace the other, nor keep the other's config as its proposal.
 */
export function importDefaults(name: string, packing: boolean): { modelDir: string; config: string } {
  const base = packing ? `${name}-packed` : name;
  return { modelDir: `${base}-onnx`, config: `${base}.lily.json` };
}

function removeQuietly(p: string): void {
  fs.rmSync(p, { recursive: true, force: true });
}

export const importCommand: Command = {
  spec: {
    name: 'import',
    usage: '<hf-folder-or-cached-model-id>',
    summary: 'Export a Hugging Face model (a save_pretrained folder or a model in the local hub cache) to ONNX and propose a config.',
    details: [
      'The task comes from config.json\'s architectures (*ForSequenceClassification, *ForImageClassification, *ForTokenClassification, *ForCausalLM);',
      'decoders are exported without a KV cache. The export runs optimum (with --packing: torch\'s own exporter) in your Python (--python, default python3).',
      'Writes <out>/model.onnx, tokenizer.json and lily-import.json, then <name>.lily.json as `lily init` would',
      '(with --packing: <name>-packed-onnx/ and <name>-packed.lily.json, so both exports of a model can sit side by side).',
    ],
    positional: { min: 1, max: 1 },
    options: [
      { name: 'out', kind: 'string', value: 'DIR', help: 'Folder to write the ONNX model into (default: ./<model name>-onnx; with --packing ./<model name>-packed-onnx).' },
      { name: 'config', kind: 'string', value: 'FILE', help: 'Config file to propose (default: ./<model name>.lily.json, with --packing ./<model name>-packed.lily.json; kept if it exists).' },
      { name: 'no-config', kind: 'bool', help: 'Do not write a config (VS Code opens its New Adapter Config flow instead).' },
      { name: 'task', kind: 'string', value: 'TASK', help: `Task instead of the one config.json implies (${TASKS.join(', ')}).` },
      { name: 'python', kind: 'string', value: 'PATH', help: 'Python interpreter with optimum-onnx (default: python3).' },
      { name: 'memory-gb', kind: 'string', value: 'GB', help: 'Memory the export may use (default: this machine\'s physical memory).' },
      { name: 'force', kind: 'bool', help: 'Replace an existing model folder.' },
      { name: 'packing', kind: 'bool', help: `Export for data.packing (several texts per row, each attending to itself): ${packedExportsSummary()}.` },
      JSON_OPTION,
    ],
  },
  async run(args, ctx) {
    const out = new Output(ctx.io, !!args.options.json);
    try {
      return await runImport(args.positional[0], args.options, ctx.cwd, out, ctx.io);
    } catch (e) {
      // With --json the extension reads the failure's kind (e.g. to offer the pip install) and message.
      if (out.json && e instanceof ImportFailure) out.emit({ error: { kind: e.kind, message: e.message, pipInstall: e.pipInstall } });
      else if (out.json && isInputError(e)) out.emit({ error: { kind: 'invalid-input', message: (e as Error).message } });
      throw e;
    }
  },
};

async function runImport(arg: string, opts: Record<string, unknown>, cwd: string, out: Output, io: CliIO): Promise<number> {
  const task = opts.task as TaskType | undefined;
  if (task !== undefined && !TASKS.includes(task)) throw new InputError(`--task: expected one of ${TASKS.join(', ')}, got "${task}"`);
  const source = resolveModelSource(arg, cwd);
  const hf = readHfConfig(source.folder);
  const configFile = path.join(source.folder, 'config.json');
  const choice = chooseTask(hf, configFile, task);
  const packing = !!opts.packing;
  if (packing) {
    // Refused before Python starts (hf_export.py refuses the same model types, exit 5, as a backstop).
    const check = packedExportCheck(choice, hf.model_type!, configFile);
    if (!check.ok) throw check.why === 'task' ? new InputError(check.message) : new ImportFailure('unsupported-architecture', check.message);
  }
  const { numLabels, labels } = choice.task.endsWith('classification') ? labelsOf(hf) : {};
  const name = (source.id ?? path.basename(source.folder)).split('/').pop()!;
  out.log(`Importing ${source.id ?? source.folder}: ${choice.architecture} (${hf.model_type}) -> ${choice.task}${labels ? `, labels ${labels.join(', ')}` : numLabels ? `, ${numLabels} labels` : ''}`);

  // Too large: say so before Python starts and loads gigabytes.
  const mem = exportMemory(source.folder);
  const limit = opts['memory-gb'] !== undefined ? Number(opts['memory-gb']) * 1024 ** 3 : os.totalmem();
  if (!Number.isFinite(limit) || limit <= 0) throw new InputError(`--memory-gb: expected a positive number of GiB, got "${String(opts['memory-gb'])}"`);
  if (mem.needed > limit) {
    throw new ImportFailure('too-large',
      `${source.folder}: ${(mem.params / 1e6).toFixed(0)}M parameters; exporting them needs about ${gib(mem.needed)} of memory (float32 weights held twice, plus the runtime), ` +
      `but ${opts['memory-gb'] !== undefined ? '--memory-gb allows' : 'this machine has'} ${gib(limit)}. Export on a machine with more memory (the ONNX folder can be copied here), or pick a smaller model`);
  }

  const defaults = importDefaults(name, packing);
  const modelDir = path.resolve(cwd, (opts.out as string | undefined) ?? defaults.modelDir);
  if (fs.existsSync(path.join(modelDir, 'model.onnx')) && !opts.force) {
    throw new ImportFailure('exists', `${modelDir} already holds a model.onnx; pass --force to replace it or --out to choose another folder`);
  }
  const python = (opts.python as string | undefined) ?? 'python3';
  const partial = `${modelDir}.partial-${process.pid}`;
  removeQuietly(partial);
  fs.mkdirSync(path.dirname(modelDir), { recursive: true });
  let exported;
  try {
    exported = await runExporter({
      python, modelFolder: source.folder, outFolder: partial, optimumTask: choice.optimumTask,
      modelType: hf.model_type!, architecture: choice.architecture, packing, onLog: (l) => out.log(l),
    });
    if (!fs.existsSync(path.join(partial, 'model.onnx'))) throw new Error(`the exporter finished but wrote no model.onnx into ${partial} (it wrote: ${fs.existsSync(partial) ? fs.readdirSync(partial).join(', ') : 'nothing'})`);
    for (const f of TOKENIZER_FILES) {
      if (!fs.existsSync(path.join(partial, f)) && fs.existsSync(path.join(source.folder, f))) fs.copyFileSync(path.join(source.folder, f), path.join(partial, f));
    }
    const manifest: ImportManifest = {
      source: source.folder,
      ...(source.id ? { source_id: source.id } : {}),
      architecture: choice.architecture,
      model_type: hf.model_type!,
      task: choice.task,
      exporter_task: choice.optimumTask,
      ...(numLabels !== undefined ? { num_labels: numLabels } : {}),
      ...(labels ? { labels } : {}),
      parameters: mem.params,
      ...(packing ? { packing: true } : {}),
      exporter: { python: exported.python, versions: exported.versions },
      created_at: new Date().toISOString(),
    };
    writeImportManifest(partial, manifest);
    // Swap in the finished folder: a failed export never leaves a half-written model behind.
    const old = `${modelDir}.old-${process.pid}`;
    if (fs.existsSync(modelDir)) fs.renameSync(modelDir, old);
    fs.renameSync(partial, modelDir);
    removeQuietly(old);
  } finally {
    removeQuietly(partial);
  }
  const modelPath = path.join(modelDir, 'model.onnx');
  const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, 'lily-import.json'), 'utf8')) as ImportManifest;
  if (!fs.existsSync(path.join(modelDir, 'tokenizer.json'))) out.log(`Note: ${source.folder} has no tokenizer.json; records must carry input_ids, or add a tokenizer.json to ${modelDir}`);
  out.log(`Wrote ${modelDir} (${fs.readdirSync(modelDir).join(', ')})`);

  const summary: ImportSummary = { modelDir, modelPath, manifest };
  if (!opts['no-config']) {
    const configPath = path.resolve(cwd, (opts.config as string | undefined) ?? defaults.config);
    if (fs.existsSync(configPath)) {
      out.log(`Kept the existing ${configPath}; run \`lily init ${modelPath} --out FILE\` for a fresh proposal`);
    } else {
      // `lily init` proposes targets, Lily's shape and the LoRA rank at the same budget; it reads
      // the task and labels from lily-import.json.
      const captured: string[] = [];
      const initIO: CliIO = { ...io, stdout: (t) => { captured.push(t); } };
      const code = await initCommand.run(parseArgs(initCommand.spec, [modelPath, '--out', configPath, '--json']), { io: initIO, cwd });
      if (code !== EXIT.ok) return code;
      const init = JSON.parse(captured.join('')) as Record<string, unknown> & { config: { adapter: Record<string, unknown> } };
      summary.init = init;
      const a = init.config.adapter;
      out.print(`Model: ${modelPath} (${choice.task}${labels ? `; labels ${labels.join(', ')}` : ''})`);
      out.print(`Targets: ${(a.target_modules as string[]).join(', ')}; Lily r=${String(a.r)} stride_A=${String(a.stride_A)} num_B=${String(a.num_B)}`);
      out.print(`Trainable parameters: ${Number(init.trainable_params).toLocaleString('en-US')} (LoRA at the same budget: rank ${String(init.lora_rank_at_budget)})`);
      out.print(`Wrote ${configPath}; put your data in its data.train/data.eval (JSONL, CSV, Parquet or a datasets folder), then: lily train ${path.relative(cwd, configPath) || configPath}`);
    }
  } else out.print(`Model: ${modelPath}`);
  if (out.json) out.emit(summary);
  return EXIT.ok;
}
