// The order in which onnxruntime (1.30, CPU, default execution order) runs a graph's nodes: the
// post-order of a depth-first walk from the leaf nodes (nodes whose outputs nobody reads) towards
// their producers, leaves taken last-listed first, each node's producers visited highest-index
// first (its GraphViewer topological order: Graph::ReverseDFSFrom with NodeCompare by index).
// It can differ much from the listed order: a branch that only depends on graph inputs (label
// one-hots, masks) runs as soon as the walk reaches its first reader's producers, and stays
// alive until its last reader. The live-set model (liveMemory.ts) follows this order.
import type { Graph, Node } from '../onnx/ir';

export function ortExecutionOrder(g: Graph): Node[] {
  const producer = new Map<string, number>();
  g.nodes.forEach((n, k) => n.outputs.forEach((o) => o && producer.set(o, k)));
  const hasReader = new Array<boolean>(g.nodes.length).fill(false);
  const inputNodes = g.nodes.map((n) => {
    const set = new Set<number>();
    for (const i of [...n.inputs, ...implicitInputs(n)]) {
      const p = i ? producer.get(i) : undefined;
      if (p !== undefined) set.add(p);
    }
    for (const p of set) hasReader[p] = true;
    return [...set].sort((a, b) => a - b);
  });
  const stack: Array<[number, boolean]> = [];
  g.nodes.forEach((_, k) => { if (!hasReader[k]) stack.push([k, false]); });
  const visited = new Array<boolean>(g.nodes.length).fill(false);
  const order: Node[] = [];
  while (stack.length) {
    const [k, leave] = stack.pop()!;
    if (leave) {
      order.push(g.nodes[k]);
      continue;
    }
    if (visited[k]) continue;
    visited[k] = true;
    stack.push([k, true]);
    for (const p of inputNodes[k]) stack.push([p, false]);
  }
  return order;
}

/** Outer values a node's subgraphs read (ORT counts their producers as the node's inputs). */
function implicitInputs(n: Node): string[] {
  const out: string[] = [];
  for (const a of Object.values(n.attrs)) {
    if (a.kind !== 'graph') continue;
    const body = a.value as Graph;
    const local = new Set<string>([...body.inputs.map((i) => i.name), ...body.initializers.keys()]);
    for (const b of body.nodes) b.outputs.forEach((o) => local.add(o));
    for (const b of body.nodes) for (const i of [...b.inputs, ...implicitInputs(b)]) if (i && !local.has(i)) out.push(i);
  }
  return out;
}
