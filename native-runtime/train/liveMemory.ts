// Static estimate of a graph's activation memory: run the nodes in their listed order, keep each
// value from its producer until its last consumer, and report the peak of the live bytes and
// what is live at that peak, grouped by producer op. Graph inputs, initializers and graph
// outputs are not counted (they belong to the caller or to the weights).
import type { Graph } from '../onnx/ir';
import { bytesPerElement } from '../onnx/proto';

export interface LiveReport {
  peakBytes: number;
  peakAtNode: number;
  byProducer: Array<{ op: string; bytes: number; count: number }>;
  /** Values live at the peak, largest first (name, producer op, bytes). */
  values: Array<{ name: string; op: string; bytes: number }>;
}

export function liveMemory(g: Graph): LiveReport {
  const lastUse = new Map<string, number>();
  g.nodes.forEach((n, k) => n.inputs.forEach((i) => i && lastUse.set(i, k)));
  const outputs = new Set(g.outputs.map((o) => o.name));
  const size = (name: string) => {
    const vi = g.valueInfo.get(name);
    if (!vi?.shape) return 0;
    return vi.shape.reduce<number>((a, d) => a * (typeof d === 'number' ? d : 0), 1) * bytesPerElement(vi.dtype);
  };
  const live = new Map<string, { bytes: number; op: string; name: string }>();
  const freeAt = new Map<number, string[]>();
  let cur = 0, peak = 0, peakAt = 0;
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
  return { values, peakBytes: peak, peakAtNode: peakAt, byProducer: [...groups].map(([op, e]) => ({ op, ...e })).sort((a, b) => b.bytes - a.bytes) };
}
