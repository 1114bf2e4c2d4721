// End to end against torch autograd: gradients from buildGradients, run in float32 by
// onnxruntime, against torch in float64 on the same float32 values (relative error <= 1e-4).
import { strict as assert } from 'assert';
import { buildGradients } from '../../native-runtime/autodiff';
import type { Model, Tensor } from '../../native-runtime/onnx/ir';
import { attr, emptyGraph, GraphBuilder, tensorSize } from '../../native-runtime/onnx/ir';
import { loadModel } from '../../native-runtime/onnx/proto';
import { specialize } from '../../native-runtime/onnx/specialize';
import { randomArray, rng, runModel, tensor, toNumbers } from './helpers/ort';
import { exportTinyBert, runPython } from './helpers/python';

function relErr(a: number[], b: number[]): number {
  let num = 0;
  let den = 0;
  a.forEach((v, i) => { num += (v - b[i]) ** 2; den += b[i] ** 2; });
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

function transpose2d(data: number[], rows: number, cols: number): number[] {
  const out = new Array<number>(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/** Appends Identity outputs for gradients and returns their names by wrt name. */
function exposeGradients(model: Model, grads: Map<string, string>): Map<string, string> {
  const b = new GraphBuilder(model.graph);
  const out = new Map<string, string>();
  for (const [w, g] of grads) {
    const name = b.op1('Identity', [g], {}, `grad/${w}`);
    model.graph.outputs.push({ name, dtype: 'float32' });
    out.set(w, name);
  }
  return out;
}

// A pre-LN transformer block (2 heads, causal mask, Erf GELU MLP) and an MSE loss, built with
// GraphBuilder; the same computation is written in torch below.
const B = 2, T = 4, D = 8, H = 2, F = 16;
const PARAM_SHAPES: Record<string, number[]> = {
  ln1_g: [D], ln1_b: [D], wq: [D, D], bq: [D], wk: [D, D], wv: [D, D], wo: [D, D], bo: [D],
  ln2_g: [D], w1: [D, F], b1: [F], w2: [F, D], b2: [D],
};

function blockModel(params: Record<string, number[]>, target: number[]): { model: Model; loss: string } {
  const g = emptyGraph('block');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [B, T, D] });
  const b = new GraphBuilder(g);
  for (const [n, shape] of Object.entries(PARAM_SHAPES)) g.initializers.set(n, { name: n, dtype: 'float32', dims: shape, data: Float32Array.from(params[n]) });
  const f = (v: number) => b.constFloat(v);
  const heads = (x: string) => b.op1('Transpose', [b.op1('Reshape', [x, b.constInt64([B, T, H, D / H])])], { perm: attr.ints([0, 2, 1, 3]) });
  const h = b.op1('LayerNormalization', ['x', 'ln1_g', 'ln1_b'], { axis: attr.i(-1), epsilon: attr.f(1e-5) });
  const q = heads(b.op1('Add', [b.op1('MatMul', [h, 'wq']), 'bq']));
  const k = heads(b.op1('MatMul', [h, 'wk']));
  const v = heads(b.op1('MatMul', [h, 'wv']));
  const kt = b.op1('Transpose', [k], { perm: attr.ints([0, 1, 3, 2]) });
  const scores = b.op1('Mul', [b.op1('MatMul', [q, kt]), f(1 / Math.sqrt(D / H))]);
  const causal = b.constant({ name: 'causal', dtype: 'bool', dims: [T, T], data: Uint8Array.from({ length: T * T }, (_, i) => (i % T <= Math.floor(i / T) ? 1 : 0)) });
  const masked = b.op1('Where', [causal, scores, f(-1e9)]);
  const p = b.op1('Softmax', [masked], { axis: attr.i(-1) });
  const ctx = b.op1('Reshape', [b.op1('Transpose', [b.op1('MatMul', [p, v])], { perm: attr.ints([0, 2, 1, 3]) }), b.constInt64([B, T, D])]);
  const x1 = b.op1('Add', ['x', b.op1('Add', [b.op1('MatMul', [ctx, 'wo']), 'bo'])]);
  const h2 = b.op1('LayerNormalization', [x1, 'ln2_g'], { axis: attr.i(-1), epsilon: attr.f(1e-5) });
  const u = b.op1('Add', [b.op1('MatMul', [h2, 'w1']), 'b1']);
  const gelu = b.op1('Mul', [b.op1('Mul', [u, f(0.5)]), b.op1('Add', [f(1), b.op1('Erf', [b.op1('Div', [u, f(Math.SQRT2)])])])]);
  const y = b.op1('Add', [x1, b.op1('Add', [b.op1('MatMul', [gelu, 'w2']), 'b2'])]);
  const t = b.constFloat(target, 'target', [B, T, D]);
  const diff = b.op1('Sub', [y, t]);
  const loss = b.op1('ReduceMean', [b.op1('Mul', [diff, diff])], { keepdims: attr.i(0) });
  g.outputs.push({ name: loss, dtype: 'float32' });
  return { model: { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 'test', metadata: {} }, loss };
}

const TORCH_BLOCK = `
import json, sys, math
import torch
torch.set_default_dtype(torch.float64)
inp = json.load(sys.stdin)
B, T, D, H = inp['dims']
P = {k: torch.tensor(v['data']).reshape(v['shape']).requires_grad_() for k, v in inp['params'].items()}
x = torch.tensor(inp['x']).reshape(B, T, D).requires_grad_()
target = torch.tensor(inp['target']).reshape(B, T, D)
def heads(z): return z.reshape(B, T, H, D // H).transpose(1, 2)
h = torch.nn.functional.layer_norm(x, (D,), P['ln1_g'], P['ln1_b'], 1e-5)
q, k, v = heads(h @ P['wq'] + P['bq']), heads(h @ P['wk']), heads(h @ P['wv'])
s = (q @ k.transpose(-1, -2)) * (1 / math.sqrt(D // H))
causal = torch.ones(T, T).tril().bool()
p = torch.where(causal, s, torch.tensor(-1e9)).softmax(-1)
ctx = (p @ v).transpose(1, 2).reshape(B, T, D)
x1 = x + ctx @ P['wo'] + P['bo']
h2 = torch.nn.functional.layer_norm(x1, (D,), P['ln2_g'], None, 1e-5)
u = h2 @ P['w1'] + P['b1']
y = x1 + (0.5 * u * (1 + torch.erf(u / math.sqrt(2)))) @ P['w2'] + P['b2']
loss = ((y - target) ** 2).mean()
loss.backward()
out = {k: t.grad.flatten().tolist() for k, t in P.items()}
out['x'] = x.grad.flatten().tolist()
out['loss'] = loss.item()
print(json.dumps(out))
`;

describe('autodiff: against torch autograd', function () {
  this.timeout(60000);

  it('a transformer block (attention + MLP) built with GraphBuilder', async () => {
    const r = rng(42);
    const params: Record<string, number[]> = {};
    for (const [n, shape] of Object.entries(PARAM_SHAPES)) {
      const size = tensorSize(shape);
      params[n] = Array.from(Float32Array.from(n.endsWith('_g') ? randomArray(size, r, 0.5, 1.5) : randomArray(size, r, -0.5, 0.5)));
    }
    const x = Array.from(Float32Array.from(randomArray(B * T * D, r)));
    const target = Array.from(Float32Array.from(randomArray(B * T * D, r)));
    const { model, loss } = blockModel(params, target);
    const spec = await specialize(model, { x: [B, T, D] });
    const wrt = [...Object.keys(PARAM_SHAPES), 'x'];
    const outs = exposeGradients(spec, buildGradients(spec.graph, loss, wrt));
    const got = await runModel(spec, { x: tensor('float32', x, [B, T, D]) });

    const torchInp = { dims: [B, T, D, H], x, target, params: Object.fromEntries(Object.entries(params).map(([n, d]) => [n, { shape: PARAM_SHAPES[n], data: d }])) };
    const ref = JSON.parse(await runPython(['-c', TORCH_BLOCK], JSON.stringify(torchInp))) as Record<string, number[] | number>;
    assert.ok(Math.abs(toNumbers(got[loss])[0] - (ref.loss as number)) < 1e-5 * Math.abs(ref.loss as number) + 1e-7);
    for (const w of wrt) {
      const e = relErr(toNumbers(got[outs.get(w)!]), ref[w] as number[]);
      assert.ok(e <= 1e-4, `gradient of ${w}: relative error ${e.toExponential(2)} vs torch`);
    }
  });

  it('a torch-exported tiny BERT: every parameter, through Gather/Where/Erf/LayerNorm/Gemm', async () => {
    const { onnxPath, oracle } = await exportTinyBert();
    const model = loadModel(onnxPath);
    const b = new GraphBuilder(model.graph);
    const w = b.constFloat(oracle.w, 'loss_w', oracle.shape.length ? [oracle.shape[0], 3] : []);
    const loss = b.op1('ReduceSum', [b.op1('Mul', ['logits', w])], { keepdims: attr.i(0) }, 'loss');
    model.graph.outputs = [{ name: loss, dtype: 'float32' }];
    const spec = await specialize(model, { input_ids: oracle.shape, attention_mask: oracle.shape });

    // Match torch parameters to initializers: by name, or (pre-transposed MatMul weights) by value.
    const inits = [...spec.graph.initializers.values()].filter((t) => t.dtype === 'float32' && t.name !== w);
    const sameData = (t: Tensor, data: number[]) => (t.data as Float32Array).every((v, i) => v === Math.fround(data[i]));
    const matches: { param: string; init: string; transposed: boolean }[] = [];
    for (const [name, p] of Object.entries(oracle.params)) {
      const byName = spec.graph.initializers.get(name);
      if (byName) { matches.push({ param: name, init: name, transposed: false }); continue; }
      const t = p.shape.length === 2 ? transpose2d(p.data, p.shape[0], p.shape[1]) : p.data;
      const found = inits.find((i) => tensorSize(i.dims) === t.length && sameData(i, t));
      assert.ok(found, `no initializer holds torch parameter ${name}`);
      matches.push({ param: name, init: found.name, transposed: p.shape.length === 2 });
    }
    assert.equal(matches.length, Object.keys(oracle.params).length);

    const outs = exposeGradients(spec, buildGradients(spec.graph, loss, matches.map((m) => m.init)));
    const feeds = { input_ids: tensor('int64', oracle.input_ids, oracle.shape), attention_mask: tensor('int64', oracle.attention_mask, oracle.shape) };
    const got = await runModel(spec, feeds);
    for (const m of matches) {
      const p = oracle.params[m.param];
      const ref = m.transposed ? transpose2d(p.grad, p.shape[0], p.shape[1]) : p.grad;
      const a = toNumbers(got[outs.get(m.init)!]);
      // block.k.bias has an exactly zero gradient (softmax ignores a per-row constant):
      // there only the absolute error means anything.
      const norm = Math.sqrt(ref.reduce((acc, v) => acc + v * v, 0));
      if (norm < 1e-8) {
        assert.ok(Math.max(...a.map(Math.abs)) < 1e-6, `gradient of ${m.param} should be ~0: ${a.slice(0, 4)}`);
        continue;
      }
      const e = relErr(a, ref);
      assert.ok(e <= 1e-4, `gradient of ${m.param} (${m.init}): relative error ${e.toExponential(2)} vs torch`);
    }
  });
});
