// The walker differentiates an exported exact GELU (Div, Erf, Add, Mul, Mul, in either of the
// two spellings exporters use) as one Gelu: the gradient is GELU's derivative, computed from x
// alone (none of the intermediates is read by a gradient node), and the pattern is left alone
// when an intermediate has another reader.
import { strict as assert } from 'assert';
import { buildGradients } from '../../native-runtime/autodiff';
import { findGeluComposites, findRmsNormComposites, findSiluComposites, findSoftmaxProductComposites } from '../../native-runtime/autodiff/composites';
import type { Model } from '../../native-runtime/onnx/ir';
import { attr, emptyGraph, GraphBuilder } from '../../native-runtime/onnx/ir';
import { randomArray, rng, runModel, tensor, toNumbers } from './helpers/ort';

/** loss = sum(w * gelu(x)) with gelu spelled as `form`; optionally another reader of erf(u). */
function geluModel(form: 'x*a*0.5' | 'x*0.5*a', extraReader = false): { model: Model; intermediates: string[]; loss: string } {
  const g = emptyGraph('gelu');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [3, 4] }, { name: 'w', dtype: 'float32', shape: [3, 4] });
  const b = new GraphBuilder(g);
  const u = b.op1('Div', ['x', b.constFloat(Math.SQRT2, 'sqrt2')]);
  const e = b.op1('Erf', [u]);
  const a = b.op1('Add', [e, b.constFloat(1, 'one')]);
  const intermediates = [u, e, a];
  let y: string;
  if (form === 'x*a*0.5') {
    const m = b.op1('Mul', ['x', a]);
    intermediates.push(m);
    y = b.op1('Mul', [m, b.constFloat(0.5, 'half')]);
  } else {
    const h = b.op1('Mul', ['x', b.constFloat(0.5, 'half')]);
    intermediates.push(h);
    y = b.op1('Mul', [h, a]);
  }
  let z = b.op1('Mul', [y, 'w']);
  if (extraReader) z = b.op1('Add', [z, e]);
  const loss = b.op1('ReduceSum', [z], { keepdims: attr.i(0) });
  g.outputs.push({ name: loss, dtype: 'float32' });
  for (const [name, shape] of [[u, [3, 4]], [e, [3, 4]], [a, [3, 4]], [intermediates[3], [3, 4]], [y, [3, 4]], [z, [3, 4]]] as const) {
    g.valueInfo.set(name, { name, dtype: 'float32', shape: [...shape] });
  }
  g.valueInfo.set(loss, { name: loss, dtype: 'float32', shape: [] });
  return { model: { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 't', metadata: {} }, intermediates, loss };
}

function erfApprox(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse for 1e-5; integrate instead (Simpson, 2000 steps).
  const n = 2000, h = x / n;
  let s = 0;
  for (let i = 0; i <= n; i++) s += (i === 0 || i === n ? 1 : i % 2 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return (2 / Math.sqrt(Math.PI)) * (h / 3) * s;
}

const geluPrime = (x: number) => 0.5 * (1 + erfApprox(x / Math.SQRT2)) + x * Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);

describe('autodiff: composite GELU', () => {
  for (const form of ['x*a*0.5', 'x*0.5*a'] as const) {
    it(`differentiates ${form} as one Gelu, from x alone`, async () => {
      const { model, intermediates, loss } = geluModel(form);
      assert.equal(findGeluComposites(model.graph).length, 1);
      const before = model.graph.nodes.length;
      const grads = buildGradients(model.graph, loss, ['x']);
      const added = model.graph.nodes.slice(before);
      for (const v of intermediates) assert.ok(!added.some((n) => n.inputs.includes(v)), `gradient nodes read the intermediate ${v}`);
      const out = 'dx';
      model.graph.nodes.push({ name: 'expose', opType: 'Identity', domain: '', inputs: [grads.get('x')!], outputs: [out], attrs: {} });
      model.graph.outputs.push({ name: out, dtype: 'float32' });
      const xs = randomArray(12, rng(4)).map((v) => 3 * v);
      const ws = randomArray(12, rng(5));
      const got = toNumbers((await runModel(model, { x: tensor('float32', xs, [3, 4]), w: tensor('float32', ws, [3, 4]) }, [out]))[out]);
      xs.forEach((x, i) => assert.ok(Math.abs(got[i] - ws[i] * geluPrime(x)) < 1e-5, `element ${i}: ${got[i]} vs ${ws[i] * geluPrime(x)}`));
    });
  }

  it('leaves the nodes alone when an intermediate has another reader', () => {
    const { model } = geluModel('x*a*0.5', true);
    assert.equal(findGeluComposites(model.graph).length, 0);
  });
});

/** loss = sum(w * Where(IsNaN(softmax(x)), 0, softmax(x))), the attention probabilities of transformers' SDPA export. */
function safeSoftmaxModel(): { model: Model; y: string; mask: string; loss: string } {
  const g = emptyGraph('safe_softmax');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [3, 4] }, { name: 'w', dtype: 'float32', shape: [3, 4] });
  const b = new GraphBuilder(g);
  const y = b.op1('Softmax', ['x'], { axis: attr.i(-1) });
  const mask = b.op1('IsNaN', [y]);
  const z = b.op1('Where', [mask, b.constFloat(0, 'zero'), y]);
  const m = b.op1('Mul', [z, 'w']);
  const loss = b.op1('ReduceSum', [m], { keepdims: attr.i(0) });
  g.outputs.push({ name: loss, dtype: 'float32' });
  for (const name of [y, z, m]) g.valueInfo.set(name, { name, dtype: 'float32', shape: [3, 4] });
  g.valueInfo.set(mask, { name: mask, dtype: 'bool', shape: [3, 4] });
  g.valueInfo.set(loss, { name: loss, dtype: 'float32', shape: [] });
  return { model: { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 't', metadata: {} }, y, mask, loss };
}

describe('autodiff: composite Softmax + Where(IsNaN)', () => {
  it('differentiates it as one Softmax whose output is the Where: reads neither the raw probabilities nor the mask; a NaN row gets 0', async () => {
    const { model, y, mask, loss } = safeSoftmaxModel();
    const before = model.graph.nodes.length;
    const grads = buildGradients(model.graph, loss, ['x']);
    const added = model.graph.nodes.slice(before);
    for (const v of [y, mask]) assert.ok(!added.some((n) => n.inputs.includes(v)), `gradient nodes read ${v}`);
    model.graph.nodes.push({ name: 'expose', opType: 'Identity', domain: '', inputs: [grads.get('x')!], outputs: ['dx'], attrs: {} });
    model.graph.outputs.push({ name: 'dx', dtype: 'float32' });
    const xs = randomArray(12, rng(6)).map((v) => 3 * v);
    for (let k = 8; k < 12; k++) xs[k] = -Infinity; // row 2 fully masked: softmax is NaN there
    const ws = randomArray(12, rng(7));
    const got = toNumbers((await runModel(model, { x: tensor('float32', xs, [3, 4]), w: tensor('float32', ws, [3, 4]) }, ['dx'])).dx);
    for (let r = 0; r < 3; r++) {
      const row = xs.slice(4 * r, 4 * r + 4);
      const mx = Math.max(...row);
      const e = row.map((v) => Math.exp(v - mx));
      const s = e.reduce((a, v) => a + v, 0);
      const z = e.map((v) => (Number.isNaN(v / s) ? 0 : v / s));
      const wz = z.reduce((a, v, k) => a + v * ws[4 * r + k], 0);
      for (let k = 0; k < 4; k++) {
        const want = z[k] * (ws[4 * r + k] - wz);
        assert.ok(Math.abs(got[4 * r + k] - want) < 1e-6, `row ${r} col ${k}: ${got[4 * r + k]} vs ${want}`);
      }
    }
  });
});

/** loss = sum(w * x * Sigmoid(x)) (either operand order); optionally another reader of the Sigmoid. */
function siluModel(sigmoidFirst: boolean, extraReader = false): { model: Model; s: string; loss: string } {
  const g = emptyGraph('silu');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [3, 4] }, { name: 'w', dtype: 'float32', shape: [3, 4] });
  const b = new GraphBuilder(g);
  const s = b.op1('Sigmoid', ['x']);
  const y = b.op1('Mul', sigmoidFirst ? [s, 'x'] : ['x', s]);
  const wy = b.op1('Mul', [y, 'w']);
  const z = extraReader ? b.op1('Add', [wy, s]) : wy;
  const loss = b.op1('ReduceSum', [z], { keepdims: attr.i(0) });
  g.outputs.push({ name: loss, dtype: 'float32' });
  for (const name of [s, y, wy, z]) g.valueInfo.set(name, { name, dtype: 'float32', shape: [3, 4] });
  g.valueInfo.set(loss, { name: loss, dtype: 'float32', shape: [] });
  return { model: { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 't', metadata: {} }, s, loss };
}

async function siluGradient(model: Model, loss: string, xs: number[], ws: number[]): Promise<{ got: number[]; added: Model['graph']['nodes'] }> {
  const before = model.graph.nodes.length;
  const grads = buildGradients(model.graph, loss, ['x']);
  const added = model.graph.nodes.slice(before);
  model.graph.nodes.push({ name: 'expose', opType: 'Identity', domain: '', inputs: [grads.get('x')!], outputs: ['dx'], attrs: {} });
  model.graph.outputs.push({ name: 'dx', dtype: 'float32' });
  const got = toNumbers((await runModel(model, { x: tensor('float32', xs, [3, 4]), w: tensor('float32', ws, [3, 4]) }, ['dx'])).dx);
  return { got, added };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const siluPrime = (x: number) => sigmoid(x) * (1 + x * (1 - sigmoid(x)));

describe('autodiff: composite SiLU (x * Sigmoid(x))', () => {
  const xs = randomArray(12, rng(8)).map((v) => 6 * v);
  const ws = randomArray(12, rng(9));
  for (const sigmoidFirst of [false, true]) {
    it(`differentiates ${sigmoidFirst ? 'Sigmoid(x) * x' : 'x * Sigmoid(x)'} as one op: four gradient nodes, none reading x`, async () => {
      const { model, loss } = siluModel(sigmoidFirst);
      assert.equal(findSiluComposites(model.graph).length, 1);
      const { got, added } = await siluGradient(model, loss, xs, ws);
      // dy (s + y (1 - s)); node by node it was Mul's two products, Sigmoid's Sub/Mul/Mul and a Sum.
      assert.deepEqual(added.filter((n) => n.name.includes('/silu_grad/')).map((n) => n.opType).sort(), ['Add', 'Mul', 'Mul', 'Sub']);
      assert.ok(!added.some((n) => n.opType === 'Sum'), 'the two paths into x are still summed');
      assert.ok(!added.some((n) => n.inputs.includes('x')), 'a gradient node reads x');
      xs.forEach((x, i) => assert.ok(Math.abs(got[i] - ws[i] * siluPrime(x)) < 1e-6, `element ${i}: ${got[i]} vs ${ws[i] * siluPrime(x)}`));
    });
  }

  it('leaves the nodes alone when the Sigmoid has another reader (its own gradient is then needed)', async () => {
    const { model, loss } = siluModel(false, true);
    assert.equal(findSiluComposites(model.graph).length, 0);
    const { got } = await siluGradient(model, loss, xs, ws);
    // d/dx of w x s + s = w silu'(x) + s (1 - s).
    xs.forEach((x, i) => {
      const want = ws[i] * siluPrime(x) + sigmoid(x) * (1 - sigmoid(x));
      assert.ok(Math.abs(got[i] - want) < 1e-6, `element ${i}: ${got[i]} vs ${want}`);
    });
  });
});

type ProductForm = 'plain' | 'cast' | 'safe' | 'broadcast' | 'second reader' | 'axis 2' | 'rows reshaped' | 'last axis reshaped';

/** loss = sum(w * MatMul(P, V)), P = Softmax(x) spelled as `form`; x [1, 2, 3, 4] (V [1, 2, 4, 2]). */
function softmaxProductModel(form: ProductForm): { model: Model; p: string; loss: string } {
  const g = emptyGraph('softmax_product');
  const xShape = form === 'broadcast' ? [1, 1, 3, 4] : [1, 2, 3, 4];
  // 'rows reshaped': the two heads' rows as one head of 6 rows, read against one head of v.
  const grouped = form === 'rows reshaped';
  const vShape = grouped ? [1, 1, 4, 2] : [1, 2, 4, 2];
  const oShape = grouped ? [1, 1, 6, 2] : [1, 2, 3, 2];
  g.inputs.push({ name: 'x', dtype: 'float32', shape: xShape }, { name: 'v', dtype: 'float32', shape: vShape }, { name: 'w', dtype: 'float32', shape: oShape });
  const b = new GraphBuilder(g);
  const info = (name: string, shape: number[], dtype: 'float32' | 'bool' = 'float32') => g.valueInfo.set(name, { name, dtype, shape });
  const p = b.op1('Softmax', ['x'], { axis: attr.i(form === 'axis 2' ? 2 : -1) });
  info(p, xShape);
  let a = p;
  if (form === 'safe') {
    const nan = b.op1('IsNaN', [p]);
    info(nan, xShape, 'bool');
    a = b.op1('Where', [nan, b.constFloat(0, 'zero'), p]);
    info(a, xShape);
  } else if (form === 'cast') {
    a = b.op1('Cast', [p], { to: attr.i(1) });
    info(a, xShape);
  } else if (form === 'rows reshaped' || form === 'last axis reshaped') {
    const to = grouped ? [1, 1, 6, 4] : [1, 2, 6, 2];
    a = b.op1('Reshape', [p, b.constInt64(to)]);
    info(a, to);
  }
  const o = b.op1('MatMul', [a, 'v']);
  info(o, oShape);
  let m = b.op1('Mul', [o, 'w']);
  info(m, oShape);
  if (form === 'second reader') {
    const s = b.op1('ReduceSum', [p, b.constInt64([-1])], { keepdims: attr.i(0) });
    info(s, [1, 2, 3]);
    const t = b.op1('Unsqueeze', [s, b.constInt64([-1])]);
    info(t, [1, 2, 3, 1]);
    m = b.op1('Add', [m, t]);
    info(m, [1, 2, 3, 2]);
  }
  const loss = b.op1('ReduceSum', [m], { keepdims: attr.i(0) });
  g.outputs.push({ name: loss, dtype: 'float32' });
  info(loss, []);
  return { model: { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 't', metadata: {} }, p, loss };
}

describe('autodiff: Softmax read by MatMul(P, V) (row sums from the output)', () => {
  for (const [form, want] of [['plain', 1], ['cast', 1], ['safe', 1], ['rows reshaped', 1], ['broadcast', 0], ['second reader', 0], ['axis 2', 0], ['last axis reshaped', 0]] as const) {
    it(`${form}: ${want ? 'differentiated as one op' : 'left to the node rules'}`, () => {
      assert.equal(findSoftmaxProductComposites(softmaxProductModel(form).model.graph, 17).length, want);
    });
  }

  it('no product or reduction over the probabilities; dx and dv equal a plain-JS attention backward, 0 in a fully masked row', async () => {
    const { model, loss } = softmaxProductModel('safe');
    const before = model.graph.nodes.length;
    const grads = buildGradients(model.graph, loss, ['x', 'v']);
    const added = model.graph.nodes.slice(before);
    // The one reduction of the Softmax's gradient reads dO * O, not dP * P.
    const o = model.graph.nodes.find((n) => n.opType === 'MatMul')!.outputs[0];
    const reductions = added.filter((n) => n.name.includes('/softmax_product_grad/') && n.opType === 'ReduceSum');
    assert.equal(reductions.length, 1);
    const product = added.find((n) => n.outputs[0] === reductions[0].inputs[0])!;
    assert.ok(product.opType === 'Mul' && product.inputs.includes(o), `the row sum reduces ${product.opType}(${product.inputs})`);
    for (const [k, name] of ['dx', 'dv'].entries()) {
      model.graph.nodes.push({ name: `expose_${name}`, opType: 'Identity', domain: '', inputs: [grads.get(['x', 'v'][k])!], outputs: [name], attrs: {} });
      model.graph.outputs.push({ name, dtype: 'float32' });
    }
    const xs = randomArray(24, rng(10)).map((v) => 3 * v);
    for (let k = 20; k < 24; k++) xs[k] = -Infinity; // head 1, last query row: softmax is NaN there
    const vs = randomArray(16, rng(11));
    const ws = randomArray(12, rng(12));
    const out = await runModel(model, { x: tensor('float32', xs, [1, 2, 3, 4]), v: tensor('float32', vs, [1, 2, 4, 2]), w: tensor('float32', ws, [1, 2, 3, 2]) }, ['dx', 'dv']);
    const dx = toNumbers(out.dx);
    const dv = toNumbers(out.dv);
    const wantDv = new Array(16).fill(0);
    for (let h = 0; h < 2; h++) {
      for (let i = 0; i < 3; i++) {
        const row = xs.slice(h * 12 + i * 4, h * 12 + i * 4 + 4);
        const mx = Math.max(...row);
        const e = row.map((v) => Math.exp(v - mx));
        const sum = e.reduce((a, v) => a + v, 0);
        const p = e.map((v) => (Number.isNaN(v / sum) ? 0 : v / sum));
        // dO = w; dP_ij = sum_k w_ik v_jk; dS = p (dP - sum_j p_j dP_j); dV_jk += p_ij w_ik.
        const dP = [0, 1, 2, 3].map((j) => [0, 1].reduce((a, k) => a + ws[h * 6 + i * 2 + k] * vs[h * 8 + j * 2 + k], 0));
        const r = p.reduce((a, pj, j) => a + pj * dP[j], 0);
        for (let j = 0; j < 4; j++) {
          const want = p[j] * (dP[j] - r);
          const got = dx[h * 12 + i * 4 + j];
          assert.ok(Math.abs(got - want) < 1e-6, `dx head ${h} row ${i} col ${j}: ${got} vs ${want}`);
          for (let k = 0; k < 2; k++) wantDv[h * 8 + j * 2 + k] += p[j] * ws[h * 6 + i * 2 + k];
        }
      }
    }
    wantDv.forEach((want, k) => assert.ok(Math.abs(dv[k] - want) < 1e-6, `dv ${k}: ${dv[k]} vs ${want}`));
  });
});

/** loss = sum(w * x * 1/sqrt(mean(x^2) + eps)) over [3, 4]; optionally another reader of 1/sqrt(..). */
function rmsNormModel(extraReader = false): { model: Model; loss: string } {
  const g = emptyGraph('rms_norm');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [3, 4] }, { name: 'w', dtype: 'float32', shape: [3, 4] });
  const b = new GraphBuilder(g);
  const info = (name: string, shape: number[]) => g.valueInfo.set(name, { name, dtype: 'float32', shape });
  const sq = b.op1('Pow', ['x', b.constFloat(2, 'two')]);
  const mean = b.op1('ReduceMean', [sq], { axes: attr.ints([-1]), keepdims: attr.i(1) });
  const a = b.op1('Add', [mean, b.constFloat(1e-6, 'eps')]);
  const r = b.op1('Sqrt', [a]);
  const q = b.op1('Div', [b.constFloat(1, 'one'), r]);
  const n = b.op1('Mul', ['x', q]);
  let z = b.op1('Mul', [n, 'w']);
  for (const v of [sq, n, z]) info(v, [3, 4]);
  for (const v of [mean, a, r, q]) info(v, [3, 1]);
  if (extraReader) {
    z = b.op1('Add', [z, q]);
    info(z, [3, 4]);
  }
  const loss = b.op1('ReduceSum', [z], { keepdims: attr.i(0) });
  g.outputs.push({ name: loss, dtype: 'float32' });
  info(loss, []);
  return { model: { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 't', metadata: {} }, loss };
}

describe('autodiff: composite RMSNorm core (x / sqrt(mean(x^2) + eps))', () => {
  it('differentiates it as one op: one gradient into x, no Expand, equal to the analytic gradient', async () => {
    const { model, loss } = rmsNormModel();
    assert.equal(findRmsNormComposites(model.graph, 17).length, 1);
    const before = model.graph.nodes.length;
    const grads = buildGradients(model.graph, loss, ['x']);
    const added = model.graph.nodes.slice(before);
    // Node by node: an Expand back over the row and a Sum of the two paths into x.
    const own = added.filter((n) => n.name.includes('/rms_norm_grad/')).map((n) => n.opType);
    assert.deepEqual(own.filter((op) => op !== 'Mul').sort(), ['ReduceSum', 'Sub'], `gradient ops: ${own}`);
    assert.ok(!added.some((n) => n.opType === 'Sum'), 'the paths into x are still summed');
    model.graph.nodes.push({ name: 'expose', opType: 'Identity', domain: '', inputs: [grads.get('x')!], outputs: ['dx'], attrs: {} });
    model.graph.outputs.push({ name: 'dx', dtype: 'float32' });
    const xs = randomArray(12, rng(13)).map((v) => 2 * v);
    const ws = randomArray(12, rng(14));
    const got = toNumbers((await runModel(model, { x: tensor('float32', xs, [3, 4]), w: tensor('float32', ws, [3, 4]) }, ['dx'])).dx);
    for (let r = 0; r < 3; r++) {
      const x = xs.slice(4 * r, 4 * r + 4);
      const w = ws.slice(4 * r, 4 * r + 4);
      const q = 1 / Math.sqrt(x.reduce((a, v) => a + v * v, 0) / 4 + 1e-6);
      const dot = x.reduce((a, v, k) => a + v * w[k], 0);
      // d/dx_i of sum_j w_j x_j q = w_i q - x_i q^3 (sum_j w_j x_j) / D
      for (let i = 0; i < 4; i++) {
        const want = w[i] * q - (x[i] * q ** 3 * dot) / 4;
        assert.ok(Math.abs(got[4 * r + i] - want) < 1e-5 * Math.max(1, Math.abs(want)), `row ${r} col ${i}: ${got[4 * r + i]} vs ${want}`);
      }
    }
  });

  it('leaves the nodes alone when 1/sqrt(..) has another reader', () => {
    assert.equal(findRmsNormComposites(rmsNormModel(true).model.graph, 17).length, 0);
  });
});
