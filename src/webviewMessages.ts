// Validation of messages from the dashboard webview. A webview is untrusted content (it renders
// run data, which may come from anywhere), so the host accepts only the known message shapes,
// and opens files only inside the run directory being shown. No vscode import: tested in Node.
import * as fs from 'fs';
import * as path from 'path';
import type { WebviewToHost } from '../native-runtime/protocol';
import { RUN_FILES } from '../native-runtime/runFiles';

export type ParsedMessage = { ok: true; message: WebviewToHost } | { ok: false; reason: string };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNonEmptyString = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length < 4096;

export function parseWebviewMessage(raw: unknown): ParsedMessage {
  if (!isObj(raw)) return { ok: false, reason: `expected an object, got ${raw === null ? 'null' : typeof raw}` };
  switch (raw.type) {
    case 'ready':
      return { ok: true, message: { type: 'ready' } };
    case 'selectRun':
      return isNonEmptyString(raw.runDir)
        ? { ok: true, message: { type: 'selectRun', runDir: raw.runDir } }
        : { ok: false, reason: 'selectRun needs a non-empty string runDir' };
    case 'selectCompare':
      return raw.runDir === null || isNonEmptyString(raw.runDir)
        ? { ok: true, message: { type: 'selectCompare', runDir: raw.runDir as string | null } }
        : { ok: false, reason: 'selectCompare needs runDir: a non-empty string or null' };
    case 'openFile':
      return isNonEmptyString(raw.path)
        ? { ok: true, message: { type: 'openFile', path: raw.path } }
        : { ok: false, reason: 'openFile needs a non-empty string path' };
    case 'pickCompareRuns':
      return { ok: true, message: { type: 'pickCompareRuns' } };
    case 'removeCompareRun':
      return isNonEmptyString(raw.runDir)
        ? { ok: true, message: { type: 'removeCompareRun', runDir: raw.runDir } }
        : { ok: false, reason: 'removeCompareRun needs a non-empty string runDir' };
    case 'saveFile':
      if (raw.kind !== 'png' && raw.kind !== 'csv') return { ok: false, reason: 'saveFile needs kind "png" or "csv"' };
      if (!isNonEmptyString(raw.name) || raw.name.length > 255) return { ok: false, reason: 'saveFile needs a file name (a non-empty string up to 255 characters)' };
      if (typeof raw.data !== 'string' || raw.data.length === 0) return { ok: false, reason: 'saveFile needs data: a non-empty string' };
      return { ok: true, message: { type: 'saveFile', kind: raw.kind, name: raw.name, data: raw.data } };
    default:
      return { ok: false, reason: `unknown message type ${JSON.stringify(raw.type)}` };
  }
}

/**
 * The absolute path of `requested` (absolute, or relative to `root`) if it lies inside `root`,
 * else undefined. `..` segments and sibling folders sharing a prefix (`/runs/a` vs `/runs/ab`)
 * are rejected; symlinks are resolved when the target exists.
 */
export function resolveInside(root: string, requested: string): string | undefined {
  if (requested.includes('\0')) return undefined;
  const base = path.resolve(root);
  const target = path.resolve(base, requested);
  const inside = (b: string, t: string) => {
    const rel = path.relative(b, t);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  };
  if (!inside(base, target)) return undefined;
  try {
    // realpath both sides: a symlink inside the run dir must not lead out of it.
    const realBase = fs.realpathSync(base);
    const realTarget = fs.realpathSync(target);
    if (!inside(realBase, realTarget)) return undefined;
  } catch {
    // A path that does not exist cannot be opened anyway; the lexical check above suffices.
  }
  return target;
}

/**
 * Whether `dir` is a Lily run directory: an absolute path to a folder holding status.json. A
 * path from the page (selectRun, the panel's saved state) is trusted only if it is one.
 */
export function isRunDirectory(dir: unknown): dir is string {
  if (!isNonEmptyString(dir) || dir.includes('\0') || !path.isAbsolute(dir)) return false;
  try {
    return fs.statSync(path.join(dir, RUN_FILES.status)).isFile();
  } catch {
    return false;
  }
}

/**
 * The run a dashboard panel restored after a reload shows: the runDir its page saved (the page
 * wrote that state, so it is checked like a selectRun), else the run the window showed last.
 * `missing` names what was asked for when it is not (or no longer) a run directory.
 */
export function restoredRunDir(state: unknown, lastShown: string | undefined): { runDir: string } | { missing: string | undefined } {
  const saved = isObj(state) && isNonEmptyString(state.runDir) ? state.runDir : undefined;
  const wanted = saved ?? lastShown;
  return isRunDirectory(wanted) ? { runDir: wanted } : { missing: wanted };
}

/**
 * The runs a restored panel's "Compare runs" tab showed (the page saved them): only those that
 * are still run directories, checked like a selectRun.
 */
export function restoredCompareDirs(state: unknown): string[] {
  if (!isObj(state) || !Array.isArray(state.compareRunDirs)) return [];
  return state.compareRunDirs.filter((d): d is string => isRunDirectory(d)).slice(0, 500);
}
