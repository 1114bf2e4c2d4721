// Turns extension-host trouble into an immediate, named failure instead of a timeout: an
// activation error, an extension host crash, or an uncaught exception thrown from the
// extension's own code. Fed by the browser console (the workbench prints the extension host's
// errors there) and by the extension host's log files.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export class Watchdog {
  /** @param {string} extensionRoot errors whose text names a file under it are the extension's */
  constructor(extensionRoot) {
    this.extensionRoot = extensionRoot;
    this.problem = null;
    this.listeners = [];
    this.offsets = new Map();
  }

  /** Resolves never; rejects with the first problem seen. */
  failure() {
    return new Promise((_, reject) => {
      if (this.problem) reject(this.problem);
      else this.listeners.push(reject);
    });
  }

  /** Classifies one line of console or log text. */
  inspect(text, source) {
    if (this.problem) return;
    const reason = this.classify(text);
    if (!reason) return;
    this.problem = new Error(`${reason} (from ${source}):\n${text.slice(0, 4000)}`);
    for (const reject of this.listeners.splice(0)) reject(this.problem);
  }

  classify(text) {
    if (/Activating extension .* failed/i.test(text)) return 'an extension failed to activate';
    if (/Extension host .*terminated unexpectedly/i.test(text)) return 'the extension host crashed';
    if (/Cannot (find|load) (module|extension).*extensionTests|Could not find test runner/i.test(text)) return 'the extension test runner could not be loaded';
    // The suite's own final rejection ("N extension tests failed") is a result, not a crash.
    if (/extension tests failed/.test(text)) return null;
    const ours = text.includes(path.join(this.extensionRoot, 'out') + path.sep);
    if (ours && /(Uncaught|unhandled|rejected promise not handled|\[error\])/i.test(text)) return 'an uncaught exception in the extension';
    return null;
  }

  /**
   * Ignores what the extension host logs under `logsRoot` hold now: on a server shared by
   * several runs, an earlier window's errors (a self-check's activation failure) are not this
   * run's. Call before the run's window opens.
   */
  skipExistingLogs(logsRoot) {
    if (!existsSync(logsRoot)) return;
    for (const file of walk(logsRoot)) {
      if (!/^(remote)?exthost\.log$/i.test(path.basename(file))) continue;
      try {
        this.offsets.set(file, statSync(file).size);
      } catch {
        // Rotated away between listing and stat: nothing of it to skip.
      }
    }
  }

  /**
   * Reads what was appended to the extension host's own log (`remoteexthost.log`) under
   * `logsRoot` since the last call, and inspects it record by record: a record is a timestamped
   * line plus the untimestamped lines (message, stack) that follow it.
   */
  pollLogs(logsRoot) {
    if (!existsSync(logsRoot) || this.problem) return;
    for (const file of walk(logsRoot)) {
      if (!/^(remote)?exthost\.log$/i.test(path.basename(file))) continue;
      let size;
      try {
        size = statSync(file).size;
      } catch {
        continue;
      }
      const from = this.offsets.get(file) ?? 0;
      if (size <= from) continue;
      const text = readFileSync(file).subarray(from, size).toString('utf8');
      // Only consume complete lines; a record still being written is read again next time.
      const end = text.lastIndexOf('\n') + 1;
      if (end === 0) continue;
      this.offsets.set(file, from + Buffer.byteLength(text.slice(0, end)));
      let offset = from;
      for (const record of splitRecords(text.slice(0, end))) {
        const at = offset;
        offset += Buffer.byteLength(record) + 1;
        if (!record.trim() || !this.classify(record)) continue;
        // VS Code logs the reason as the next record(s) ("Activating extension X failed due to
        // an error:" then the error with its stack): report the problem with what follows it.
        setTimeout(() => {
          const after = readFileSync(file).subarray(at).toString('utf8');
          this.inspect(splitRecords(after).slice(0, 3).join('\n').trim(), path.basename(file));
        }, 500).unref?.();
        return;
      }
    }
  }
}

/** A log record: a timestamped line plus the untimestamped lines (message, stack) after it. */
function splitRecords(text) {
  return text.split(/\n(?=\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)/);
}

function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.name.endsWith('.log')) yield full;
  }
}
