// A language model whose output head is tied to its input embedding (Hugging Face's
// tie_word_embeddings: Qwen2.5-0.5B, GPT-2, Gemma...) computes its logits with the embedding
// table itself, but ONNX exports lose the tie: the TorchScript exporter stores the head as a
// second, transposed initializer (`onnx::MatMul_N`, [d, V]) holding the same values. For a
// 151,936 x 896 vocabulary that copy is 544 MB, more than a quarter of a 0.5B model.
//
// `tieOutputHead` finds such a head by value (shapes first, then a sample of elements, then
// every element, reading an external-data tensor a block at a time) and rewrites the model so
// that the head reads the table through a Transpose, as the PyTorch module does; the copy is
// deleted. The function is unchanged (the values are equal bit for bit), the chunked LM loss
// then reads the [V, d] table in its Loop (train/chunkedLoss.ts, layout `vd`), and the step
// graphs, the sessions' shared inputs and the memory estimate hold one table.
import * as fs from 'fs';
import * as path from 'path';
import type { Graph, Model, Node, Tensor } from '../onnx/ir';
import { attr, consumers, GraphBuilder, producers } from '../onnx/ir';
import { isLazyTensor } from '../onnx/proto';

export interface TiedHead {
  /** The head's own weight initializer (deleted by tieOutputHead). */
  head: string;
  /** The embedding table [V, d] (Gather's data) holding the same values. */
  table: string;
  /** `dv`: the head weight is [d, V] = tableᵀ (MatMul(h, W)); `vd`: it is [V, d] = table, read through a Transpose. */
  layout: 'dv' | 'vd';
}

/** Elements checked before comparing whole tensors (cheap: a mismatch is found here). */
const SAMPLE = 64;
/** Rows of the table compared at once (an external-data tensor is read a block at a time). */
const BLOCK_ROWS = 16384;

/**
 * The output head producing `logits` (default: the first graph output) when its weight holds
 * the same values as an embedding table of the model, else undefined. `trained` names tensors
 * that training updates (modules_to_save): a head or table among them is never tied.
 */
export function findTiedHead(model: Model, opts: { logits?: string; trained?: ReadonlySet<string> } = {}): TiedHead | undefined {
  const g = model.graph;
  const found = headWeight(g, opts.logits ?? g.outputs[0]?.name);
  if (!found) return undefined;
  const { weight, layout } = found;
  const w = g.initializers.get(weight)!;
  if (w.dtype !== 'float32' || w.dims.length !== 2 || opts.trained?.has(weight)) return undefined;
  // Only the head reads the weight (else deleting it would change another reader).
  const readers = consumers(g).get(weight) ?? [];
  if (readers.length !== 1) return undefined;
  const [V, d] = layout === 'dv' ? [w.dims[1], w.dims[0]] : w.dims;
  for (const table of embeddingTables(g)) {
    const t = g.initializers.get(table)!;
    if (table === weight || t.dims[0] !== V || t.dims[1] !== d || opts.trained?.has(table)) continue;
    if (sameValues(t, w, layout)) return { head: weight, table, layout };
  }
  return undefined;
}

/**
 * Rewrites `model` so that its output head reads the embedding table it equals (see the file
 * comment) and deletes the head's copy; returns what it tied, or undefined when the head is not
 * a copy of a table. A Hugging Face config.json beside `modelPath` saying
 * `tie_word_embeddings: false` skips the comparison.
 */
export function tieOutputHead(model: Model, opts: { logits?: string; trained?: ReadonlySet<string>; modelPath?: string } = {}): TiedHead | undefined {
  if (opts.modelPath && hfConfigUnties(opts.modelPath)) return undefined;
  const tied = findTiedHead(model, opts);
  if (!tied) return undefined;
  const g = model.graph;
  const reader = consumers(g).get(tied.head)![0];
  if (tied.layout === 'vd') {
    // Transpose(W) -> Transpose(table).
    reader.inputs = reader.inputs.map((i) => (i === tied.head ? tied.table : i));
  } else {
    // MatMul(h, W) -> MatMul(h, Transpose(table)), the Transpose right before the MatMul.
    const b = new GraphBuilder(g);
    const out = b.fresh(`${tied.table}/transposed_for_head`);
    const node: Node = { name: b.fresh(`${tied.table}/Transpose_for_head`), opType: 'Transpose', domain: '', inputs: [tied.table], outputs: [out], attrs: { perm: attr.ints([1, 0]) } };
    const t = g.initializers.get(tied.table)!;
    g.valueInfo.set(out, { name: out, dtype: 'float32', shape: [t.dims[1], t.dims[0]] });
    reader.inputs = reader.inputs.map((i) => (i === tied.head ? out : i));
    g.nodes.splice(g.nodes.indexOf(reader), 0, node);
  }
  g.initializers.delete(tied.head);
  // IR < 4 exports also list initializers as graph inputs.
  g.inputs = g.inputs.filter((i) => i.name !== tied.head);
  g.valueInfo.delete(tied.head);
  return tied;
}

/** Whether a config.json beside the model says the embeddings are not tied. */
function hfConfigUnties(modelPath: string): boolean {
  const file = path.join(path.dirname(path.resolve(modelPath)), 'config.json');
  try {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { tie_word_embeddings?: unknown }).tie_word_embeddings === false;
  } catch {
    return false;
  }
}

/** The frozen weight of the MatMul producing `logits` (through an optional bias Add), directly ([d, V]) or through Transpose ([V, d]). */
function headWeight(g: Graph, logits: string | undefined): { weight: string; layout: 'dv' | 'vd' } | undefined {
  if (!logits) return undefined;
  const prod = producers(g);
  let node = prod.get(logits);
  if (node?.opType === 'Add' && node.domain === '') node = node.inputs.map((i) => prod.get(i)).find((n) => n?.opType === 'MatMul');
  if (!node || node.opType !== 'MatMul' || node.domain !== '') return undefined;
  const w = node.inputs[1];
  if (g.initializers.has(w)) return { weight: w, layout: 'dv' };
  const tr = prod.get(w);
  if (!tr || tr.opType !== 'Transpose' || !g.initializers.has(tr.inputs[0])) return undefined;
  const perm = tr.attrs.perm?.kind === 'ints' ? tr.attrs.perm.value : [1, 0];
  return perm.length === 2 && perm[0] === 1 && perm[1] === 0 ? { weight: tr.inputs[0], layout: 'vd' } : undefined;
}

/** float32 [V, d] initializers read as the table of a Gather on axis 0. */
function embeddingTables(g: Graph): string[] {
  const out = new Set<string>();
  for (const n of g.nodes) {
    if (n.opType !== 'Gather' || n.domain !== '') continue;
    const axis = n.attrs.axis;
    if (axis && !(axis.kind === 'int' && axis.value === 0)) continue;
    const t = g.initializers.get(n.inputs[0]);
    if (t && t.dtype === 'float32' && t.dims.length === 2) out.add(t.name);
  }
  return [...out];
}

/**
 * Whether head `w` equals `table` ([V, d]) bit for bit: w = table (`vd`) or w = tableᵀ (`dv`).
 * A sample first, then every element a block of table rows at a time.
 */
function sameValues(table: Tensor, w: Tensor, layout: 'dv' | 'vd'): boolean {
  const [V, d] = table.dims;
  const T = elements(table);
  const W = elements(w);
  try {
    return compare(T, W, V, d, layout);
  } finally {
    T.close();
    W.close();
  }
}

function compare(T: Elements, W: Elements, V: number, d: number, layout: 'dv' | 'vd'): boolean {
  // w's index of table element (j, i).
  const wIndex = (j: number, i: number) => (layout === 'vd' ? j * d + i : i * V + j);
  for (let k = 0; k < SAMPLE; k++) {
    const j = Math.floor((k * (V - 1)) / (SAMPLE - 1));
    const i = (k * 7919) % d;
    if (T.read(j * d + i, 1)[0] !== W.read(wIndex(j, i), 1)[0]) return false;
  }
  for (let j0 = 0; j0 < V; j0 += BLOCK_ROWS) {
    const rows = Math.min(BLOCK_ROWS, V - j0);
    const tb = T.read(j0 * d, rows * d);
    if (layout === 'vd') {
      const wb = W.read(j0 * d, rows * d);
      for (let k = 0; k < tb.length; k++) if (tb[k] !== wb[k]) return false;
      continue;
    }
    for (let i = 0; i < d; i++) {
      const wr = W.read(i * V + j0, rows);
      for (let r = 0; r < rows; r++) if (wr[r] !== tb[r * d + i]) return false;
    }
  }
  return true;
}

/**
 * Reads `count` elements of a float32 tensor from `start` as raw 32-bit patterns (so that equal
 * NaNs compare equal and -0 differs from 0): a view of loaded data, or a read of the external
 * data file for a tensor loaded lazily (its `data` getter would read the whole tensor).
 */
interface Elements {
  read(start: number, count: number): Uint32Array;
  close(): void;
}

function elements(t: Tensor): Elements {
  if (!isLazyTensor(t) || !t.external) {
    const d = t.data as Float32Array;
    const bits = new Uint32Array(d.buffer, d.byteOffset, d.length);
    return { read: (start, count) => bits.subarray(start, start + count), close: () => undefined };
  }
  const { file, offset } = t.external;
  let fd: number | undefined;
  return {
    read(start, count) {
      fd ??= fs.openSync(file, 'r');
      const buf = Buffer.allocUnsafeSlow(count * 4);
      let got = 0;
      while (got < buf.length) {
        const k = fs.readSync(fd, buf, got, buf.length - got, offset + start * 4 + got);
        if (k === 0) throw new Error(`initializer ${t.name}: external data file ${file} is truncated`);
        got += k;
      }
      return new Uint32Array(buf.buffer, buf.byteOffset, count);
    },
    close() {
      if (fd !== undefined) fs.closeSync(fd);
      fd = undefined;
    },
  };
}
