// Shared fixtures for the inspect tests: the oracle encoder exported once per mocha process, a
// small labelled data set with padding (records carry input_ids, so no tokenizer is needed),
// resolved configs, and adapters with random non-zero tensors (B != 0, so routing matters).
import * as fs from 'fs';
import * as path from 'path';
import { resolveConfig, type ResolvedConfig } from '../../native-runtime/config/resolved';
import type { AdapterSection } from '../../native-runtime/config/types';
import { resolveAdapterConfig } from '../../native-runtime/adapters/defaults';
import { injectAdapters } from '../../native-runtime/adapters/inject';
import type { AdapterWeights } from '../../native-runtime/io/adapterWeights';
import type { Model } from '../../native-runtime/onnx/ir';
import { loadModel } from '../../native-runtime/onnx/proto';
import { cloneModel } from '../../native-runtime/onnx/specialize';
import { exportOracleModel } from '../oracle/oracleFiles';
import { values } from '../io/adapterFixtures';
import { tempDir as scratchDir } from '../helpers/tempDir';

let encoder: string | undefined;

/** The oracle encoder (hidden 32, 2 layers, 3 labels, vocab 128), exported once per process. */
export function encoderDir(): string {
  encoder ??= exportOracleModel('encoder', { seed: 3 });
  return encoder;
}

export function encoderModel(): Model {
  return loadModel(path.join(encoderDir(), 'model.onnx'));
}

export const MAX_LEN = 8;

/** `n` records with 3..8 real tokens (so most are padded) and labels 0..2. */
export function writeData(dir: string, name: string, n: number, seed: number): string {
  let s = seed;
  const rnd = () => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s / 2 ** 32; };
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = 3 + Math.floor(rnd() * (MAX_LEN - 2));
    const ids = Array.from({ length: len }, () => 1 + Math.floor(rnd() * 120));
    lines.push(JSON.stringify({ input_ids: ids, label: Math.floor(rnd() * 3) }));
  }
  const file = path.join(dir, name);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

export function tempDir(tag: string): string {
  return scratchDir(`lily-inspect-${tag}-`);
}

/** A resolved config for the encoder with the given adapter, data in `dir`. */
export function encoderConfig(dir: string, adapter: AdapterSection, opts: { batchSize?: number; evalFile?: string } = {}): ResolvedConfig {
  const train = writeData(dir, 'train.jsonl', 12, 1);
  const evalFile = opts.evalFile ?? writeData(dir, 'eval.jsonl', 10, 2);
  return resolveConfig({
    model: { path: path.join(encoderDir(), 'model.onnx'), task: 'sequence-classification', num_labels: 3 },
    data: { train, eval: evalFile, max_length: MAX_LEN },
    adapter,
    training: { batch_size: opts.batchSize ?? 4 },
    runtime: { device: 'cpu', threads: 1 },
  }, path.join(dir, 'test.lily.json'), dir);
}

/** Adapter weights with the injection's names and shapes, filled with non-zero values. */
export function randomWeights(model: Model, adapter: AdapterSection, seed: number, scale = 0.3): AdapterWeights {
  const cfg = resolveAdapterConfig(adapter);
  const inj = injectAdapters(cloneModel(model), cfg, { seed, maskInput: 'attention_mask' });
  const tensors = new Map(inj.params.map((p, i) => {
    const v = p.role === 'saved' ? Float32Array.from(p.init, (x, k) => x + 0.05 * values(1, seed * 1000 + i * 7 + k)[0]) : values(p.init.length, seed * 100 + i).map((x) => x * scale);
    return [p.name, { dims: p.dims, data: v }];
  }));
  return { settings: cfg, targets: inj.targets, tensors, saved: inj.saved };
}
