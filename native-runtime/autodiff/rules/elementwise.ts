// Arithmetic: elementwise (broadcasting) binary ops and simple unary math.
// Binary rules return gradients in the output's shape; the walker un-broadcasts them.
import type { RuleSpec } from '../context';
import { FLOAT_DTYPES } from '../shapes';
import { constantExponent } from '../../onnx/powers';

export const ELEMENTWISE_RULES: Record<string, RuleSpec> = {
  Add: { broadcast: true, rule: (c) => [c.GO(0), c.GO(0)] },
  Sub: { broadcast: true, rule: (c) => [c.GO(0), c.needs(1) ? c.neg(c.GO(0)) : undefined] },
  Mul: {
    broadcast: true,
    rule: (c) => [
      c.needs(0) ? c.mul(c.GO(0), c.I(1)) : undefined,
      c.needs(1) ? c.mul(c.GO(0), c.I(0)) : undefined,
    ],
  },
  // d(a/b)/da = 1/b; d(a/b)/db = -(a/b)/b.
  Div: {
    broadcast: true,
    rule: (c) => {
      const gb = c.needs(0) || c.needs(1) ? c.div(c.GO(0), c.I(1)) : '';
      return [c.needs(0) ? gb : undefined, c.needs(1) ? c.neg(c.mul(gb, c.O(0))) : undefined];
    },
  },
  // d(a^b)/da = b a^(b-1); d(a^b)/db = a^b ln a (defined for a > 0).
  Pow: {
    broadcast: true,
    rule: (c) => {
      const g = c.GO(0);
      // A constant exponent (RMSNorm's x^2) is read here, so that the backward holds no Pow:
      // onnxruntime's CPU Pow is several times slower than Mul (Llama 512x8, 4x512 tokens: 32 Pow
      // nodes on [4, 512, 512] took 108 ms of a 1.8 s step).
      const k = constantExponent(c.constTensor(c.I(1)));
      if (k !== undefined && !c.needs(1)) {
        if (!c.needs(0)) return [undefined, undefined];
        if (k === 1) return [g, undefined];
        if (k === 2) return [c.mul(c.mul(g, c.I(0)), c.scalar(2, c.I(0))), undefined];
        return [c.mul(g, c.mul(c.scalar(k, c.I(0)), c.op('Pow', [c.I(0), c.scalar(k - 1, c.I(0))]))), undefined];
      }
      // The exponent may be an integer tensor (opset >= 12): compute in the base's type.
      const e = FLOAT_DTYPES.has(c.dtype(c.I(1))) ? c.I(1) : c.cast(c.I(1), c.dtype(c.I(0)));
      const ga = c.needs(0) ? c.mul(g, c.mul(e, c.op('Pow', [c.I(0), c.sub(e, c.scalar(1, c.I(0)))]))) : undefined;
      const gb = c.needs(1) ? c.mul(g, c.mul(c.O(0), c.op('Log', [c.I(0)]))) : undefined;
      return [ga, gb];
    },
  },
  // Variadic ops: each input receives the output gradient (Mean: divided by the count).
  Sum: { broadcast: true, rule: (c) => c.node.inputs.map(() => c.GO(0)) },
  Mean: {
    broadcast: true,
    rule: (c) => {
      const g = c.mul(c.GO(0), c.scalar(1 / c.numInputs, c.O(0)));
      return c.node.inputs.map(() => g);
    },
  },
  // Max/Min: the gradient goes to the input(s) equal to the result (ties: to each of them).
  Max: { broadcast: true, rule: (c) => c.node.inputs.map((x, i) => (c.needs(i) ? c.maskOr0(c.op('Equal', [x, c.O(0)]), c.GO(0)) : undefined)) },
  Min: { broadcast: true, rule: (c) => c.node.inputs.map((x, i) => (c.needs(i) ? c.maskOr0(c.op('Equal', [x, c.O(0)]), c.GO(0)) : undefined)) },

  Neg: { rule: (c) => [c.neg(c.GO(0))] },
  Identity: { rule: (c) => [c.GO(0)] },
  Abs: { rule: (c) => [c.mul(c.GO(0), c.op('Sign', [c.I(0)]))] },
  // d sqrt(x) = 0.5 / sqrt(x).
  Sqrt: { rule: (c) => [c.div(c.mul(c.GO(0), c.scalar(0.5, c.O(0))), c.O(0))] },
  // d (1/x) = -1/x^2 = -y^2.
  Reciprocal: { rule: (c) => [c.neg(c.mul(c.GO(0), c.mul(c.O(0), c.O(0))))] },
  Exp: { rule: (c) => [c.mul(c.GO(0), c.O(0))] },
  Log: { rule: (c) => [c.div(c.GO(0), c.I(0))] },
  Sin: { rule: (c) => [c.mul(c.GO(0), c.op('Cos', [c.I(0)]))] },
  Cos: { rule: (c) => [c.neg(c.mul(c.GO(0), c.op('Sin', [c.I(0)])))] },
};
