// Decides which values of a graph are fixed once the input shapes are fixed: values computed
// only from constants and from the *shapes* of inputs (Shape/Size chains, masks built from
// ConstantOfShape/Range/Trilu, ...). Those can be replaced by initializers.
import type { Graph, Node } from './ir';
import { tensorSize } from './ir';

/** Ops whose output depends only on the input's shape, not its data. */
const SHAPE_ONLY_OPS = new Set(['Shape', 'Size']);

/** Ops that must never be folded even when their inputs are constant. */
const NONDETERMINISTIC_OPS = new Set([
  'RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli', 'Dropout',
]);

const FLOAT_TYPES = new Set(['float32', 'float64', 'float16', 'bfloat16']);

export interface StaticInfo {
  /** Values whose content is fixed by the input shapes and the initializers. */
  isStatic: Set<string>;
  /**
   * Static values computed from a float initializer with more than one element (a weight).
   * These are NOT folded: folding `Transpose(W)` would copy the weight and cut its gradient.
   */
  touchesWeight: Set<string>;
}

function hasSubgraph(n: Node): boolean {
  return Object.values(n.attrs).some((a) => a.kind === 'graph');
}

export function analyzeStatic(graph: Graph): StaticInfo {
  const isStatic = new Set<string>();
  const touchesWeight = new Set<string>();
  for (const [name, t] of graph.initializers) {
    isStatic.add(name);
    if (FLOAT_TYPES.has(t.dtype) && tensorSize(t.dims) > 1) touchesWeight.add(name);
  }
  for (const n of graph.nodes) {
    if (n.domain !== '' || NONDETERMINISTIC_OPS.has(n.opType) || hasSubgraph(n)) continue;
    const present = n.inputs.filter((i) => i !== '');
    let stat: boolean;
    let weight = false;
    if (SHAPE_ONLY_OPS.has(n.opType)) {
      stat = true;
    } else {
      stat = present.every((i) => isStatic.has(i));
      weight = present.some((i) => touchesWeight.has(i));
    }
    if (!stat) continue;
    for (const o of n.outputs) {
      if (!o) continue;
      isStatic.add(o);
      if (weight) touchesWeight.add(o);
    }
  }
  return { isStatic, touchesWeight };
}
