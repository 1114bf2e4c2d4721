// `lily init <model.onnx>`: inspects the model, proposes targets and a Lily shape, and writes a
// ready-to-edit `*.lily.json`. No `$schema`: VS Code with the Lily extension validates every
// `*.lily.json` by file name (package.json `jsonValidation`), wherever the file is and across
// updates; a written path would break when the folder is copied or the package moves.
import * as fs from 'fs';
import * as path from 'path';
import { proposeHeadModules } from '../adapters/classifierHead';
import { findLinearLayers, listTargetGroups } from '../adapters/targets';
import type { LilyConfig, TaskType } from '../config/types';
import { writeFileAtomic } from '../io/atomic';
import { budgetOf } from '../server/budgetOf';
import { EXIT, InputError } from '../errors';
import { Command, JSON_OPTION } from './command';
import { Output } from './io';
import { readImportManifest } from './importManifest';
import { loadUserModel, logitsClasses } from './model';
import { proposeLilyShape, proposeTargets } from './propose';
import { formatGroups } from './targetsCommand';
import type { Model } from '../onnx/ir';
import { DOCUMENT_STARTS } from '../train/data/record';

const TASKS: TaskType[] = ['sequence-classification', 'regression', 'causal-lm', 'token-classification'];

/** The task a model's logits shape suggests: [B, C] classification, [B, T, V] LM or tagging. */
function guessTask(model: Model): TaskType {
  // A packed classifier's logits are [batch, documents, classes]: one score per document.
  if (model.graph.inputs.some((i) => i.name === DOCUMENT_STARTS)) return 'sequence-classification';
  const shape = model.graph.outputs[0]?.shape;
  if (!shape) return 'sequence-classification';
  const last = shape[shape.length - 1];
  if (shape.length === 2) return last === 1 ? 'regression' : 'sequence-classification';
  if (shape.length === 3) return typeof last === 'number' && last <= 64 ? 'token-classification' : 'causal-lm';
  return 'sequence-classification';
}

function rel(from: string, to: string): string {
  const r = path.relative(path.dirname(from), to).split(path.sep).join('/');
  return r.startsWith('.') ? r : r;
}

/** Data files next to the config, when there are any; otherwise the conventional names. */
function dataFile(dir: string, stem: string): string {
  for (const ext of ['jsonl', 'csv', 'parquet']) if (fs.existsSync(path.join(dir, `${stem}.${ext}`))) return `${stem}.${ext}`;
  return `${stem}.jsonl`;
}

export const initCommand: Command = {
  spec: {
    name: 'init',
    usage: '<model.onnx>',
    summary: 'Propose targets and a Lily configuration for a model, and write a *.lily.json.',
    details: [
      'Targets default to the attention query/value projections (or every layer group repeated in the most blocks).',
      'Lily shape: r = 2x a LoRA rank of 8, stride_A 1-3 and num_B = ceil(layers / stride_A), as the Lily docs advise.',
    ],
    positional: { min: 1, max: 1 },
    options: [
      { name: 'out', kind: 'string', value: 'FILE', help: 'Config file to write (default: <model>.lily.json beside the model).' },
      { name: 'targets', kind: 'list', value: 'a,b', help: 'Target suffixes to adapt instead of the proposal, comma-separated.' },
      { name: 'task', kind: 'string', value: 'TASK', help: `Task (${TASKS.join(', ')}); default: the one \`lily import\` recorded, else guessed from the output shape.` },
      { name: 'force', kind: 'bool', help: 'Overwrite an existing config file.' },
      JSON_OPTION,
    ],
  },
  async run(args, ctx) {
    const out = new Output(ctx.io, !!args.options.json);
    const modelPath = path.resolve(ctx.cwd, args.positional[0]);
    const model = loadUserModel(modelPath);
    const groups = listTargetGroups(model);
    if (groups.length === 0) throw new InputError(`${modelPath}: no adaptable linear layers (MatMul/Gemm with a 2-D float32 weight) found; nothing to adapt`);
    // A model written by `lily import` carries its task and class names (lily-import.json).
    const imported = readImportManifest(path.dirname(modelPath));
    const task = (args.options.task as TaskType | undefined) ?? imported?.task ?? guessTask(model);
    if (!TASKS.includes(task)) throw new InputError(`--task: expected one of ${TASKS.join(', ')}, got "${task}"`);

    const targets = (args.options.targets as string[] | undefined) ?? proposeTargets(groups);
    const chosen = groups.filter((g) => targets.some((t) => g.suffix === t || g.suffix.endsWith(`.${t}`) || t === g.suffix.split('.').pop()));
    const layers = Math.max(1, ...chosen.map((g) => g.modules.length));
    const dMin = Math.min(...(chosen.length ? chosen : groups).map((g) => Math.min(g.d_in, g.d_out)));
    // A classification head stays at its random init unless trained in full (PEFT does the same).
    const heads = task === 'causal-lm' ? [] : proposeHeadModules(model, findLinearLayers(model));
    const adapter = { method: 'lily' as const, target_modules: targets, ...proposeLilyShape(layers, dMin), ...(heads.length ? { modules_to_save: heads } : {}) };
    let budget;
    try {
      budget = budgetOf(model, adapter);
    } catch (e) {
      throw new InputError(`--targets: ${(e as Error).message}`);
    }

    const configPath = path.resolve(ctx.cwd, (args.options.out as string | undefined) ?? path.join(path.dirname(modelPath), `${path.basename(modelPath, '.onnx')}.lily.json`));
    if (fs.existsSync(configPath) && !args.options.force) {
      throw new InputError(`${configPath} already exists; pass --force to overwrite it or --out to choose another file`);
    }
    const dir = path.dirname(configPath);
    const classes = logitsClasses(model);
    const config: LilyConfig = {
      name: path.basename(configPath).replace(/(\.lily)?\.json$/, ''),
      model: {
        path: rel(configPath, modelPath),
        task,
        ...(task.endsWith('classification') && classes !== undefined ? { num_labels: classes } : {}),
        ...(task.endsWith('classification') && imported?.labels && imported.labels.length === (classes ?? imported.labels.length) ? { labels: imported.labels } : {}),
      },
      // A model exported for packing (lily import --packing; a packed classifier's
      // document_starts input) is made for data.packing; padding then shapes only the eval
      // batches (one record per row), cut to their longest record.
      data: { train: dataFile(dir, 'train'), eval: dataFile(dir, 'eval'), max_length: 128, ...(imported?.packing || model.graph.inputs.some((i) => i.name === DOCUMENT_STARTS) ? { packing: true, padding: 'longest' as const } : {}) },
      adapter,
      training: { epochs: 3, batch_size: 16, lr: 1e-3, schedule: 'linear', warmup_steps: 10 },
    };
    fs.mkdirSync(dir, { recursive: true });
    writeFileAtomic(configPath, JSON.stringify(config, null, 2) + '\n');

    if (out.json) {
      out.emit({ configPath, config, trainable_params: budget.trainable_params, lora_rank_at_budget: budget.lora_rank_at_budget, targets: budget.targets, groups });
      return EXIT.ok;
    }
    out.print(formatGroups(groups));
    out.print('');
    out.print(`Targets: ${targets.join(', ')} (${budget.targets.reduce((s, t) => s + t.layers.length, 0)} layers)`);
    out.print(`Lily: r=${adapter.r} stride_A=${adapter.stride_A} num_B=${adapter.num_B} scaling=${adapter.scaling}`);
    out.print(`Trainable parameters: ${budget.trainable_params.toLocaleString('en-US')} (LoRA at the same budget: rank ${budget.lora_rank_at_budget})`);
    out.print(`Wrote ${configPath}`);
    for (const f of [config.data.train, config.data.eval!]) {
      if (!fs.existsSync(path.join(dir, f))) out.print(`Note: ${f} does not exist yet; put your data there (JSONL: {"text": ..., "label": ...} per line) or edit data.${f.startsWith('train') ? 'train' : 'eval'}.`);
    }
    return EXIT.ok;
  },
};
