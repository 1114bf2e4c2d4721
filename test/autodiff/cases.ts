// Finite-difference cases, at least one per gradient rule (coverage.test.ts checks that).
// Shapes are small: every input element costs two forward runs.
import type { AttrValue, DataType } from '../../native-runtime/onnx/ir';
import { attr, GraphBuilder } from '../../native-runtime/onnx/ir';
import type { GradCase, InputSpec, Kind } from './helpers/gradcheck';

const BROADCAST_PAIRS: [number[], number[]][] = [
  [[2, 3], [2, 3]],
  [[2, 3, 4], [4]],
  [[2, 1, 4], [3, 1]],
  [[], [2, 3]],
];

function floatConst(b: GraphBuilder, dtype: DataType, dims: number[], values: number[]): string {
  return b.constant({ name: 'c', dtype, dims, data: dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values) });
}

function boolConst(b: GraphBuilder, dims: number[], values: number[]): string {
  return b.constant({ name: 'mask', dtype: 'bool', dims, data: Uint8Array.from(values) });
}

function single(op: string, attrs: Record<string, AttrValue> = {}, extra: (b: GraphBuilder, dtype: DataType) => string[] = () => []) {
  return (b: GraphBuilder, x: string[], dtype: DataType) => [b.op1(op, [...x, ...extra(b, dtype)], attrs)];
}

function binaryCases(op: string, kinds: [Kind, Kind] = ['any', 'any']): GradCase[] {
  return BROADCAST_PAIRS.map(([a, b]) => ({
    title: `${op} ${JSON.stringify(a)} x ${JSON.stringify(b)}`,
    inputs: [{ shape: a, kind: kinds[0] }, { shape: b, kind: kinds[1] }],
    build: single(op),
  }));
}

function unary(op: string, kind: Kind = 'any', attrs: Record<string, AttrValue> = {}, shape = [2, 3], extra?: GradCase['opset']): GradCase {
  return { title: `${op} ${JSON.stringify(shape)}`, inputs: [{ shape, kind }], build: single(op, attrs), opset: extra };
}

/** Values in (-2, 2) at least `gap` away from each kink. */
function awayFrom(n: number, kinks: number[], gap: number, seed: number): number[] {
  const out: number[] = [];
  let s = seed;
  while (out.length < n) {
    s = (s * 16807) % 2147483647;
    const v = (s / 2147483647) * 4 - 2;
    if (kinks.every((k) => Math.abs(v - k) > gap)) out.push(v);
  }
  return out;
}

const ints = (b: GraphBuilder, v: number[], scalar = false) => b.constInt64(v, scalar);

/** x * 1/sqrt(mean(x^2, axis) + eps) spelled as transformers' exports do. */
function rmsNorm(b: GraphBuilder, x: string, dtype: DataType, square: 'pow' | 'mul', inverse: 'div' | 'reciprocal', opset: number, axis = -1): string {
  const sq = square === 'pow' ? b.op1('Pow', [x, floatConst(b, dtype, [], [2])]) : b.op1('Mul', [x, x]);
  const mean = opset >= 18
    ? b.op1('ReduceMean', [sq, b.constInt64([axis])], { keepdims: attr.i(1) })
    : b.op1('ReduceMean', [sq], { axes: attr.ints([axis]), keepdims: attr.i(1) });
  const r = b.op1('Sqrt', [b.op1('Add', [mean, floatConst(b, dtype, [], [1e-2])])]);
  const q = inverse === 'div' ? b.op1('Div', [floatConst(b, dtype, [], [1]), r]) : b.op1('Reciprocal', [r]);
  return b.op1('Mul', [x, q]);
}

export const CASES: GradCase[] = [
  // --- elementwise binary, over broadcast pairs -----------------------------------------
  ...binaryCases('Add'),
  ...binaryCases('Sub'),
  ...binaryCases('Mul'),
  ...binaryCases('Div', ['any', 'positive']),
  ...binaryCases('Pow', ['positive', 'any']),
  ...binaryCases('Max'),
  ...binaryCases('Min'),
  { title: 'Sum of three, broadcast', inputs: [{ shape: [2, 3] }, { shape: [3] }, { shape: [2, 1] }], build: single('Sum') },
  { title: 'Mean of three, broadcast', inputs: [{ shape: [2, 3] }, { shape: [3] }, { shape: [] }], build: single('Mean') },
  { title: 'Pow by constant exponent 2', inputs: [{ shape: [2, 3] }], build: single('Pow', {}, (b, d) => [floatConst(b, d, [], [2])]) },
  { title: 'Pow by constant exponent 1', inputs: [{ shape: [2, 3] }], build: single('Pow', {}, (b, d) => [floatConst(b, d, [], [1])]) },
  { title: 'Pow by constant exponent -0.5', inputs: [{ shape: [2, 3], kind: 'positive' }], build: single('Pow', {}, (b, d) => [floatConst(b, d, [], [-0.5])]) },

  // --- elementwise unary --------------------------------------------------------------
  unary('Neg'), unary('Identity'), unary('Abs', 'away0'), unary('Sqrt', 'positive'), unary('Reciprocal', 'positive'),
  unary('Exp'), unary('Log', 'positive'), unary('Sin'), unary('Cos'),

  // --- activations --------------------------------------------------------------------
  { title: 'PRelu with slope [3]', inputs: [{ shape: [2, 3], kind: 'away0' }, { shape: [3] }], build: single('PRelu') },
  { title: 'Pow by int64 exponent 3', inputs: [{ shape: [2, 3] }], build: (b, x) => [b.op1('Pow', [x[0], ints(b, [3], true)])] },
  unary('Relu', 'away0'), unary('LeakyRelu', 'away0', { alpha: attr.f(0.2) }), unary('Tanh'), unary('Sigmoid'),
  unary('Softplus'), unary('Erf'),
  // RMSNorm's core as transformers exports it (autodiff/composites.ts), in its spellings.
  { title: 'RMSNorm x / sqrt(mean(x^2) + eps), Pow + Div (composite)', inputs: [{ shape: [2, 3, 4] }], build: (b, x, d) => [rmsNorm(b, x[0], d, 'pow', 'div', 17)] },
  { title: 'RMSNorm, Mul + Reciprocal (composite)', inputs: [{ shape: [2, 3, 4] }], build: (b, x, d) => [rmsNorm(b, x[0], d, 'mul', 'reciprocal', 17)] },
  { title: 'RMSNorm opset 18 (ReduceMean axes input) (composite)', inputs: [{ shape: [3, 5] }], build: (b, x, d) => [rmsNorm(b, x[0], d, 'pow', 'div', 18)], opset: 18 },
  { title: 'RMS over axis 1 of 3 (not the composite)', inputs: [{ shape: [2, 3, 4] }], build: (b, x, d) => [rmsNorm(b, x[0], d, 'pow', 'div', 17, 1)] },
  // SiLU as transformers exports it, differentiated as one op (autodiff/composites.ts), both operand orders.
  { title: 'SiLU x * Sigmoid(x) (composite)', inputs: [{ shape: [2, 3, 4] }], build: (b, x) => [b.op1('Mul', [x[0], b.op1('Sigmoid', [x[0]])])] },
  { title: 'SiLU Sigmoid(x) * x (composite)', inputs: [{ shape: [2, 3, 4] }], build: (b, x) => [b.op1('Mul', [b.op1('Sigmoid', [x[0]]), x[0]])] },
  { ...unary('Gelu', 'any', {}, [2, 3], 20), title: 'Gelu (opset 20, exact)' },
  { ...unary('Gelu', 'any', { approximate: attr.s('tanh') }, [2, 3], 20), title: 'Gelu (opset 20, tanh)' },
  unary('Softmax', 'any', {}, [2, 3, 4]),
  { ...unary('Softmax', 'any', { axis: attr.i(1) }, [2, 3, 4]), title: 'Softmax axis 1' },
  { ...unary('Softmax', 'any', { axis: attr.i(1) }, [2, 3, 4], 11), title: 'Softmax opset 11 (flattening semantics)' },
  unary('LogSoftmax', 'any', {}, [2, 5]),
  // Attention probabilities read by MatMul(P, V): Softmax's row sum taken from O (autodiff/composites.ts).
  { title: 'Softmax then MatMul(P, V) (composite)', inputs: [{ shape: [2, 2, 3, 4] }, { shape: [2, 2, 4, 5] }], build: (b, x) => [b.op1('MatMul', [b.op1('Softmax', [x[0]], { axis: attr.i(-1) }), x[1]])] },
  {
    title: 'Softmax, same-type Cast, MatMul(P, V) with V broadcast (composite)',
    inputs: [{ shape: [2, 3, 4] }, { shape: [4, 5] }],
    build: (b, x, dtype) => [b.op1('MatMul', [b.op1('Cast', [b.op1('Softmax', [x[0]], { axis: attr.i(2) })], { to: attr.i(dtype === 'float64' ? 11 : 1) }), x[1]])],
  },
  {
    // Block attention under grouped-query attention: the query heads sharing a key head as rows.
    title: 'Softmax, Reshape keeping the last axis, MatMul(P, V) (composite)',
    inputs: [{ shape: [1, 4, 3, 5] }, { shape: [1, 2, 5, 2] }],
    build: (b, x) => [b.op1('MatMul', [b.op1('Reshape', [b.op1('Softmax', [x[0]], { axis: attr.i(-1) }), ints(b, [1, 2, 6, 5])]), x[1]])],
  },
  {
    title: 'Softmax, Reshape of the last axis, MatMul (not the composite)',
    inputs: [{ shape: [1, 2, 3, 4] }, { shape: [1, 2, 2, 5] }],
    build: (b, x) => [b.op1('MatMul', [b.op1('Reshape', [b.op1('Softmax', [x[0]], { axis: attr.i(-1) }), ints(b, [1, 2, 6, 2])]), x[1]])],
  },
  { title: 'Softmax broadcast by MatMul(P, V) (not the composite)', inputs: [{ shape: [1, 3, 4] }, { shape: [2, 4, 5] }], build: (b, x) => [b.op1('MatMul', [b.op1('Softmax', [x[0]], { axis: attr.i(-1) }), x[1]])] },
  { title: 'Softmax over axis 1 then MatMul (not the composite)', inputs: [{ shape: [2, 3, 4] }, { shape: [2, 4, 5] }], build: (b, x) => [b.op1('MatMul', [b.op1('Softmax', [x[0]], { axis: attr.i(1) }), x[1]])] },
  {
    title: 'Clip with min and max inputs',
    inputs: [{ shape: [3, 4], values: awayFrom(12, [-0.5, 0.7], 0.05, 7) }],
    build: single('Clip', {}, (b, d) => [floatConst(b, d, [], [-0.5]), floatConst(b, d, [], [0.7])]),
  },
  {
    title: 'Clip with max only',
    inputs: [{ shape: [3, 4], values: awayFrom(12, [0.7], 0.05, 11) }],
    build: single('Clip', {}, (b, d) => ['', floatConst(b, d, [], [0.7])]),
  },
  {
    title: 'Dropout (inference mode)',
    inputs: [{ shape: [2, 3] }],
    build: (b, x, d) => [b.op('Dropout', [x[0], floatConst(b, d, [], [0.3])], {}, { outputs: 1 })[0]],
  },

  // --- matrix products ------------------------------------------------------------------
  ...([
    [[3, 4], [4, 5]], [[2, 3, 4], [2, 4, 5]], [[2, 3, 4], [4, 5]], [[2, 1, 3, 4], [3, 4, 2]],
    [[4], [4, 5]], [[3, 4], [4]], [[4], [4]], [[2, 3, 4], [4]], [[4], [2, 4, 3]],
  ] as [number[], number[]][]).map(([a, bb]): GradCase => ({
    title: `MatMul ${JSON.stringify(a)} x ${JSON.stringify(bb)}`, inputs: [{ shape: a }, { shape: bb }], build: single('MatMul'),
  })),
  ...([[0, 0], [1, 0], [0, 1], [1, 1]] as const).flatMap(([ta, tb]) => ([[4], [3, 1], [], [3, 4]] as number[][]).map((cShape): GradCase => ({
    title: `Gemm transA=${ta} transB=${tb} C${JSON.stringify(cShape)}`,
    inputs: [{ shape: ta ? [2, 3] : [3, 2] }, { shape: tb ? [4, 2] : [2, 4] }, { shape: cShape }],
    build: single('Gemm', { transA: attr.i(ta), transB: attr.i(tb), alpha: attr.f(0.7), beta: attr.f(1.3) }),
  }))),
  ...([
    ['ij,jk->ik', [[2, 3], [3, 4]]], ['bij,bjk->bik', [[2, 2, 3], [2, 3, 2]]], ['ij->j', [[3, 4]]], ['ij,j->i', [[2, 3], [3]]],
    ['i,j->ij', [[3], [2]]], ['bhqd,bhkd->bhqk', [[1, 2, 3, 2], [1, 2, 4, 2]]], ['ij,kj', [[2, 3], [4, 3]]],
  ] as [string, number[][]][]).map(([eq, shapes]): GradCase => ({
    title: `Einsum ${eq}`, inputs: shapes.map((shape) => ({ shape })), build: single('Einsum', { equation: attr.s(eq) }),
  })),
  { title: 'Gemm without C', inputs: [{ shape: [3, 2] }, { shape: [4, 2] }], build: single('Gemm', { transB: attr.i(1) }) },

  // --- reductions -----------------------------------------------------------------------
  { title: 'ReduceSum axis 1 keepdims 0', inputs: [{ shape: [2, 3, 4] }], build: (b, x) => [b.op1('ReduceSum', [x[0], ints(b, [1])], { keepdims: attr.i(0) })] },
  { title: 'ReduceSum all axes', inputs: [{ shape: [2, 3] }], build: (b, x) => [b.op1('ReduceSum', [x[0]])] },
  { title: 'ReduceMean axis -1 keepdims 1', inputs: [{ shape: [2, 3, 4] }], build: (b, x) => [b.op1('ReduceMean', [x[0]], { axes: attr.ints([-1]) })] },
  { title: 'ReduceMean axes [0,2] opset 18', opset: 18, inputs: [{ shape: [2, 3, 4] }], build: (b, x) => [b.op1('ReduceMean', [x[0], ints(b, [0, 2])], { keepdims: attr.i(0) })] },
  { title: 'ReduceSumSquare axis 0', inputs: [{ shape: [3, 2] }], build: (b, x) => [b.op1('ReduceSumSquare', [x[0]], { axes: attr.ints([0]) })] },
  { title: 'ReduceL2 axis 1', inputs: [{ shape: [2, 3], kind: 'away0' }], build: (b, x) => [b.op1('ReduceL2', [x[0]], { axes: attr.ints([1]), keepdims: attr.i(0) })] },
  { title: 'ReduceLogSumExp axis 1', inputs: [{ shape: [2, 4] }], build: (b, x) => [b.op1('ReduceLogSumExp', [x[0]], { axes: attr.ints([1]) })] },
  { title: 'ReduceMax axis 1', inputs: [{ shape: [3, 4] }], build: (b, x) => [b.op1('ReduceMax', [x[0]], { axes: attr.ints([1]) })] },
  { title: 'ReduceMin all', inputs: [{ shape: [3, 4] }], build: (b, x) => [b.op1('ReduceMin', [x[0]], { keepdims: attr.i(0) })] },
  { title: 'CumSum axis 1', inputs: [{ shape: [2, 4] }], build: (b, x) => [b.op1('CumSum', [x[0], ints(b, [1], true)])] },
  { title: 'CumSum reverse exclusive', inputs: [{ shape: [2, 4] }], build: (b, x) => [b.op1('CumSum', [x[0], ints(b, [1], true)], { reverse: attr.i(1), exclusive: attr.i(1) })] },

  // --- normalisation --------------------------------------------------------------------
  {
    title: 'LayerNormalization axis -1 (scale, bias)',
    inputs: [{ shape: [2, 3, 5] }, { shape: [5] }, { shape: [5] }],
    build: (b, x) => [b.op1('LayerNormalization', x, { axis: attr.i(-1), epsilon: attr.f(1e-5) })],
  },
  {
    title: 'LayerNormalization axis 1 without bias',
    inputs: [{ shape: [2, 3, 4] }, { shape: [3, 4] }],
    build: (b, x) => [b.op1('LayerNormalization', x, { axis: attr.i(1) })],
  },
  {
    title: 'LayerNorm decomposed into primitives (torch<1.13 exports)',
    inputs: [{ shape: [2, 6] }, { shape: [6] }, { shape: [6] }],
    build: (b, x, d) => {
      const mean = b.op1('ReduceMean', [x[0]], { axes: attr.ints([-1]) });
      const xc = b.op1('Sub', [x[0], mean]);
      const v = b.op1('ReduceMean', [b.op1('Pow', [xc, floatConst(b, d, [], [2])])], { axes: attr.ints([-1]) });
      const std = b.op1('Sqrt', [b.op1('Add', [v, floatConst(b, d, [], [1e-5])])]);
      return [b.op1('Add', [b.op1('Mul', [b.op1('Div', [xc, std]), x[1]]), x[2]])];
    },
  },

  // --- data movement --------------------------------------------------------------------
  { title: 'Reshape', inputs: [{ shape: [2, 3, 4] }], build: (b, x) => [b.op1('Reshape', [x[0], ints(b, [6, -1])])] },
  { title: 'Flatten axis 2', inputs: [{ shape: [2, 3, 2] }], build: single('Flatten', { axis: attr.i(2) }) },
  { title: 'Squeeze', inputs: [{ shape: [2, 1, 3] }], build: (b, x) => [b.op1('Squeeze', [x[0], ints(b, [1])])] },
  { title: 'Unsqueeze', inputs: [{ shape: [2, 3] }], build: (b, x) => [b.op1('Unsqueeze', [x[0], ints(b, [0, 3])])] },
  { title: 'Transpose perm [2,0,1]', inputs: [{ shape: [2, 3, 4] }], build: single('Transpose', { perm: attr.ints([2, 0, 1]) }) },
  { title: 'Transpose default (reverse)', inputs: [{ shape: [2, 3, 4] }], build: single('Transpose') },
  { title: 'Concat axis 1', inputs: [{ shape: [2, 1] }, { shape: [2, 3] }, { shape: [2, 2] }], build: single('Concat', { axis: attr.i(1) }) },
  {
    title: 'Split into 3 (one output unused)',
    inputs: [{ shape: [2, 4] }],
    build: (b, x) => {
      const [p, , r] = b.op('Split', [x[0], ints(b, [1, 2, 1])], { axis: attr.i(1) }, { outputs: 3 });
      return [p, r];
    },
  },
  { title: 'Expand [3,1] -> [2,3,4]', inputs: [{ shape: [3, 1] }], build: (b, x) => [b.op1('Expand', [x[0], ints(b, [2, 3, 4])])] },
  { title: 'Tile [2,3] by [2,1]', inputs: [{ shape: [2, 3] }], build: (b, x) => [b.op1('Tile', [x[0], ints(b, [2, 1])])] },
  { title: 'Pad constant', inputs: [{ shape: [2, 3] }], build: (b, x) => [b.op1('Pad', [x[0], ints(b, [1, 0, 0, 2])])] },
  {
    // float32 input, computed in float64 inside (a Cast each way).
    title: 'Cast float32 -> float64 -> float32',
    float32: true,
    inputs: [{ shape: [2, 3] }],
    build: (b, x) => {
      const f = b.op1('Cast', [x[0]], { to: attr.i(11) });
      return [b.op1('Cast', [b.op1('Mul', [f, b.op1('Sin', [f])])], { to: attr.i(1) })];
    },
  },

  // --- indexing -------------------------------------------------------------------------
  {
    title: 'Gather axis 0 (embedding, repeated and negative indices)',
    inputs: [{ shape: [5, 3] }],
    build: (b, x) => {
      const idx = b.constant({ name: 'idx', dtype: 'int64', dims: [2, 3], data: BigInt64Array.from([1n, 4n, 1n, -1n, 0n, 2n]) });
      return [b.op1('Gather', [x[0], idx], { axis: attr.i(0) })];
    },
  },
  { title: 'Gather axis 1', inputs: [{ shape: [2, 4, 3] }], build: (b, x) => [b.op1('Gather', [x[0], ints(b, [3, 0, 3])], { axis: attr.i(1) })] },
  { title: 'Gather scalar index axis 2', inputs: [{ shape: [2, 3, 4] }], build: (b, x) => [b.op1('Gather', [x[0], ints(b, [-2], true)], { axis: attr.i(2) })] },
  {
    title: 'GatherElements axis 1',
    inputs: [{ shape: [2, 4] }],
    build: (b, x) => [b.op1('GatherElements', [x[0], b.constant({ name: 'idx', dtype: 'int64', dims: [2, 3], data: BigInt64Array.from([0n, 3n, 3n, 1n, -1n, 2n]) })], { axis: attr.i(1) })],
  },
  {
    title: 'GatherND (index pairs, one negative)',
    inputs: [{ shape: [3, 4, 2] }],
    build: (b, x) => [b.op1('GatherND', [x[0], b.constant({ name: 'idx', dtype: 'int64', dims: [2, 2], data: BigInt64Array.from([0n, 3n, -1n, 1n]) })])],
  },
  {
    title: 'ScatterND (data and updates)',
    inputs: [{ shape: [4, 3] }, { shape: [2, 3] }],
    build: (b, x) => [b.op1('ScatterND', [x[0], b.constant({ name: 'idx', dtype: 'int64', dims: [2, 1], data: BigInt64Array.from([2n, 0n]) }), x[1]])],
  },
  {
    title: 'ScatterND reduction add',
    inputs: [{ shape: [4, 3] }, { shape: [3, 3] }],
    build: (b, x) => [b.op1('ScatterND', [x[0], b.constant({ name: 'idx', dtype: 'int64', dims: [3, 1], data: BigInt64Array.from([2n, 0n, 2n]) }), x[1]], { reduction: attr.s('add') })],
  },
  {
    title: 'ScatterElements axis 1',
    inputs: [{ shape: [2, 4] }, { shape: [2, 2] }],
    build: (b, x) => [b.op1('ScatterElements', [x[0], b.constant({ name: 'idx', dtype: 'int64', dims: [2, 2], data: BigInt64Array.from([3n, 0n, 1n, 2n]) }), x[1]], { axis: attr.i(1) })],
  },
  { title: 'Slice unit steps, negative start', inputs: [{ shape: [3, 5] }], build: (b, x) => [b.op1('Slice', [x[0], ints(b, [1, -4]), ints(b, [3, 4]), ints(b, [0, 1])])] },
  { title: 'Slice step 2 and step -1', inputs: [{ shape: [4, 5] }], build: (b, x) => [b.op1('Slice', [x[0], ints(b, [0, 4]), ints(b, [4, -10]), ints(b, [0, 1]), ints(b, [2, -1])])] },
  {
    title: 'Where [2,1,4] ? [3,1] : [4]',
    inputs: [{ shape: [3, 1] }, { shape: [4] }],
    build: (b, x) => [b.op1('Where', [boolConst(b, [2, 1, 4], [1, 0, 0, 1, 0, 1, 1, 0]), x[0], x[1]])],
  },
  { title: 'Trilu upper k=1', inputs: [{ shape: [2, 3, 4] }], build: (b, x) => [b.op1('Trilu', [x[0], ints(b, [1], true)])] },
  { title: 'Trilu lower', inputs: [{ shape: [3, 3] }], build: single('Trilu', { upper: attr.i(0) }) },
];

export type { InputSpec };
