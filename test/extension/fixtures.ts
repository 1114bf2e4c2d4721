// Real files for the extension tests: a small ONNX model shaped like an exported encoder
// (node names as torch.onnx.export writes them), configs, and a launch of the real server.
import * as fs from 'fs';
import * as path from 'path';
import { emptyGraph, floatTensor, type Model } from '../../native-runtime/onnx/ir';
import { saveModel } from '../../native-runtime/onnx/proto';
import { RunWriter } from '../../native-runtime/io/runDir';
import type { BackendLaunch } from '../../src/backendProcess';
import { tempDir as scratchDir } from '../helpers/tempDir';

export const REPO = path.resolve(__dirname, '../..');

export function tempDir(prefix: string): string {
  return scratchDir(`lily-ext-${prefix}-`);
}

/**
 * x [1, 3, 8] -> per layer l in 0..2: query MatMul [8,8], value MatMul [8,8] (+bias), an
 * intermediate.dense MatMul [8,16] and output.dense [16,8] -> a classifier Gemm [2,8] (transB).
 */
export function encoderModel(layers = 3): Model {
  const g = emptyGraph('encoder');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [1, 3, 8] });
  let h = 'x';
  let k = 0;
  const matmul = (scope: string, dIn: number, dOut: number, input: string): string => {
    const w = `onnx::MatMul_${k++}`;
    g.initializers.set(w, floatTensor(w, [dIn, dOut], Array.from({ length: dIn * dOut }, (_, i) => ((i % 7) - 3) / 10)));
    const out = `${scope}/MatMul_output_0`;
    g.nodes.push({ name: `${scope}/MatMul`, opType: 'MatMul', domain: '', inputs: [input, w], outputs: [out], attrs: {} });
    return out;
  };
  for (let l = 0; l < layers; l++) {
    const base = `/encoder/layer.${l}`;
    const q = matmul(`${base}/attention/self/query`, 8, 8, h);
    const v = matmul(`${base}/attention/self/value`, 8, 8, h);
    const sum = `${base}/attention/Add_output_0`;
    g.nodes.push({ name: `${base}/attention/Add`, opType: 'Add', domain: '', inputs: [q, v], outputs: [sum], attrs: {} });
    const up = matmul(`${base}/intermediate/dense`, 8, 16, sum);
    h = matmul(`${base}/output/dense`, 16, 8, up);
  }
  g.initializers.set('classifier.weight', floatTensor('classifier.weight', [2, 8]));
  g.nodes.push({ name: '/classifier/Gemm', opType: 'Gemm', domain: '', inputs: [h, 'classifier.weight'], outputs: ['logits'], attrs: { transB: { kind: 'int', value: 1 } } });
  g.outputs.push({ name: 'logits', dtype: 'float32', shape: [1, 3, 2] });
  return { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 'lily-test', metadata: {} };
}

export interface ConfigFixture {
  dir: string;
  modelPath: string;
  configPath: string;
}

/** A folder with model.onnx, data/train.jsonl and a valid tiny.lily.json. */
export function configFixture(adapter: Record<string, unknown> = { method: 'lily', target_modules: ['value'], r: 4, num_B: 2 }): ConfigFixture {
  const dir = tempDir('cfg');
  const modelPath = path.join(dir, 'model.onnx');
  saveModel(encoderModel(), modelPath);
  fs.mkdirSync(path.join(dir, 'data'));
  fs.writeFileSync(path.join(dir, 'data', 'train.jsonl'), '{"text":"good","label":1}\n{"text":"bad","label":0}\n');
  const configPath = path.join(dir, 'tiny.lily.json');
  fs.writeFileSync(configPath, JSON.stringify({
    model: { path: './model.onnx', task: 'sequence-classification', num_labels: 2 },
    data: { train: './data/train.jsonl' },
    adapter,
  }, null, 2));
  return { dir, modelPath, configPath };
}

/** The real backend server, run from source through tsx (no build needed). */
export function serverLaunch(cwd: string): BackendLaunch {
  return {
    command: process.execPath,
    args: ['--require', require.resolve('tsx/cjs'), path.join(REPO, 'native-runtime', 'server.ts')],
    cwd,
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  };
}

/** A status.json as the trainer writes it (runFiles.ts), with overrides. */
export function runStatus(over: Partial<import('../../native-runtime/runFiles').RunStatus> = {}): import('../../native-runtime/runFiles').RunStatus {
  return {
    run_id: 'run-1', name: 'sentiment', state: 'running', pid: process.pid, method: 'lily', task: 'sequence-classification',
    step: 10, total_steps: 100, epoch: 0, started_at: '2025-01-01T10:00:00.000Z', updated_at: '2025-01-01T10:00:05.000Z',
    device: 'cpu', config_path: '/w/sentiment.lily.json', trainable_params: 184, loss: 0.6931, samples_per_s: 120, eta_s: 75,
    ...over,
  };
}

/** Writes a run directory's status.json with the trainer's own RunWriter; returns the run dir. */
export function writeRunStatus(runsDir: string, id: string, over: Partial<import('../../native-runtime/runFiles').RunStatus> = {}): string {
  const runDir = path.join(runsDir, id);
  new RunWriter(runDir).updateStatus(runStatus({ run_id: id, ...over }));
  return runDir;
}

/** A pid that certainly belonged to a process that has exited. */
export function deadPid(): number {
  const r = require('child_process').spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

/** Polls `probe` every 50 ms until it returns something other than undefined. */
export function waitFor<T>(what: string, probe: () => T | undefined, ms = 60_000): Promise<T> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      const v = probe();
      if (v !== undefined) return resolve(v);
      if (Date.now() - t0 > ms) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 50);
    };
    tick();
  });
}
