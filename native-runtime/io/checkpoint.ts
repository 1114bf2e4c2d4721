// Checkpoints: everything needed to resume a run exactly, under <runDir>/checkpoints/step-<N>/:
//   params.safetensors     trainable tensors (internal names, float32)
//   optimizer.safetensors  optimizer state tensors (e.g. Adam moments), float32
//   trainer.json           TrainerState: step, epoch, position in the epoch, rng and data-order seeds
//   manifest.json          step + sha256 and size of each file above, written last (checkpointManifest.ts)
// A checkpoint is built in a hidden temp folder and renamed to step-<N> only when every file is
// written and fsynced, so a crash never leaves a half-written folder that looks complete; readers
// only consider `step-<N>` folders and also check their files are all there.
import * as fs from 'fs';
import * as path from 'path';
import { RUN_FILES } from '../runFiles';
import type { NamedTensor } from './adapterWeights';
import { fsyncDir, writeJsonAtomic } from './atomic';
import { CheckpointDamagedError, verifyCheckpoint, writeManifest } from './checkpointManifest';
import { isProcessAlive } from './runDir';
import { readSafetensors, toFloat32, writeSafetensors, type TensorInput } from './safetensors';

export const CHECKPOINT_FILES = { params: 'params.safetensors', optimizer: 'optimizer.safetensors', trainer: 'trainer.json' } as const;
export { CheckpointDamagedError } from './checkpointManifest';
const STEP_DIR = /^step-(\d+)$/;

/** The trainer's position; any extra JSON fields the trainer needs ride along. */
export interface TrainerState {
  step: number;
  epoch: number;
  /** Batches already taken from the current epoch's order. */
  position_in_epoch: number;
  /** Seed of the data order (the epoch's permutation is derived from it and the epoch number). */
  data_order_seed: number;
  /** The random generator's state, as the trainer serialises it. */
  rng_state: unknown;
  best_metric?: number | null;
  [extra: string]: unknown;
}

export interface CheckpointState {
  params: Map<string, NamedTensor>;
  optimizer: Map<string, NamedTensor>;
  trainer: TrainerState;
}

export interface CheckpointRef {
  dir: string;
  step: number;
}

export function checkpointsDir(runDir: string): string {
  return path.join(runDir, RUN_FILES.checkpoints);
}

const asInput = (m: Map<string, NamedTensor>): Map<string, TensorInput> =>
  new Map([...m].map(([name, t]) => [name, { shape: t.dims, data: t.data }]));

/**
 * Writes the checkpoint of `step` and prunes older ones (keeping the newest `keep`, default 2).
 * Returns the checkpoint folder. Re-saving a step replaces it.
 */
export function saveCheckpoint(runDir: string, step: number, state: CheckpointState, options: { keep?: number } = {}): string {
  if (!Number.isInteger(step) || step < 0) throw new Error(`saveCheckpoint: step must be a non-negative integer, got ${step}`);
  const root = checkpointsDir(runDir);
  fs.mkdirSync(root, { recursive: true });
  const finalDir = path.join(root, `step-${step}`);
  const tmp = path.join(root, `.tmp-step-${step}-${process.pid}-${Date.now()}`);
  fs.mkdirSync(tmp);
  try {
    writeSafetensors(path.join(tmp, CHECKPOINT_FILES.params), asInput(state.params), { step: String(step) });
    writeSafetensors(path.join(tmp, CHECKPOINT_FILES.optimizer), asInput(state.optimizer), { step: String(step) });
    writeJsonAtomic(path.join(tmp, CHECKPOINT_FILES.trainer), { ...state.trainer, step });
    writeManifest(tmp, step, Object.values(CHECKPOINT_FILES));
    fsyncDir(tmp);
    if (fs.existsSync(finalDir)) {
      // Move the old one aside first: rename cannot replace a non-empty folder.
      const old = path.join(root, `.old-step-${step}-${process.pid}-${Date.now()}`);
      fs.renameSync(finalDir, old);
      fs.renameSync(tmp, finalDir);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(tmp, finalDir);
    }
    fsyncDir(root);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  pruneCheckpoints(runDir, options.keep ?? 2);
  return finalDir;
}

function isComplete(dir: string): boolean {
  return Object.values(CHECKPOINT_FILES).every((f) => fs.existsSync(path.join(dir, f)));
}

/** Complete checkpoints, oldest first. */
export function listCheckpoints(runDir: string): CheckpointRef[] {
  let names: string[];
  try {
    names = fs.readdirSync(checkpointsDir(runDir));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names
    .map((n) => ({ n, m: STEP_DIR.exec(n) }))
    .filter((x) => x.m && isComplete(path.join(checkpointsDir(runDir), x.n)))
    .map((x) => ({ dir: path.join(checkpointsDir(runDir), x.n), step: Number(x.m![1]) }))
    .sort((a, b) => a.step - b.step);
}

/** The newest complete checkpoint, or undefined when there is none. */
export function latestCheckpoint(runDir: string): CheckpointRef | undefined {
  const all = listCheckpoints(runDir);
  return all[all.length - 1];
}

/**
 * Removes all but the newest `keep` complete checkpoints, and leftovers of interrupted saves
 * (hidden temp folders) from other processes that are gone. Returns the removed folders.
 */
export function pruneCheckpoints(runDir: string, keep = 2): string[] {
  const root = checkpointsDir(runDir);
  const removed: string[] = [];
  const all = listCheckpoints(runDir);
  for (const c of all.slice(0, Math.max(0, all.length - keep))) {
    fs.rmSync(c.dir, { recursive: true, force: true });
    removed.push(c.dir);
  }
  let names: string[] = [];
  try { names = fs.readdirSync(root); } catch { /* no checkpoints folder */ }
  for (const n of names) {
    const m = /^\.(tmp|old)-step-\d+-(\d+)-\d+$/.exec(n);
    // Another live process may be mid-save in its own temp folder: only clear our own or dead ones.
    if (m && (Number(m[2]) === process.pid || !isProcessAlive(Number(m[2])))) {
      fs.rmSync(path.join(root, n), { recursive: true, force: true });
      removed.push(path.join(root, n));
    }
  }
  return removed;
}

/**
 * Removes complete checkpoints newer than `step`. Resuming from an older checkpoint abandons the
 * timeline after it: its checkpoints must not stay behind to be taken for the latest one (or be
 * kept by pruning over the resumed run's own). Returns the removed folders.
 */
export function removeCheckpointsAfter(runDir: string, step: number): string[] {
  const removed: string[] = [];
  for (const c of listCheckpoints(runDir)) {
    if (c.step <= step) continue;
    fs.rmSync(c.dir, { recursive: true, force: true });
    removed.push(c.dir);
  }
  if (removed.length) fsyncDir(checkpointsDir(runDir));
  return removed;
}

/**
 * Reads a checkpoint folder (as returned by saveCheckpoint or latestCheckpoint), verified: the
 * manifest's checksums (when it has one: older checkpoints do not), the step in trainer.json,
 * manifest and folder name agreeing, and finite tensors. A damaged checkpoint throws
 * CheckpointDamagedError saying which file and why.
 */
export function loadCheckpoint(dir: string): CheckpointState {
  if (!isComplete(dir)) {
    const missing = Object.values(CHECKPOINT_FILES).filter((f) => !fs.existsSync(path.join(dir, f)));
    throw new CheckpointDamagedError(dir, `missing ${missing.join(', ')}`);
  }
  const manifestStep = verifyCheckpoint(dir);
  const tensors = (file: string): Map<string, NamedTensor> => {
    let f;
    try {
      f = readSafetensors(path.join(dir, file));
    } catch (e) {
      throw new CheckpointDamagedError(dir, `${file} is unreadable (${(e as Error).message})`);
    }
    const out = new Map<string, NamedTensor>();
    for (const [name, t] of f.tensors) {
      const data = toFloat32(t, `${path.join(dir, file)}: tensor "${name}"`);
      // Training never saves non-finite weights (divergence stops it first): NaN here is damage.
      for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) throw new CheckpointDamagedError(dir, `${file}: tensor "${name}" holds ${data[i]} at index ${i}`);
      out.set(name, { dims: t.shape, data });
    }
    return out;
  };
  const trainerFile = path.join(dir, CHECKPOINT_FILES.trainer);
  let trainer: TrainerState;
  try {
    trainer = JSON.parse(fs.readFileSync(trainerFile, 'utf8')) as TrainerState;
  } catch (e) {
    throw new CheckpointDamagedError(dir, `${CHECKPOINT_FILES.trainer} is unreadable (${(e as Error).message})`);
  }
  const folderStep = STEP_DIR.exec(path.basename(dir));
  if (folderStep && trainer.step !== Number(folderStep[1])) {
    throw new CheckpointDamagedError(dir, `${CHECKPOINT_FILES.trainer} says step ${JSON.stringify(trainer.step)} but the folder is ${path.basename(dir)}`);
  }
  if (manifestStep !== undefined && trainer.step !== manifestStep) {
    throw new CheckpointDamagedError(dir, `${CHECKPOINT_FILES.trainer} says step ${JSON.stringify(trainer.step)} but its manifest says ${manifestStep}`);
  }
  return { params: tensors(CHECKPOINT_FILES.params), optimizer: tensors(CHECKPOINT_FILES.optimizer), trainer };
}

/**
 * The newest checkpoint that loads and verifies, with the damaged newer ones it skipped (and
 * why): a bit flip or a truncated file in the latest checkpoint costs the steps since the one
 * before, not the run.
 */
export function newestIntactCheckpoint(runDir: string): { checkpoint?: CheckpointRef & { state: CheckpointState }; skipped: Array<{ dir: string; reason: string }> } {
  const skipped: Array<{ dir: string; reason: string }> = [];
  for (const c of listCheckpoints(runDir).reverse()) {
    try {
      return { checkpoint: { ...c, state: loadCheckpoint(c.dir) }, skipped };
    } catch (e) {
      if (!(e instanceof CheckpointDamagedError)) throw e;
      skipped.push({ dir: c.dir, reason: e.reason });
    }
  }
  return { skipped };
}
