// The backend's exit codes and which errors are the user's to fix, shared by the two front ends:
// the `lily` CLI exits with these codes (cli.ts), and the JSON-RPC server reads them from the
// `lily train --json` processes it spawns (server/startFailure.ts) and logs input errors without a
// stack (server/handlers.ts). Invalid input (bad config, missing file, malformed data line,
// unusable model, bad arguments) is 2, so scripts can tell a mistake to fix from a runtime failure
// (1). A run directory another live process is writing (io/runLock.ts) is also 2. An interrupted
// run is 130, as shells report SIGINT. Command-line usage errors are the CLI's own (cli/errors.ts).
import { ConfigError } from './config/validate';
import { CheckpointDamagedError } from './io/checkpointManifest';
import { RunLockedError } from './io/runLock';
import { DataError } from './train/data/errors';

export const EXIT = { ok: 0, failure: 1, invalidInput: 2, interrupted: 130 } as const;

/** A problem with what the user gave: the message names the file and field or line. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

export function isInputError(e: unknown): boolean {
  // A run held by another live process is the user's to resolve (wait or stop it), like bad input.
  return e instanceof InputError || e instanceof ConfigError || e instanceof DataError || e instanceof RunLockedError || e instanceof CheckpointDamagedError;
}

export function exitCodeOf(e: unknown): number {
  return isInputError(e) ? EXIT.invalidInput : EXIT.failure;
}
