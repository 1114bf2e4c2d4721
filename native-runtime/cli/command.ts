// What every `lily` subcommand provides: its argument spec (which also renders --help) and run.
import type { CommandSpec, ParsedArgs } from './args';
import type { CliIO } from './io';

export interface CliContext {
  io: CliIO;
  /** Folder relative paths on the command line resolve against. */
  cwd: string;
}

export interface Command {
  spec: CommandSpec;
  /** Returns the exit code; throws InputError/ConfigError/DataError for invalid input. */
  run(args: ParsedArgs, ctx: CliContext): Promise<number>;
}

export const JSON_OPTION = { name: 'json', kind: 'bool', help: 'Print machine-readable JSON on stdout (logs go to stderr).' } as const;
