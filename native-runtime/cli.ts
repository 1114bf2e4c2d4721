// The `lily` command line: the backend's entry point for people and scripts (and for the
// server, which runs `lily train --json` in a child process). `main` only wires: each
// subcommand lives in cli/<name>Command.ts, registered in the table below.
import { closest } from 'fastest-levenshtein';
import { commandHelp, parseArgs } from './cli/args';
import type { Command, CliContext } from './cli/command';
import { EXIT, exitCodeOf, isInputError } from './errors';
import { evalCommand } from './cli/evalCommand';
import { exportCommand } from './cli/exportCommand';
import { importCommand } from './cli/importCommand';
import { initCommand } from './cli/initCommand';
import { inspectCommand } from './cli/inspectCommand';
import { CliIO, processIO } from './cli/io';
import { targetsCommand } from './cli/targetsCommand';
import { sweepCommand } from './cli/sweepCommand';
import { trainCommand } from './cli/trainCommand';

const COMMANDS: Command[] = [importCommand, initCommand, targetsCommand, trainCommand, sweepCommand, evalCommand, inspectCommand, exportCommand];

function version(): string {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  try { return (require('../../package.json') as { version: string }).version; } catch { return 'unknown'; }
}

function generalHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.spec.name.length)) + 4;
  return [
    'Usage: lily <command> [arguments] [options]',
    '',
    'Train Lily (and LoRA) adapters on ONNX models.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.spec.name.padEnd(width)}${c.spec.summary}`),
    '',
    'Run `lily <command> --help` for a command\'s options.',
    'Exit codes: 0 ok, 1 runtime failure, 2 invalid input (config, data, model, arguments), 130 interrupted.',
    '',
  ].join('\n');
}

/** Runs the CLI with `argv` (without node and the script path); resolves to the exit code. */
export async function main(argv: string[], io: CliIO = processIO(), cwd: string = process.cwd()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(generalHelp());
    return name === undefined ? EXIT.invalidInput : EXIT.ok;
  }
  if (name === '--version' || name === '-v') {
    io.stdout(`${version()}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.spec.name === name);
  if (!command) {
    const suggestion = closest(name, COMMANDS.map((c) => c.spec.name));
    io.stderr(`lily: unknown command "${name}" (did you mean "${suggestion}"?)\nRun \`lily --help\` for the list of commands.\n`);
    return EXIT.invalidInput;
  }
  const ctx: CliContext = { io, cwd };
  try {
    const args = parseArgs(command.spec, rest);
    if (args.help) {
      io.stdout(commandHelp(command.spec));
      return EXIT.ok;
    }
    return await command.run(args, ctx);
  } catch (e) {
    const err = e as Error;
    // Messages thrown with their command's prefix (`lily train: --device expects ...`) get it once.
    const prefix = `lily ${name}: `;
    const message = err.message?.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
    if (isInputError(e)) io.stderr(`${prefix}${message}\n`);
    else io.stderr(`${prefix}error: ${process.env.LILY_DEBUG ? err.stack : message}\n`);
    return exitCodeOf(e);
  }
}
