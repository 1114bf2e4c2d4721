// Third-party-style ONNX files for the engine tests (test/thirdParty/build_model.py): real
// transformers models with random weights, exported the ways users' files come. Built once per
// test process into one temp folder; several specs share one Python start.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { projectPython } from '../../scripts/projectPython.cjs';
import { readJsonl } from '../../native-runtime/io/atomic';
import type { MetricLine } from '../../native-runtime/runFiles';
import { lily, makeWorkspace } from '../cli/workspace';
import { tempDir } from '../helpers/tempDir';

let root: string | undefined;

/** Folder of each spec (`kind` or `kind@opset`, default opset 14) holding its model.onnx. */
export function thirdPartyModels(specs: string[]): Record<string, string> {
  if (!root) {
    root = tempDir('lily-third-party-');
    const dir = root;
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  const dirOf = (spec: string) => path.join(root!, spec.includes('@') ? spec.replace('@', '-') : `${spec}-14`);
  const missing = specs.filter((s) => !fs.existsSync(path.join(dirOf(s), 'model.onnx')));
  if (missing.length) {
    const r = spawnSync(projectPython(), [path.join(__dirname, 'build_model.py'), root, ...missing], {
      encoding: 'utf8', timeout: 300_000, env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' },
    });
    if (r.status !== 0) throw new Error(`build_model.py ${missing.join(' ')} failed (exit ${r.status}):\n${r.stderr?.slice(-4000)}`);
  }
  return Object.fromEntries(specs.map((s) => [s, dirOf(s)]));
}

let handRoot: string | undefined;

/** Folder of each hand-built model (test/thirdParty/hand_models.py: `plain`, `unsorted`, ...). */
export function handModels(names: string[]): Record<string, string> {
  if (!handRoot) {
    handRoot = tempDir('lily-hand-models-');
    const dir = handRoot;
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  const missing = names.filter((n) => !fs.existsSync(path.join(handRoot!, n, 'model.onnx')));
  if (missing.length) {
    const r = spawnSync(projectPython(), [path.join(__dirname, 'hand_models.py'), handRoot, ...missing], {
      encoding: 'utf8', timeout: 120_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
    if (r.status !== 0) throw new Error(`hand_models.py ${missing.join(' ')} failed (exit ${r.status}):\n${r.stderr?.slice(-4000)}`);
  }
  return Object.fromEntries(names.map((n) => [n, path.join(handRoot!, n)]));
}

/** Trains `modelDir` for `steps` AdamW steps on the toy sentiment data; returns exit code, stderr and the logged train losses. */
export async function trainToy(modelDir: string, adapter: object, steps = 3, model: object = {}): Promise<{ code: number; stderr: string; losses: number[] }> {
  const ws = makeWorkspace({ model, adapter, training: { max_steps: steps, eval_every: steps, log_every: 1 } }, { modelDir, train: 16, eval: 8 });
  const r = await lily(['train', ws.config], ws.dir);
  const runs = fs.existsSync(ws.runsDir) ? fs.readdirSync(ws.runsDir) : [];
  const metrics = runs.length ? path.join(ws.runsDir, runs[0], 'metrics.jsonl') : '';
  const losses = metrics && fs.existsSync(metrics) ? readJsonl<MetricLine>(metrics).flatMap((l) => (l.type === 'train' ? [l.loss] : [])) : [];
  return { code: r.code, stderr: r.stderr, losses };
}

/** Asserts two loss curves agree to `tol` relative. */
export function assertSameLosses(got: number[], want: number[], what: string, tol = 1e-5): void {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} losses vs ${want.length}`);
  got.forEach((l, k) => {
    if (!(Math.abs(l - want[k]) <= tol * Math.max(1, Math.abs(want[k])))) throw new Error(`${what}: step ${k + 1}: loss ${l} vs ${want[k]}`);
  });
}
