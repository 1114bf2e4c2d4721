// Dead-code elimination: keeps only nodes and initializers that the graph outputs (and any
// extra names the caller wants) depend on. Graph inputs are the model's interface: kept.
import type { Graph, Node } from './ir';

/** Names a node reads, including outer-scope names read inside its subgraphs (If/Loop/Scan). */
export function nodeReads(n: Node): string[] {
  const out = n.inputs.filter((i) => i !== '');
  for (const a of Object.values(n.attrs)) {
    if (a.kind !== 'graph') continue;
    for (const sn of a.value.nodes) out.push(...nodeReads(sn));
  }
  return out;
}

export function removeDeadCode(graph: Graph, keep: Iterable<string> = []): void {
  const live = new Set<string>([...graph.outputs.map((o) => o.name), ...keep]);
  const kept: Node[] = [];
  for (let k = graph.nodes.length - 1; k >= 0; k--) {
    const n = graph.nodes[k];
    if (!n.outputs.some((o) => o && live.has(o))) continue;
    kept.push(n);
    for (const i of nodeReads(n)) live.add(i);
  }
  kept.reverse();
  graph.nodes = kept;
  for (const name of [...graph.initializers.keys()]) if (!live.has(name)) graph.initializers.delete(name);
  const produced = new Set(kept.flatMap((n) => n.outputs));
  for (const name of [...graph.valueInfo.keys()]) if (!produced.has(name)) graph.valueInfo.delete(name);
}
