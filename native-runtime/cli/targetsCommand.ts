// `lily targets <model.onnx>`: the adaptable linear layers, grouped by target suffix.
import * as path from 'path';
import { hiddenLinearWeights, hiddenWeightsNote } from '../adapters/fusedOps';
import { displayNames, listTargetGroups } from '../adapters/targets';
import type { ListTargetsResult, TargetGroup } from '../protocol';
import { EXIT } from '../errors';
import { Command, JSON_OPTION } from './command';
import { Output } from './io';
import { loadUserModel } from './model';

export function formatGroups(groups: TargetGroup[]): string {
  const names = displayNames(groups);
  const width = Math.max(6, ...names.map((n) => n.length));
  const lines = [`${'target'.padEnd(width)}  ${'d_in'.padStart(6)}  ${'d_out'.padStart(6)}  layers  modules`];
  groups.forEach((g, k) => {
    const mods = g.modules.length <= 2 ? g.modules.join(', ') : `${g.modules[0]} ... ${g.modules[g.modules.length - 1]}`;
    lines.push(`${names[k].padEnd(width)}  ${String(g.d_in).padStart(6)}  ${String(g.d_out).padStart(6)}  ${String(g.modules.length).padStart(6)}  ${mods}`);
  });
  return lines.join('\n');
}

export const targetsCommand: Command = {
  spec: {
    name: 'targets',
    usage: '<model.onnx>',
    summary: 'List the linear layers of an ONNX model that adapters can target, grouped by module-name suffix.',
    positional: { min: 1, max: 1 },
    options: [JSON_OPTION],
  },
  async run(args, ctx) {
    const out = new Output(ctx.io, !!args.options.json);
    const file = path.resolve(ctx.cwd, args.positional[0]);
    const model = loadUserModel(file);
    const groups = listTargetGroups(model);
    const hidden = hiddenLinearWeights(model);
    if (out.json) {
      out.emit({ targets: groups, ...(hidden.length ? { hidden } : {}) } satisfies ListTargetsResult);
      return EXIT.ok;
    }
    if (groups.length === 0) {
      out.print(`${file}: no adaptable linear layers (MatMul/Gemm with a 2-D float32 weight initializer) found.`);
    } else {
      out.print(`${file}: ${groups.reduce((s, g) => s + g.modules.length, 0)} linear layers in ${groups.length} target groups\n`);
      out.print(formatGroups(groups));
    }
    if (hidden.length) out.print(`\nNote: ${hiddenWeightsNote(hidden)}`);
    return EXIT.ok;
  },
};
