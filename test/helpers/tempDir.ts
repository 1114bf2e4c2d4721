// Scratch folders for tests, removed when the mocha run ends (the root hook in
// cleanupHooks.ts), so a test run leaves nothing in the system's temp folder. Made under
// os.tmpdir() with a `lily-<what>-` prefix so a leftover (a killed run) says where it came from.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const made: string[] = [];

/** A new empty folder `<tmp>/<prefix>XXXXXX`, removed at the end of the test run. */
export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes every folder tempDir made (best effort: a folder still in use is left). */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // A child process may still hold it on some systems; the OS cleans the temp folder.
    }
  }
}
