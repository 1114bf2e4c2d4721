// The safetensors format (Hugging Face): 8-byte little-endian header length N, N bytes of JSON
// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}`, then the
// raw little-endian tensor bytes; offsets are relative to the end of the header.
// Written like the reference implementation: keys sorted, data laid out in key order with no gaps,
// header padded with spaces to a multiple of 8 bytes so tensor data starts 8-byte aligned.
// Reading validates everything a corrupt or hostile file could get wrong and says what and where.
import * as fs from 'fs';
import { writeFileAtomic } from './atomic';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Typed data per dtype. F16/BF16 are raw 16-bit patterns (use `toFloat32`). BOOL is one byte per value. */
export type SafetensorsData = Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface SafeTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: SafetensorsData;
}

export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
/** Headers beyond this are refused (the reference implementation's limit): a guard against garbage lengths. */
const MAX_HEADER_BYTES = 100_000_000;

export class SafetensorsError extends Error {
  constructor(readonly file: string, detail: string) {
    super(`${file}: invalid safetensors file: ${detail}`);
    this.name = 'SafetensorsError';
  }
}

export function isSafetensorsDtype(d: unknown): d is SafetensorsDtype {
  return typeof d === 'string' && Object.prototype.hasOwnProperty.call(BYTES, d);
}

/** The dtype that matches a typed array (F16/BF16 cannot be told apart from Uint16Array: pass them explicitly). */
function dtypeOf(data: SafetensorsData): SafetensorsDtype {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof BigInt64Array) return 'I64';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof Int16Array) return 'I16';
  if (data instanceof Int8Array) return 'I8';
  if (data instanceof Uint8Array) return 'U8';
  throw new Error('a Uint16Array tensor needs an explicit dtype (F16 or BF16)');
}

export type TensorInput = { shape: number[]; data: SafetensorsData; dtype?: SafetensorsDtype };

/** What the header says of one tensor: its bytes are written separately (see encodeSafetensorsHeader). */
export interface TensorSpec {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
}

/**
 * The header of a safetensors file holding `specs` (sorted by name, packed in that order): its
 * bytes (length prefix + padded JSON, so the data section starts 8-byte aligned, as the
 * reference writer does) and where each tensor's data starts within the data section. A writer
 * that streams large tensors writes this, then each tensor's bytes at `8 + header + offset`.
 */
export function encodeSafetensorsHeader(specs: TensorSpec[], metadata: Record<string, string> = {}): { bytes: Uint8Array; offsets: Map<string, number>; dataBytes: number } {
  const sorted = [...specs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`safetensors metadata "${k}": expected a string value, found ${typeof v}`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  const offsets = new Map<string, number>();
  for (const t of sorted) {
    if (t.name === '__metadata__') throw new Error('"__metadata__" is reserved and cannot name a tensor');
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`tensor "${t.name}": shape ${JSON.stringify(t.shape)} must be non-negative integers`);
    const n = t.shape.reduce((a, b) => a * b, 1) * BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + n] };
    offsets.set(t.name, offset);
    offset += n;
  }
  let json = JSON.stringify(header);
  const jsonBytesLen = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - ((8 + jsonBytesLen) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const bytes = new Uint8Array(8 + headerBytes.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  bytes.set(headerBytes, 8);
  return { bytes, offsets, dataBytes: offset };
}

/** Serialises tensors (sorted by name) and string metadata to safetensors bytes. */
export function encodeSafetensors(tensors: Map<string, TensorInput> | Record<string, TensorInput>, metadata: Record<string, string> = {}): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const specs: TensorSpec[] = [];
  for (const [name, t] of entries) {
    const dtype = t.dtype ?? dtypeOf(t.data);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`tensor "${name}": shape ${JSON.stringify(t.shape)} must be non-negative integers`);
    if (t.data.length !== count) throw new Error(`tensor "${name}": shape ${JSON.stringify(t.shape)} holds ${count} values but the data has ${t.data.length}`);
    if (t.data.BYTES_PER_ELEMENT !== BYTES[dtype]) throw new Error(`tensor "${name}": ${t.data.constructor.name} does not hold ${dtype} values`);
    specs.push({ name, dtype, shape: t.shape });
  }
  const head = encodeSafetensorsHeader(specs, metadata);
  const out = new Uint8Array(head.bytes.length + head.dataBytes);
  out.set(head.bytes, 0);
  for (const [name, t] of entries) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), head.bytes.length + head.offsets.get(name)!);
  }
  return out;
}

/** Parses and validates safetensors bytes; `file` names the source in error messages. */
export function decodeSafetensors(bytes: Uint8Array, file = '<bytes>'): SafetensorsFile {
  const fail = (detail: string): never => { throw new SafetensorsError(file, detail); };
  if (bytes.length < 8) fail(`the file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(`header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file, or corrupt)`);
  const n = Number(n64);
  if (8 + n > bytes.length) fail(`header length ${n} runs past the end of the ${bytes.length}-byte file (truncated file?)`);
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, n).toString('utf8'));
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;

  const metadata: Record<string, string> = {};
  const spans: Array<{ name: string; begin: number; end: number }> = [];
  const tensors = new Map<string, SafeTensor>();
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail('"__metadata__" must be an object of strings');
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`"__metadata__"."${k}" must be a string, found ${JSON.stringify(v)}`);
        metadata[k] = v as string;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) fail(`tensor "${name}": entry must be an object with dtype, shape, data_offsets`);
    if (!isSafetensorsDtype(e.dtype)) fail(`tensor "${name}": unsupported dtype ${JSON.stringify(e.dtype)} (supported: ${Object.keys(BYTES).join(', ')})`);
    const dtype = e.dtype as SafetensorsDtype;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor "${name}": shape ${JSON.stringify(e.shape)} must be a list of non-negative integers`);
    const shape = e.shape as number[];
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) fail(`tensor "${name}": data_offsets ${JSON.stringify(offs)} must be [begin, end] non-negative integers`);
    const [begin, end] = offs as [number, number];
    if (end < begin) fail(`tensor "${name}": data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLen) fail(`tensor "${name}": data_offsets [${begin}, ${end}] run past the ${dataLen} bytes of tensor data`);
    const count = shape.reduce((a, b) => a * b, 1);
    if ((end - begin) !== count * BYTES[dtype]) fail(`tensor "${name}": ${dtype} ${JSON.stringify(shape)} needs ${count * BYTES[dtype]} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`);
    spans.push({ name, begin, end });
    tensors.set(name, { dtype, shape, data: copyTyped(dtype, bytes, dataStart + begin, count) });
  }
  // The reference reader requires the tensors to tile the data section exactly.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const s of spans) {
    if (s.begin < covered) fail(`tensor "${s.name}": data_offsets [${s.begin}, ${s.end}] overlap the previous tensor (which ends at ${covered})`);
    if (s.begin > covered) fail(`tensor "${s.name}": gap of ${s.begin - covered} bytes before its data_offsets [${s.begin}, ${s.end}]`);
    covered = s.end;
  }
  if (covered !== dataLen) fail(`tensors cover ${covered} bytes but the data section holds ${dataLen} (truncated or padded file)`);
  // Keep the sorted-by-name order callers expect regardless of the file's layout order.
  const sorted = new Map([...tensors.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { tensors: sorted, metadata };
}

/** Copies little-endian values into a fresh typed array (the source offset need not be aligned). */
function copyTyped(dtype: SafetensorsDtype, bytes: Uint8Array, start: number, count: number): SafetensorsData {
  const nbytes = count * BYTES[dtype];
  const buf = new ArrayBuffer(nbytes);
  new Uint8Array(buf).set(bytes.subarray(start, start + nbytes));
  switch (dtype) {
    case 'F64': return new Float64Array(buf);
    case 'F32': return new Float32Array(buf);
    case 'F16': case 'BF16': return new Uint16Array(buf);
    case 'I64': return new BigInt64Array(buf);
    case 'I32': return new Int32Array(buf);
    case 'I16': return new Int16Array(buf);
    case 'I8': return new Int8Array(buf);
    case 'U8': case 'BOOL': return new Uint8Array(buf);
  }
}

/** Any floating tensor as Float32 (F16 and BF16 decoded, F64 rounded); integer tensors are refused. */
export function toFloat32(t: SafeTensor, name = 'tensor'): Float32Array {
  switch (t.dtype) {
    case 'F32': return t.data as Float32Array;
    case 'F64': return Float32Array.from(t.data as Float64Array);
    case 'BF16': {
      const src = t.data as Uint16Array;
      const bits = new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
      return new Float32Array(bits.buffer);
    }
    case 'F16': {
      const src = t.data as Uint16Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = halfToFloat(src[i]);
      return out;
    }
    default: throw new Error(`${name}: expected a floating-point tensor, found ${t.dtype}`);
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Reads and validates a `.safetensors` file. */
export function readSafetensors(file: string): SafetensorsFile {
  return decodeSafetensors(fs.readFileSync(file), file);
}

/** Writes a `.safetensors` file atomically. */
export function writeSafetensors(file: string, tensors: Map<string, TensorInput> | Record<string, TensorInput>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}
