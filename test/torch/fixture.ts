// The torch backend's test workspace, built once per test process: make_fixture.py's tiny BERT
// classifier as a Hugging Face folder and as its ONNX export, a PEFT Lily adapter both backends
// start from (adapter.init), 64 training and 16 eval records of the demo's sentiment data, and
// helpers to write configs and run `lily` as a separate process (signals reach it as in real use).
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from '../helpers/tempDir';

export const REPO = path.resolve(__dirname, '../..');
export const PYTHON = path.join(REPO, '.venv', 'bin', 'python');
const CLI = path.join(REPO, 'test', 'cli', 'runCli.ts');
/** Absolute, since the CLI runs in the fixture folder (outside the repository's node_modules). */
const TSX = require.resolve('tsx/cjs');

let dir: string | undefined;

export function torchFixture(): string {
  if (dir) return dir;
  const d = tempDir('lily-torch-');
  const r = spawnSync(PYTHON, [path.join(__dirname, 'make_fixture.py'), d, path.join(REPO, 'examples/sentiment/tokenizer.json')], {
    encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONWARNINGS: 'ignore' },
  });
  if (r.status !== 0) throw new Error(`make_fixture.py failed: ${r.stderr}`);
  const lines = (f: string, n: number) => fs.readFileSync(path.join(REPO, 'examples/sentiment', f), 'utf8').split('\n').slice(0, n).join('\n') + '\n';
  fs.writeFileSync(path.join(d, 'train.jsonl'), lines('train.jsonl', 64));
  fs.writeFileSync(path.join(d, 'eval.jsonl'), lines('eval.jsonl', 16));
  process.on('exit', () => fs.rmSync(d, { recursive: true, force: true }));
  dir = d;
  return d;
}

/** A config in the fixture folder: Lily on query/value + the classifier, from the shared init adapter. */
export function writeConfig(name: string, backend: 'onnx' | 'torch', overrides: { training?: object; runtime?: object; adapter?: object } = {}): string {
  const d = torchFixture();
  const config = {
    name,
    model: { path: backend === 'torch' ? 'hf' : 'model.onnx', task: 'sequence-classification', labels: ['negative', 'positive'] },
    data: { train: 'train.jsonl', eval: 'eval.jsonl', max_length: 16 },
    adapter: { method: 'lily', target_modules: ['query', 'value'], r: 4, stride_A: 2, num_B: 2, scaling: 4, init: 'init-adapter', modules_to_save: ['classifier'], ...overrides.adapter },
    training: { max_steps: 10, batch_size: 16, lr: 0.01, warmup_steps: 2, log_every: 1, eval_every: 5, seed: 3, ...overrides.training },
    runtime: { device: 'cpu', threads: 1, ...(backend === 'torch' ? { backend: 'torch' } : {}), ...overrides.runtime },
  };
  const file = path.join(d, `${name}.lily.json`);
  fs.writeFileSync(file, JSON.stringify(config, null, 1));
  return file;
}

const env = () => ({ ...process.env, LILY_PYTHON: PYTHON, OMP_NUM_THREADS: '1', PYTHONWARNINGS: 'ignore' });

/** Runs `lily ARGS` to the end in the fixture folder. */
export function lily(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-r', TSX, CLI, ...args], { cwd: torchFixture(), encoding: 'utf8', env: env(), timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `lily ARGS` (to stop it with a signal). */
export function lilyProcess(args: string[]): ChildProcess {
  return spawn(process.execPath, ['-r', TSX, CLI, ...args], { cwd: torchFixture(), env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
}

let parity: { onnxRun: string; torchRun: string } | undefined;

/**
 * The same config trained by the ONNX engine and by the torch backend (10 steps, from the shared
 * init adapter), once per test process: the runs several test files compare.
 */
export function parityRuns(): { onnxRun: string; torchRun: string } {
  if (parity) return parity;
  const d = torchFixture();
  const onnxRun = path.join(d, 'runs', 'parity-onnx');
  const torchRun = path.join(d, 'runs', 'parity-torch');
  const a = lily(['train', writeConfig('parity-onnx', 'onnx'), '--run-dir', onnxRun]);
  if (a.status !== 0) throw new Error(`the ONNX run failed:\n${a.stderr}`);
  const b = lily(['train', writeConfig('parity-torch', 'torch'), '--run-dir', torchRun]);
  if (b.status !== 0) throw new Error(`the torch run failed:\n${b.stderr}`);
  parity = { onnxRun, torchRun };
  return parity;
}

export function readJsonl<T = Record<string, unknown>>(file: string): T[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as T);
}

export function trainLosses(runDir: string): Array<{ step: number; loss: number }> {
  return readJsonl<{ type: string; step: number; loss: number }>(path.join(runDir, 'metrics.jsonl')).filter((l) => l.type === 'train').map(({ step, loss }) => ({ step, loss }));
}
