// The Hugging Face zoo for tests (scripts/oracle/zoo.py + peft_ref.py, driven by zoo_build.py):
// built once with the project venv into a git-ignored folder named by a hash of those scripts and
// scripts/python-requirements.txt, so a second test run rebuilds nothing and any change to the
// recipe (or to a pinned version) rebuilds everything. Cold build: 3-4 minutes on 2 cores.
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from '../helpers/tempDir';

export const ROOT = path.resolve(__dirname, '../..');
export const VENV_PYTHON = path.join(ROOT, '.venv/bin/python');
const ORACLE = path.join(ROOT, 'scripts/oracle');
/** Everything the built zoo depends on. */
const RECIPE = ['scripts/oracle/zoo.py', 'scripts/oracle/peft_ref.py', 'scripts/oracle/zoo_build.py', 'scripts/python-requirements.txt'];

export interface ZooEntry {
  name: string;
  model_class: string;
  model_type: string;
  task: 'sequence-classification' | 'causal-lm';
  kind: 'text' | 'image';
  targets: string[];
  num_labels: number | null;
  seq: number;
  batch: number;
  exports: Record<string, { ok: true; opset: number } | { ok: false; error: string }>;
  peft: Record<string, { ok: boolean; error?: string }>;
  peft_lily_unsupported: string | null;
}

export interface ZooManifest {
  entries: string[];
  adapters: { lily: { r: number; stride_A: number; num_B: number; scaling: number }; lora: { r: number; lora_alpha: number } };
  training: { steps: number; lr: number; betas: [number, number]; eps: number; weight_decay: number };
  versions: Record<string, string>;
}

export interface Zoo {
  dir: string;
  manifest: ZooManifest;
  entry(name: string): ZooEntry;
  entryDir(name: string): string;
}

export function zooKey(): string {
  const h = createHash('sha256');
  for (const f of RECIPE) h.update(f).update(fs.readFileSync(path.join(ROOT, f)));
  return h.digest('hex').slice(0, 16);
}

/** Runs a script of scripts/oracle with the venv's Python; returns stdout, throws with stderr's tail. */
export function runVenv(script: string, args: string[], timeoutMs: number): string {
  if (!fs.existsSync(VENV_PYTHON)) throw new Error(`${VENV_PYTHON} is missing: run scripts/setup-python.sh (npm test does)`);
  const r = spawnSync(VENV_PYTHON, [path.join(ORACLE, script), ...args], {
    cwd: ORACLE, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 256 << 20,
    env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1', HF_HUB_OFFLINE: '1', TOKENIZERS_PARALLELISM: 'false' },
  });
  if (r.error) throw new Error(`${script}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${script} ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr.slice(-4000)}`);
  return r.stdout;
}

/**
 * `.cache/<kind>/<key>`, made by `build(tmp)` when it has no `marker` file yet: built in a temp
 * folder beside it and renamed, so a killed build never looks complete. Folders of other keys
 * (older recipes) are removed after a build, so the cache holds one build per kind.
 */
export function cachedFolder(kind: string, key: string, marker: string, build: (tmp: string) => void): string {
  const base = path.join(ROOT, '.cache', kind);
  const dir = path.join(base, key);
  if (fs.existsSync(path.join(dir, marker))) return dir;
  fs.mkdirSync(base, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(base, 'building-'));
  try {
    build(tmp);
    try { fs.renameSync(tmp, dir); } catch (e) { if (!fs.existsSync(path.join(dir, marker))) throw e; }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  for (const old of fs.readdirSync(base)) if (/^[0-9a-f]{16}$/.test(old) && old !== key) fs.rmSync(path.join(base, old), { recursive: true, force: true });
  return dir;
}

/** The built zoo (building it first when this recipe has no complete build yet). */
export function ensureZoo(): Zoo {
  const dir = cachedFolder('hf-zoo', zooKey(), 'manifest.json', (tmp) => { runVenv('zoo_build.py', ['build', '--out', tmp], 20 * 60_000); });
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as ZooManifest;
  const entries = new Map<string, ZooEntry>();
  return {
    dir,
    manifest,
    entryDir: (name) => path.join(dir, name),
    entry(name) {
      let e = entries.get(name);
      if (!e) {
        e = JSON.parse(fs.readFileSync(path.join(dir, name, 'entry.json'), 'utf8')) as ZooEntry;
        entries.set(name, e);
      }
      return e;
    },
  };
}

/** A fresh scratch folder for one test file's runs. */
export function scratch(prefix: string): string {
  return tempDir(prefix);
}
