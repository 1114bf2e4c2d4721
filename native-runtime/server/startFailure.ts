// Why a `lily train --json` process ended before it reported `started`, in words a user can act
// on. Exit code 2 means invalid input: the CLI already printed a message naming the file and the
// field or line ("lily train: FILE:LINE: field ...: ..."), so that message is the reason, on the
// first line (the extension shows first lines in notifications). Any other ending is an internal
// failure: the process's last output (a stack trace, if any) follows for the log.
import { EXIT } from '../errors';

/** An error whose message is complete for the user: logged without a JavaScript stack. */
export class UserFacingError extends Error {
  readonly userFacing = true;
}

export function isUserFacing(e: unknown): boolean {
  return (e as { userFacing?: unknown } | undefined)?.userFacing === true;
}

/**
 * The error for a trainer that ended before `started`. `stderr` is its last lines; the CLI's
 * message is the part from the last line starting with "lily <command>:" (a message can span
 * lines, e.g. a usage error's pointer to --help); progress lines before it are dropped.
 */
export function startFailure(configPath: string, code: number | null, signal: string | null, stderr: string[], stdout: string[] = []): Error {
  const how = signal ? `signal ${signal}` : `exit code ${code}`;
  if (!signal && code === EXIT.invalidInput) {
    const start = lastIndex(stderr, (l) => /^lily [a-z-]+: /.test(l));
    if (start >= 0) {
      const reason = [stderr[start].replace(/^lily [a-z-]+: /, ''), ...stderr.slice(start + 1)].join('\n');
      return new UserFacingError(`training did not start for ${configPath} (${how}): ${reason}`);
    }
  }
  const tail = (stderr.length ? stderr : stdout).join('\n');
  return new Error(`training did not start for ${configPath} (${how})${tail ? `; last output:\n${tail}` : ''}`);
}

function lastIndex<T>(xs: T[], pred: (x: T) => boolean): number {
  for (let i = xs.length - 1; i >= 0; i--) if (pred(xs[i])) return i;
  return -1;
}
