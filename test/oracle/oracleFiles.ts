// Helpers for tests that use the PyTorch oracle (scripts/oracle/*.py): spawning the project
// venv's Python (torch 2.13), and reading/writing the safetensors files the scripts exchange.
// Safetensors layout: u64 little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}}, then the raw little-endian bytes.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { projectPython } from '../../scripts/projectPython.cjs';
import { tempDir } from '../helpers/tempDir';

/** The project's Python (scripts/projectPython.cjs); throws, naming scripts/setup-python.sh, when missing. */
export { projectPython };
export const ORACLE_DIR = path.resolve(__dirname, '../../scripts/oracle');

export type StDtype = 'F64' | 'F32' | 'I64' | 'I32' | 'U8' | 'BOOL';
export type StData = Float64Array | Float32Array | BigInt64Array | Int32Array | Uint8Array;

export interface StTensor {
  dtype: StDtype;
  shape: number[];
  data: StData;
}

const BYTES: Record<StDtype, number> = { F64: 8, F32: 4, I64: 8, I32: 4, U8: 1, BOOL: 1 };

export function readSafetensors(file: string): Map<string, StTensor> {
  const buf = fs.readFileSync(file);
  if (buf.length < 8) throw new Error(`${file}: not a safetensors file (shorter than 8 bytes)`);
  const n = Number(buf.readBigUInt64LE(0));
  if (8 + n > buf.length) throw new Error(`${file}: header length ${n} runs past the end of the file`);
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: StDtype; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, StTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [b, e] = info.data_offsets;
    // Copy into a fresh buffer so the typed array is aligned.
    const bytes = new Uint8Array(e - b);
    bytes.set(buf.subarray(8 + n + b, 8 + n + e));
    const data = typed(info.dtype, bytes.buffer, file, name);
    out.set(name, { dtype: info.dtype, shape: info.shape, data });
  }
  return out;
}

function typed(dtype: StDtype, ab: ArrayBuffer, file: string, name: string): StData {
  switch (dtype) {
    case 'F64': return new Float64Array(ab);
    case 'F32': return new Float32Array(ab);
    case 'I64': return new BigInt64Array(ab);
    case 'I32': return new Int32Array(ab);
    case 'U8': case 'BOOL': return new Uint8Array(ab);
    default: throw new Error(`${file}: tensor ${name}: unsupported dtype ${dtype as string}`);
  }
}

export function writeSafetensors(file: string, tensors: Record<string, StTensor>): void {
  const header: Record<string, unknown> = {};
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name];
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== count) throw new Error(`writeSafetensors ${file}: tensor ${name} has ${t.data.length} values for shape ${JSON.stringify(t.shape)}`);
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, count * BYTES[t.dtype]);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    blobs.push(bytes);
    offset += bytes.byteLength;
  }
  let head = JSON.stringify(header);
  head += ' '.repeat((8 - (Buffer.byteLength(head) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(head)));
  fs.writeFileSync(file, Buffer.concat([len, Buffer.from(head, 'utf8'), ...blobs]));
}

/** Runs an oracle script with `args`; returns stdout. Throws with stderr when it fails. */
export function runOracle(script: string, args: string[], opts: { timeoutMs?: number; threads?: number } = {}): string {
  const python = projectPython();
  const res = spawnSync(python, [path.join(ORACLE_DIR, script), ...args], {
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 120_000,
    env: { ...process.env, OMP_NUM_THREADS: String(opts.threads ?? 1), PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (res.error) throw new Error(`${script}: cannot run ${python}: ${res.error.message}`);
  if (res.status !== 0) throw new Error(`${script} ${args.join(' ')} failed (exit ${res.status}):\n${res.stderr}`);
  return res.stdout;
}

/** Exports an oracle model (`encoder` | `decoder` | `vit`) into a fresh temp folder; returns the folder. */
export function exportOracleModel(kind: 'encoder' | 'decoder' | 'vit', opts: { seed?: number; config?: object; externalData?: boolean } = {}): string {
  const dir = tempDir(`lily-oracle-${kind}-`);
  const args = ['--model', kind, '--out', dir, '--seed', String(opts.seed ?? 0)];
  if (opts.config) args.push('--config', JSON.stringify(opts.config));
  if (opts.externalData) args.push('--external-data');
  runOracle('export.py', args);
  return dir;
}

/** The largest |a - b| over two equal-length arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths differ (${a.length} vs ${b.length})`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
