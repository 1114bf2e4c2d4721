// A config whose output.dir lies outside the workspace gets a warning in the editor: training
// would write run directories there without a word. Allowed (a trusted workspace may want a
// shared runs folder), so a warning, not an error. output.dir resolves against the folder the
// backend runs in (the first workspace folder), as `lily train` resolves it against its cwd.
// No vscode import: tested in plain Node.
import * as path from 'path';
import type { ConfigDiagnostic } from '../native-runtime/protocol';

const DEFAULT_OUTPUT_DIR = '.lily/runs';

function inside(dir: string, root: string): boolean {
  const rel = path.relative(root, dir);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

export function outputDirWarning(configText: string, workspaceFolders: string[]): ConfigDiagnostic | undefined {
  if (workspaceFolders.length === 0) return undefined;
  let config: { output?: { dir?: unknown } };
  try {
    config = JSON.parse(configText) as typeof config;
  } catch {
    return undefined; // syntax errors are reported by the validator
  }
  const dir = config?.output?.dir ?? DEFAULT_OUTPUT_DIR;
  if (typeof dir !== 'string') return undefined;
  const abs = path.resolve(workspaceFolders[0], dir);
  if (workspaceFolders.some((w) => inside(abs, w))) return undefined;
  return {
    path: ['output', 'dir'], severity: 'warning',
    message: `output.dir: runs will be written to ${abs}, outside the workspace (${workspaceFolders.join(', ')}); allowed, but check that this is intended`,
  };
}
