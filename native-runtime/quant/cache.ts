// Quantized frozen weights, made once per model and weights_dtype and cached beside the model:
// `<model folder>/.lily-cache/<model file>.<dtype>.<hash>.safetensors`, where <hash> is the
// sha256 of the weights it quantizes (their names, shapes and float32 bytes): a re-exported
// or edited model gets a new cache file, the same model reuses it from any config or run.
import { createHash, type Hash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { Graph, Model, Node, Tensor } from '../onnx/ir';
import { consumers, tensorSize } from '../onnx/ir';
import { isLazyTensor } from '../onnx/proto';
import { writeFileAtomic } from '../io/atomic';
import { readSafetensors, writeSafetensors, type TensorInput } from '../io/safetensors';
import { INT4_GROUP, quantize, storedBytes, type QuantizedWeight, type WeightsDtype } from './formats';

/** Frozen weights smaller than this (elements) stay float32: too small to matter. */
export const QUANTIZE_MIN_ELEMENTS = 1024;
const FORMAT = 'lily-quantized-weights';
const VERSION = '1';

export interface QuantizedStore {
  dtype: Exclude<WeightsDtype, 'float32'>;
  weights: Map<string, QuantizedWeight>;
  /** The cache file (undefined when it could not be written; the store is then in memory only). */
  file?: string;
  /** Whether this call found the cache (false: it quantized now). */
  fromCache: boolean;
  /** sha256 of the quantized weights' float32 values (the cache key). */
  hash: string;
  /** float32 bytes of the weights it replaces, and bytes of their stored form. */
  floatBytes: number;
  storedBytes: number;
}

/**
 * The frozen weights worth storing in a smaller type: float32 matrices of at least
 * QUANTIZE_MIN_ELEMENTS read only as the second operand of MatMul or Gemm (linear layers), as
 * the table of a Gather on axis 0 (an embedding, also when a Transpose of it feeds MatMuls: a
 * table tied to the head), and not inside a subgraph.
 */
export function quantizableWeights(graph: Graph): Tensor[] {
  const readers = new Map<string, Array<{ op: string; slot: number; axis0: boolean }>>();
  const users = consumers(graph);
  for (const n of graph.nodes) n.inputs.forEach((i, slot) => {
    if (!i || !graph.initializers.has(i)) return;
    let l = readers.get(i);
    if (!l) readers.set(i, (l = []));
    const axis = n.attrs.axis;
    l.push({ op: n.domain === '' ? (isHeadTranspose(n, users) ? 'TransposeForMatMul' : n.opType) : `${n.domain}.${n.opType}`, slot, axis0: !axis || (axis.kind === 'int' && axis.value === 0) });
  });
  const inSubgraphs = new Set<string>();
  const visit = (g: Graph) => {
    for (const n of g.nodes) for (const a of Object.values(n.attrs)) {
      if (a.kind !== 'graph') continue;
      for (const bn of a.value.nodes) for (const i of bn.inputs) inSubgraphs.add(i);
      visit(a.value);
    }
  };
  visit(graph);
  const out: Tensor[] = [];
  for (const t of graph.initializers.values()) {
    if (t.dtype !== 'float32' || t.dims.length !== 2 || t.dims[0] * t.dims[1] < QUANTIZE_MIN_ELEMENTS) continue;
    if (inSubgraphs.has(t.name)) continue;
    const r = readers.get(t.name);
    // Linear layers (second operand of MatMul/Gemm), embedding tables (Gather's data, axis 0),
    // and a [V, d] head read through a Transpose (a tied table: train/tiedHead.ts).
    const tiedTable = r?.some((x) => x.op === 'Gather');
    if (!r || !r.every((x) => ((x.op === 'MatMul' || x.op === 'Gemm') && x.slot === 1) || (x.op === 'Gather' && x.slot === 0 && x.axis0) || (x.op === 'TransposeForMatMul' && tiedTable))) continue;
    out.push(t);
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** A 2-D Transpose whose output is only the second operand of MatMuls (x Wᵀ with W stored [out, in]). */
function isHeadTranspose(n: Node, users: Map<string, Node[]>): boolean {
  if (n.opType !== 'Transpose' || n.domain !== '') return false;
  const perm = n.attrs.perm?.kind === 'ints' ? n.attrs.perm.value : [1, 0];
  if (perm.length !== 2 || perm[0] !== 1 || perm[1] !== 0) return false;
  const readers = users.get(n.outputs[0]) ?? [];
  return readers.length > 0 && readers.every((u) => u.opType === 'MatMul' && u.domain === '' && u.inputs[1] === n.outputs[0] && u.inputs[0] !== n.outputs[0]);
}

/** sha256 of the weights (names, shapes, float32 bytes), in the order given. */
export function weightsHash(weights: Tensor[]): string {
  const h = createHash('sha256');
  for (const t of weights) hashWeight(h, t.name, t.dims, t.data as Float32Array);
  return h.digest('hex');
}

function hashWeight(h: Hash, name: string, dims: number[], d: Float32Array): void {
  h.update(`${name}\0${dims.join('x')}\0`);
  h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
}

export function cacheFileFor(modelPath: string, dtype: string, hash: string): string {
  return path.join(path.dirname(path.resolve(modelPath)), '.lily-cache', `${path.basename(modelPath)}.${dtype}.${hash.slice(0, 16)}.safetensors`);
}

/**
 * The model's quantizable weights in `dtype`: read from the cache beside `modelPath` when it
 * holds them, else quantized now and written there (when the folder is writable; `log` says
 * when it is not). Weights left in their external data file (loadModel's lazyExternalBytes) are
 * read one at a time, so a model larger than memory can be quantized; their hash is then
 * remembered beside the cache with the data files' sizes and times, so that the next run
 * does not read them at all.
 */
export function loadOrQuantize(modelPath: string, model: Model, dtype: Exclude<WeightsDtype, 'float32'>, opts: { exclude?: string[]; log?: (msg: string) => void } = {}): QuantizedStore {
  const log = opts.log;
  const exclude = new Set(opts.exclude ?? []);
  const candidates = quantizableWeights(model.graph).filter((t) => !exclude.has(t.name));
  const floatBytes = candidates.reduce((s, t) => s + tensorSize(t.dims) * 4, 0);
  const stamp = candidates.some(isLazyTensor) ? new HashStamp(modelPath, candidates) : undefined;
  let hash = stamp?.read() ?? (stamp ? undefined : weightsHash(candidates));
  if (hash) {
    const cached = readCache(cacheFileFor(modelPath, dtype, hash), dtype, hash, candidates, log);
    if (cached) return summarize({ dtype, weights: cached, file: cacheFileFor(modelPath, dtype, hash), fromCache: true, hash, floatBytes, storedBytes: 0 });
  }
  // One pass: each weight is read (a lazy one from its file), hashed and quantized, then let go.
  const h = createHash('sha256');
  const weights = new Map<string, QuantizedWeight>();
  for (const t of candidates) {
    const data = t.data as Float32Array; // a lazy tensor reads its file here, once
    if (!hash) hashWeight(h, t.name, t.dims, data);
    weights.set(t.name, quantize(dtype, data, t.dims[0], t.dims[1]));
  }
  hash = hash ?? h.digest('hex');
  const file = cacheFileFor(modelPath, dtype, hash);
  let written: string | undefined = file;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeCache(file, dtype, hash, weights);
    stamp?.write(hash);
  } catch (e) {
    written = undefined;
    log?.(`warning: could not cache the ${dtype} weights at ${file} (${(e as Error).message}); they are quantized again next time`);
  }
  return summarize({ dtype, weights, file: written, fromCache: false, hash, floatBytes, storedBytes: 0 });
}

/**
 * The weights' hash as last computed, valid while the model file and the external data files
 * keep their sizes and modification times and the same weights are asked for.
 */
class HashStamp {
  private readonly file: string;
  private readonly key: string;
  constructor(modelPath: string, candidates: Tensor[]) {
    this.file = path.join(path.dirname(path.resolve(modelPath)), '.lily-cache', `${path.basename(modelPath)}.weights-hash.json`);
    const files = [...new Set([path.resolve(modelPath), ...candidates.map((t) => t.external?.file).filter((f): f is string => !!f)])].sort();
    const stats = files.map((f) => { const st = fs.statSync(f); return [f, st.size, Math.round(st.mtimeMs)]; });
    this.key = JSON.stringify({ stats, weights: candidates.map((t) => [t.name, t.dims, t.external?.offset ?? null]) });
  }
  read(): string | undefined {
    try {
      const j = JSON.parse(fs.readFileSync(this.file, 'utf8')) as { key: string; weights_sha256: string };
      return j.key === this.key && /^[0-9a-f]{64}$/.test(j.weights_sha256) ? j.weights_sha256 : undefined;
    } catch {
      return undefined;
    }
  }
  write(hash: string): void {
    writeFileAtomic(this.file, JSON.stringify({ key: this.key, weights_sha256: hash }));
  }
}

function summarize(s: QuantizedStore): QuantizedStore {
  s.storedBytes = [...s.weights.values()].reduce((a, q) => a + storedBytes(q), 0);
  return s;
}

function writeCache(file: string, dtype: string, hash: string, weights: Map<string, QuantizedWeight>): void {
  const tensors = new Map<string, TensorInput>();
  const dims: Record<string, [number, number]> = {};
  for (const [name, q] of weights) {
    dims[name] = q.dims;
    if (q.kind === 'int8') {
      tensors.set(`${name}::q`, { shape: [...q.dims], data: q.q });
      tensors.set(`${name}::scale`, { shape: [q.scale.length], data: q.scale });
    } else if (q.kind === 'int4') {
      tensors.set(`${name}::packed`, { shape: [q.scale.length, INT4_GROUP / 2], data: q.packed });
      tensors.set(`${name}::scale`, { shape: [q.scale.length], data: q.scale });
      tensors.set(`${name}::zero`, { shape: [q.scale.length], data: q.zero });
    } else {
      tensors.set(`${name}::bits`, { shape: [...q.dims], data: q.bits, dtype: 'BF16' });
    }
  }
  writeSafetensors(file, tensors, { format: FORMAT, version: VERSION, dtype, int4_group: String(INT4_GROUP), weights_sha256: hash, dims: JSON.stringify(dims) });
}

/** The cached weights, or undefined when the file is missing or does not match (then it is rebuilt). */
function readCache(file: string, dtype: string, hash: string, candidates: Tensor[], log?: (msg: string) => void): Map<string, QuantizedWeight> | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    const f = readSafetensors(file);
    const md = f.metadata;
    if (md.format !== FORMAT || md.version !== VERSION || md.dtype !== dtype || md.weights_sha256 !== hash || md.int4_group !== String(INT4_GROUP)) throw new Error('written for other weights or by another version');
    const dims = JSON.parse(md.dims) as Record<string, [number, number]>;
    const out = new Map<string, QuantizedWeight>();
    const get = (k: string) => {
      const t = f.tensors.get(k);
      if (!t) throw new Error(`missing tensor ${k}`);
      return t.data;
    };
    for (const t of candidates) {
      const d = dims[t.name];
      if (!d || d[0] !== t.dims[0] || d[1] !== t.dims[1]) throw new Error(`no entry for ${t.name} [${t.dims.join(', ')}]`);
      if (f.tensors.has(`${t.name}::q`)) out.set(t.name, { kind: 'int8', dims: d, q: get(`${t.name}::q`) as Int8Array, scale: get(`${t.name}::scale`) as Float32Array });
      else if (f.tensors.has(`${t.name}::packed`)) out.set(t.name, { kind: 'int4', dims: d, packed: get(`${t.name}::packed`) as Uint8Array, scale: get(`${t.name}::scale`) as Float32Array, zero: get(`${t.name}::zero`) as Uint8Array });
      else out.set(t.name, { kind: 'bfloat16', dims: d, bits: get(`${t.name}::bits`) as Uint16Array });
    }
    return out;
  } catch (e) {
    log?.(`warning: ignoring the weights cache ${file} (${(e as Error).message}); quantizing again`);
    return undefined;
  }
}
