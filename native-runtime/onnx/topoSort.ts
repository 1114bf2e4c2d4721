// Nodes in topological order. The ONNX spec requires it, but ONNX Runtime does not check, and
// some exporters and hand edits write graphs out of order; everything in the engine (shape
// inference, specialisation, autodiff, the ORT probe) walks nodes in list order. So the loader
// sorts once, keeping the file's order wherever it is already valid (a stable Kahn sort).
import type { Node } from './ir';

/**
 * `nodes` reordered so that every node comes after the producers of its inputs. Names no node
 * produces (graph inputs, initializers, outer-scope values of a subgraph) count as available.
 * Nodes on a cycle (invalid anyway) keep their relative order at the end, for later checks to name.
 */
export function sortNodesTopologically(nodes: Node[]): Node[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, k) => { for (const o of n.outputs) if (o) producer.set(o, k); });
  const waitingOn = new Array<number>(nodes.length).fill(0);
  const dependents: number[][] = nodes.map(() => []);
  nodes.forEach((n, k) => {
    const deps = new Set<number>();
    for (const i of n.inputs) {
      const p = i ? producer.get(i) : undefined;
      if (p !== undefined && p !== k) deps.add(p);
    }
    waitingOn[k] = deps.size;
    for (const p of deps) dependents[p].push(k);
  });
  if (isOrdered(nodes, producer)) return nodes;
  // Ready nodes are taken in file order: a min-heap would do, but a sorted insert is enough for
  // the graphs this handles (one pass per node, ready lists stay short).
  const ready: number[] = [];
  waitingOn.forEach((w, k) => { if (w === 0) ready.push(k); });
  const out: Node[] = [];
  const done = new Array<boolean>(nodes.length).fill(false);
  while (ready.length) {
    const k = ready.shift()!;
    done[k] = true;
    out.push(nodes[k]);
    for (const d of dependents[k]) {
      if (--waitingOn[d] === 0) insertSorted(ready, d);
    }
  }
  nodes.forEach((n, k) => { if (!done[k]) out.push(n); });
  return out;
}

/** True when every input a node produces comes from an earlier node (the common case: no copy). */
function isOrdered(nodes: Node[], producer: Map<string, number>): boolean {
  return nodes.every((n, k) => n.inputs.every((i) => { const p = i ? producer.get(i) : undefined; return p === undefined || p < k; }));
}

function insertSorted(list: number[], v: number): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid] < v) lo = mid + 1; else hi = mid;
  }
  list.splice(lo, 0, v);
}
