// Each checkpoint's manifest.json: its step and the sha256 and size of every file, written into
// the checkpoint's temp folder after the files and before the rename. Without it a bit flip in
// params.safetensors resumed silently (the loss off by 1.2e-3 from then on). Checkpoints written
// before manifests existed have none; they are loaded unverified (the step and finiteness checks
// in checkpoint.ts still apply).
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { writeJsonAtomic } from './atomic';

export const MANIFEST_FILE = 'manifest.json';

export interface CheckpointManifest {
  step: number;
  files: Record<string, { sha256: string; bytes: number }>;
}

/** A checkpoint that cannot be trusted; `reason` names the file and what is wrong with it. */
export class CheckpointDamagedError extends Error {
  constructor(readonly dir: string, readonly reason: string) {
    super(`${dir}: damaged checkpoint: ${reason}; resume from another checkpoint (\`lily train --resume RUN\` picks the newest intact one)`);
    this.name = 'CheckpointDamagedError';
  }
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

export function writeManifest(dir: string, step: number, files: string[]): void {
  const manifest: CheckpointManifest = { step, files: {} };
  for (const f of files) manifest.files[f] = { sha256: sha256(path.join(dir, f)), bytes: fs.statSync(path.join(dir, f)).size };
  writeJsonAtomic(path.join(dir, MANIFEST_FILE), manifest);
}

/** Checks the files against the manifest; returns the manifest's step (undefined: no manifest). */
export function verifyCheckpoint(dir: string): number | undefined {
  const file = path.join(dir, MANIFEST_FILE);
  if (!fs.existsSync(file)) return undefined;
  let manifest: CheckpointManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as CheckpointManifest;
    if (typeof manifest.step !== 'number' || !manifest.files || typeof manifest.files !== 'object') throw new Error('no step or files');
  } catch (e) {
    throw new CheckpointDamagedError(dir, `${MANIFEST_FILE} is unreadable (${(e as Error).message})`);
  }
  for (const [name, want] of Object.entries(manifest.files)) {
    const f = path.join(dir, name);
    if (!fs.existsSync(f)) throw new CheckpointDamagedError(dir, `${name} is missing`);
    const bytes = fs.statSync(f).size;
    if (bytes !== want.bytes) throw new CheckpointDamagedError(dir, `${name} has ${bytes} bytes, its manifest says ${want.bytes} (truncated or replaced)`);
    if (sha256(f) !== want.sha256) throw new CheckpointDamagedError(dir, `${name} does not match its checksum in ${MANIFEST_FILE} (the file changed after it was written: disk or copy damage)`);
  }
  return manifest.step;
}
