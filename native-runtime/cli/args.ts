// A small, strict command-line parser: each command declares its options, so an unknown or
// misspelled option is an error (with the nearest valid name) rather than silently ignored.
import { closest } from 'fastest-levenshtein';
import { UsageError } from './errors';

export interface OptionSpec {
  name: string;
  kind: 'string' | 'int' | 'bool' | 'list';
  /** Placeholder in help, e.g. `N` or `DIR`. */
  value?: string;
  help: string;
  /** Used between lily processes (e.g. a sweep's point runs), not shown in --help. */
  internal?: boolean;
}

export interface CommandSpec {
  name: string;
  /** Positional arguments, e.g. `<config>`, `[model.onnx]`. */
  usage: string;
  summary: string;
  /** Extra lines printed under the usage. */
  details?: string[];
  positional: { min: number; max: number };
  options: OptionSpec[];
}

export interface ParsedArgs {
  positional: string[];
  options: Record<string, string | number | boolean | string[]>;
  help: boolean;
}

export function parseArgs(spec: CommandSpec, argv: string[]): ParsedArgs {
  const out: ParsedArgs = { positional: [], options: {}, help: false };
  const byName = new Map(spec.options.map((o) => [o.name, o]));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') { out.help = true; continue; }
    if (a === '--') { out.positional.push(...argv.slice(i + 1)); break; }
    if (!a.startsWith('--')) { out.positional.push(a); continue; }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq >= 0 ? eq : undefined);
    const opt = byName.get(name);
    if (!opt) {
      const names = spec.options.map((o) => o.name);
      const hint = names.length ? ` (did you mean --${closest(name, names)}?)` : '';
      throw new UsageError(`lily ${spec.name}: unknown option --${name}${hint}`, spec.name);
    }
    if (opt.kind === 'bool') {
      if (eq >= 0) throw new UsageError(`lily ${spec.name}: --${name} takes no value`, spec.name);
      out.options[name] = true;
      continue;
    }
    let value: string | undefined = eq >= 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith('--'))) {
      throw new UsageError(`lily ${spec.name}: --${name} needs a value (${opt.value ?? 'VALUE'})`, spec.name);
    }
    if (opt.kind === 'int') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`lily ${spec.name}: --${name} expects a positive integer, got "${value}"`, spec.name);
      out.options[name] = n;
    } else if (opt.kind === 'list') {
      out.options[name] = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    } else out.options[name] = value;
  }
  if (!out.help) {
    const n = out.positional.length;
    if (n < spec.positional.min) throw new UsageError(`lily ${spec.name}: missing argument; usage: lily ${spec.name} ${spec.usage}`, spec.name);
    if (n > spec.positional.max) throw new UsageError(`lily ${spec.name}: unexpected argument "${out.positional[spec.positional.max]}"; usage: lily ${spec.name} ${spec.usage}`, spec.name);
  }
  return out;
}

export function commandHelp(spec: CommandSpec): string {
  const lines = [`Usage: lily ${spec.name} ${spec.usage} [options]`, '', spec.summary];
  if (spec.details) lines.push('', ...spec.details);
  const shown = spec.options.filter((o) => !o.internal);
  if (shown.length) {
    lines.push('', 'Options:');
    const left = shown.map((o) => `  --${o.name}${o.kind === 'bool' ? '' : ` ${o.value ?? 'VALUE'}`}`);
    const width = Math.max(...left.map((l) => l.length)) + 2;
    shown.forEach((o, i) => lines.push(left[i].padEnd(width) + o.help));
    lines.push('  --help'.padEnd(width) + 'Show this help.');
  }
  return lines.join('\n') + '\n';
}
