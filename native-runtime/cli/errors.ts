// The CLI's own error: bad command-line usage. The exit codes and the other input errors are
// shared with the server and live in native-runtime/errors.ts.
import { InputError } from '../errors';

/** Bad command-line usage (exit 2, as every input error); the message ends with a pointer to `--help`. */
export class UsageError extends InputError {
  constructor(message: string, command?: string) {
    super(`${message}\nRun \`lily ${command ? `${command} ` : ''}--help\` for usage.`);
    this.name = 'UsageError';
  }
}
