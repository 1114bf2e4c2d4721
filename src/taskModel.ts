// What the `lily` task's terminal says when the CLI ends, and how soon it may end. No vscode
// import: tested in plain Node.

/**
 * How long after open() the task may end at the earliest: VS Code marks a terminal whose
 * process exits within 500 ms of launch as "failed to launch (exit code: N)", which hid the
 * CLI's own message about a config error (found in well under a second).
 */
export const MIN_RUN_MS = 1000;

/** What the terminal says when the CLI ends (its own message is already above). */
export function endLine(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `lily train ended by ${signal}`;
  if (code === 2) return 'lily train: invalid input (exit code 2): fix what is named above and run the task again';
  if (code === 130) return 'lily train: interrupted (exit code 130); a checkpoint was written: resume with "Lily: Resume"';
  return `lily train exited with code ${code}`;
}

