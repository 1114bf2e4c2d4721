// Pow with a constant exponent, rewritten to the ops it equals. onnxruntime's CPU Pow evaluates
// a general power per element; x^2 as Mul(x, x) is exact (one rounding either way) and several
// times faster: on a Llama-style step (d 512, 8 layers, 4x512 tokens) the 17 forward Pow(x, 2)
// of RMSNorm cost 3.4 ms each against 0.8 ms for a Mul of the same shape.
import { nodeReads } from './foldDeadCode';
import type { Graph, Tensor } from './ir';
import { tensorToNumbers } from './ir';

/** The exponent when `t` is a one-element float or integer constant, else undefined. */
export function constantExponent(t: Tensor | undefined): number | undefined {
  if (!t || t.dims.reduce((a, b) => a * b, 1) !== 1) return undefined;
  const v = Number(tensorToNumbers(t)[0]);
  return Number.isFinite(v) ? v : undefined;
}

/**
 * Replaces, in place, each Pow whose exponent is the constant 1, 2 or 0.5 by Identity,
 * Mul(x, x) or Sqrt (same output name, so readers are untouched); an exponent constant nothing
 * reads any more is dropped. Subgraphs are left alone. Returns how many nodes changed.
 */
export function reduceConstantPowers(graph: Graph): number {
  let changed = 0;
  const exponents = new Set<string>();
  for (const n of graph.nodes) {
    if (n.opType !== 'Pow' || (n.domain !== '' && n.domain !== 'ai.onnx')) continue;
    const [x, exponent] = n.inputs;
    const k = constantExponent(graph.initializers.get(exponent ?? ''));
    if (k === 2) Object.assign(n, { opType: 'Mul', inputs: [x, x], attrs: {} });
    else if (k === 1) Object.assign(n, { opType: 'Identity', inputs: [x], attrs: {} });
    else if (k === 0.5) Object.assign(n, { opType: 'Sqrt', inputs: [x], attrs: {} });
    else continue;
    exponents.add(exponent);
    changed++;
  }
  if (exponents.size > 0) {
    const read = new Set([...graph.nodes.flatMap(nodeReads), ...graph.outputs.map((o) => o.name)]);
    for (const name of exponents) if (!read.has(name)) graph.initializers.delete(name);
  }
  return changed;
}
