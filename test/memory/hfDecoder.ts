// Tiny transformers decoders (random weights, built from a config) exported to ONNX once per
// test process by scripts/memory/hf_decoder.py in the project venv (torch 2.13).
import { spawnSync } from 'child_process';
import * as ort from 'onnxruntime-node';
import * as path from 'path';
import { mulberry32 } from '../../native-runtime/adapters/init';
import { tempDir } from '../helpers/tempDir';

const ROOT = path.resolve(__dirname, '../..');
export const VENV_PYTHON = path.join(ROOT, '.venv/bin/python');
const cache = new Map<string, string>();

/** Exports a tiny `arch` decoder (vocab 512, d 64, 2 layers) for inputs of `shape` [batch, seq]; returns its folder. */
export function exportHfDecoder(arch: 'qwen2' | 'llama', shape: [number, number], config: Record<string, unknown> = {}): string {
  const key = `${arch}:${shape}:${JSON.stringify(config)}`;
  const have = cache.get(key);
  if (have) return have;
  const dir = tempDir(`lily-${arch}-`);
  const r = spawnSync(VENV_PYTHON, [path.join(ROOT, 'scripts/memory/hf_decoder.py'), '--arch', arch, '--out', dir, '--config', JSON.stringify(config), '--batch', String(shape[0]), '--seq', String(shape[1])], {
    encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  if (r.status !== 0) throw new Error(`hf_decoder.py failed (exit ${r.status}):\n${r.stderr}`);
  cache.set(key, dir);
  return dir;
}

/**
 * A tiny Qwen2 decoder for [B, S] and one causal-LM batch for it: seeded token ids, the last 3
 * positions padded (mask 0, label -100), labels = ids elsewhere.
 */
export function qwen2LmBatch(B: number, S: number): { dir: string; shapes: Record<string, number[]>; batch: Record<string, ort.Tensor> } {
  const dir = exportHfDecoder('qwen2', [B, S]);
  const r = mulberry32(5);
  const ids = BigInt64Array.from({ length: B * S }, () => BigInt(Math.floor(r() * 512)));
  const mask = BigInt64Array.from({ length: B * S }, (_, i) => (i >= B * S - 3 ? 0n : 1n));
  const labels = BigInt64Array.from(ids, (v, i) => (mask[i] ? v : -100n));
  return {
    dir,
    shapes: { input_ids: [B, S], attention_mask: [B, S] },
    batch: {
      input_ids: new ort.Tensor('int64', ids, [B, S]),
      attention_mask: new ort.Tensor('int64', mask, [B, S]),
      labels: new ort.Tensor('int64', labels, [B, S]),
    },
  };
}

/** Runs `code` (reads `inp`, assigns `out`) under the venv's torch in float64; returns `out`. */
export function runVenvTorch<T = unknown>(code: string, inp: unknown): T {
  const wrapper = `import json, sys\nimport torch\ntorch.set_default_dtype(torch.float64)\ninp = json.load(sys.stdin)\n${code}\nprint(json.dumps(out))\n`;
  const r = spawnSync(VENV_PYTHON, ['-c', wrapper], { input: JSON.stringify(inp), encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' }, maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`torch (venv) failed (exit ${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
