// Spawns the project venv's Python (torch 2.13) as the independent oracle.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { projectPython } from '../../../scripts/projectPython.cjs';
import { tempDir } from '../../helpers/tempDir';

/** Runs a Python script or `-c` code with JSON on stdin; resolves with stdout. */
export function runPython(args: string[], stdin = '', cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const PYTHON = projectPython();
    const p = spawn(PYTHON, args, { cwd, env: { ...process.env, OMP_NUM_THREADS: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', (e) => reject(new Error(`cannot start ${PYTHON}: ${e.message} (run scripts/setup-python.sh)`)));
    p.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${PYTHON} ${args[0]} exited with ${code}:\n${err}`))));
    p.stdin.end(stdin);
  });
}

export interface TinyBertOracle {
  input_ids: number[];
  attention_mask: number[];
  shape: number[];
  logits: number[];
  w: number[];
  params: Record<string, { shape: number[]; data: number[]; grad: number[] }>;
}

let tinyBert: Promise<{ onnxPath: string; oracle: TinyBertOracle }> | undefined;

/** Exports test/onnx/tiny_bert.py once per test process (both suites share it). */
export function exportTinyBert(): Promise<{ onnxPath: string; oracle: TinyBertOracle }> {
  if (!tinyBert) {
    const dir = tempDir('lily-tiny-bert-');
    process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    const script = path.resolve(__dirname, '../../onnx/tiny_bert.py');
    tinyBert = runPython([script, dir], '', dir).then(() => ({
      onnxPath: path.join(dir, 'tiny_bert.onnx'),
      oracle: JSON.parse(fs.readFileSync(path.join(dir, 'oracle.json'), 'utf8')) as TinyBertOracle,
    }));
  }
  return tinyBert;
}
