// Static estimate of a graph's activation memory: run the nodes in their listed order, keep each
// value from its producer until its last consumer, and report the peak of the live bytes and
// what is live at that peak, grouped by producer op. Graph inputs, initializers and graph
// outputs are not counted (they belong to the caller or to the weights).
// A value's size comes from the graph's valueInfo, else from shape inference over the graph
// (autodiff leaves many backward values without valueInfo: e.g. the normalisations' and the
// attention softmax's gradients; counted as 0 bytes they hid 50-60 MB of a small decoder's
// 180 MB step peak).
import type { Graph, ValueInfo } from '../onnx/ir';
import { bytesPerElement } from '../onnx/proto';
import { inferShapes } from '../onnx/shapeInference';

export interface LiveReport {
  peakBytes: number;
  peakAtNode: number;
  /** Live bytes while each node runs (its inputs, its outputs and everything else still needed), by node index. */
  liveAt: number[];
  byProducer: Array<{ op: string; bytes: number; count: number }>;
  /** Values live at the peak, largest first (name, producer op, bytes). */
  values: Array<{ name: string; op: string; bytes: number }>;
}

export interface LiveOptions {
  /** The graph's default-domain opset (shape rules depend on it; default 17). */
  opset?: number;
  /** Values of enclosing graphs a subgraph reads (their shapes), e.g. a Loop body's. */
  outer?: Iterable<ValueInfo>;
}

/** Bytes of every value of `g` whose shape is known or can be inferred. */
export function valueSizes(g: Graph, opts: LiveOptions = {}): (name: string) => number {
  let inferred: ReturnType<typeof inferShapes> | undefined;
  return (name: string) => {
    const vi = g.valueInfo.get(name);
    if (vi?.shape?.every((d) => typeof d === 'number')) return (vi.shape as number[]).reduce((a, d) => a * d, 1) * bytesPerElement(vi.dtype);
    inferred ??= inferShapes({ graph: g, opsetImports: [{ domain: '', version: opts.opset ?? 17 }], irVersion: 8, producerName: '', metadata: {} }, { known: [...(opts.outer ?? []), ...g.valueInfo.values()] });
    const v = inferred.get(name);
    return v ? v.dims.reduce((a, d) => a * d, 1) * bytesPerElement(v.dtype) : 0;
  };
}

export function liveMemory(g: Graph, opts: LiveOptions = {}): LiveReport {
  return liveMemoryWith(g, valueSizes(g, opts));
}

/**
 * Ops whose onnxruntime CPU kernel may write its output into input 0's buffer (`MayInplace(0, 0)`
 * in ORT's scatter.cc): the planner does so when input 0 has no other reader.
 */
const IN_PLACE_OPS = new Set(['ScatterElements']);

/**
 * Bytes of all node outputs of `g` (what a subgraph holds if nothing in it is freed before it
 * ends), less the outputs onnxruntime writes in place of their input (IN_PLACE_OPS). Measured on
 * the chunked loss (Qwen2 0.01B, 8x128, [1024, 8000] logits per chunk): the scatter that forms
 * dz from the softmax costs no buffer of its own (peak 301 -> 264 MB from 1024- to 512-row
 * chunks, 37 MB; counting the scatter's output modelled 64 MB).
 */
export function producedBytes(g: Graph, opts: LiveOptions = {}): number {
  const size = valueSizes(g, opts);
  const readers = new Map<string, number>();
  for (const node of g.nodes) for (const i of node.inputs) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
  const produced = new Set(g.nodes.flatMap((n) => n.outputs));
  const outputs = new Set(g.outputs.map((o) => o.name));
  let n = 0;
  for (const node of g.nodes) {
    const data = node.inputs[0];
    const inPlace = IN_PLACE_OPS.has(node.opType) && node.domain === '' && produced.has(data) && !outputs.has(data) && readers.get(data) === 1 && size(data) === size(node.outputs[0]);
    if (inPlace) continue;
    for (const o of node.outputs) if (o) n += size(o);
  }
  return n;
}

function liveMemoryWith(g: Graph, size: (name: string) => number): LiveReport {
  const lastUse = new Map<string, number>();
  g.nodes.forEach((n, k) => n.inputs.forEach((i) => i && lastUse.set(i, k)));
  const outputs = new Set(g.outputs.map((o) => o.name));
  const live = new Map<string, { bytes: number; op: string; name: string }>();
  const freeAt = new Map<number, string[]>();
  let cur = 0, peak = 0, peakAt = 0;
  const liveAt: number[] = [];
  let peakSet: Array<{ bytes: number; op: string; name: string }> = [];
  g.nodes.forEach((n, k) => {
    for (const o of n.outputs) {
      if (!o || outputs.has(o)) continue;
      const b = size(o);
      live.set(o, { bytes: b, op: n.opType, name: o });
      cur += b;
      const end = lastUse.get(o) ?? k;
      freeAt.set(end, [...(freeAt.get(end) ?? []), o]);
    }
    liveAt.push(cur);
    if (cur > peak) {
      peak = cur;
      peakAt = k;
      peakSet = [...live.values()];
    }
    for (const o of freeAt.get(k) ?? []) {
      cur -= live.get(o)?.bytes ?? 0;
      live.delete(o);
    }
  });
  const groups = new Map<string, { bytes: number; count: number }>();
  for (const v of peakSet) {
    const e = groups.get(v.op) ?? { bytes: 0, count: 0 };
    e.bytes += v.bytes;
    e.count++;
    groups.set(v.op, e);
  }
  const values = [...peakSet].sort((a, b) => b.bytes - a.bytes);
  return { values, peakBytes: peak, peakAtNode: peakAt, liveAt, byProducer: [...groups].map(([op, e]) => ({ op, ...e })).sort((a, b) => b.bytes - a.bytes) };
}
