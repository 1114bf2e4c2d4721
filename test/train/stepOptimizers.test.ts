import { strict as assert } from 'assert';
import * as ort from 'onnxruntime-node';
import { Emitter } from '../../native-runtime/adapters/emit';
import { mulberry32 } from '../../native-runtime/adapters/init';
import { GraphBuilder, emptyGraph, type Model } from '../../native-runtime/onnx/ir';
import { modelToBytes } from '../../native-runtime/onnx/proto';
import { addOptimizer, type OptimizerOptions } from '../../native-runtime/train/optimizers';
import { runTorch } from '../helpers/torch';

const PARAMS = [{ name: 'p1', dims: [3, 4] }, { name: 'p2', dims: [5] }];
const STEPS = 4;

/** Parameters p1, p2 with their gradients fed as inputs g1, g2, through clipping and the optimizer. */
function optimizerGraph(o: OptimizerOptions): { model: Model; out: ReturnType<typeof addOptimizer> } {
  const g = emptyGraph('opt');
  const model: Model = { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 'test', metadata: {} };
  for (const p of PARAMS) g.inputs.push({ name: p.name, dtype: 'float32', shape: p.dims }, { name: `g_${p.name}`, dtype: 'float32', shape: p.dims });
  const out = addOptimizer(new Emitter(new GraphBuilder(g), model), PARAMS, new Map(PARAMS.map((p) => [p.name, `g_${p.name}`])), o);
  return { model, out };
}

const TORCH = `
out = []
for c in inp['cases']:
    ps = [torch.tensor(v, dtype=torch.float32).reshape(s).requires_grad_(True) for v, s in zip(inp['init'], inp['shapes'])]
    o = c['opt']
    if o['optimizer'] == 'adamw':
        opt = torch.optim.AdamW(ps, lr=1.0, betas=tuple(o['betas']), eps=o['eps'], weight_decay=o['weight_decay'])
    else:
        opt = torch.optim.SGD(ps, lr=1.0, momentum=o['momentum'], weight_decay=o['weight_decay'])
    norms, traj = [], []
    for k in range(len(inp['lrs'])):
        for p, g, s in zip(ps, inp['grads'][k], inp['shapes']):
            p.grad = torch.tensor(g, dtype=torch.float32).reshape(s)
        if o['max_grad_norm'] > 0:
            norms.append(float(torch.nn.utils.clip_grad_norm_(ps, o['max_grad_norm'])))
        else:
            norms.append(float(torch.sqrt(sum((p.grad ** 2).sum() for p in ps))))
        for grp in opt.param_groups:
            grp['lr'] = inp['lrs'][k]
        opt.step()
        traj.append([p.detach().reshape(-1).tolist() for p in ps])
    out.append({'norms': norms, 'traj': traj})
`;

describe('train/optimizers (clipping, AdamW, SGD) vs torch.optim', () => {
  it('match torch over several steps, with step-dependent lr and bias correction', async () => {
    const r = mulberry32(11);
    const rand = (n: number, s: number) => Array.from({ length: n }, () => (r() * 2 - 1) * s);
    const sizes = PARAMS.map((p) => p.dims.reduce((a, b) => a * b, 1));
    const init = sizes.map((n) => rand(n, 1));
    // Step 2's gradients are large, so clipping is active there and not elsewhere.
    const grads = Array.from({ length: STEPS }, (_, k) => sizes.map((n) => rand(n, k === 2 ? 2 : 0.05)));
    const lrs = [0.01, 0.02, 0.015, 0.005];
    const base: OptimizerOptions = { optimizer: 'adamw', betas: [0.8, 0.99], eps: 1e-6, weight_decay: 0.1, momentum: 0.9, max_grad_norm: 0.5 };
    const cases: OptimizerOptions[] = [
      base,
      { ...base, max_grad_norm: 0, weight_decay: 0 },
      { ...base, optimizer: 'sgd', weight_decay: 0.05 },
      { ...base, optimizer: 'sgd', momentum: 0, max_grad_norm: 0, weight_decay: 0 },
    ];
    const want = runTorch<Array<{ norms: number[]; traj: number[][][] }>>(TORCH, { cases: cases.map((opt) => ({ opt })), init, grads, lrs, shapes: PARAMS.map((p) => p.dims) });

    for (const [k, o] of cases.entries()) {
      const { model, out } = optimizerGraph(o);
      assert.deepEqual(out.stateSlots, o.optimizer === 'adamw' ? ['exp_avg', 'exp_avg_sq'] : o.momentum > 0 ? ['momentum_buffer'] : []);
      const s = await ort.InferenceSession.create(modelToBytes(model), { intraOpNumThreads: 1 });
      let params: Float32Array[] = init.map((v) => Float32Array.from(v));
      let states: Float32Array[][] = PARAMS.map((p, i) => out.stateSlots.map(() => new Float32Array(sizes[i])));
      for (let step = 0; step < STEPS; step++) {
        const feeds: Record<string, ort.Tensor> = { lr: new ort.Tensor('float32', Float32Array.of(lrs[step]), []), step: new ort.Tensor('float32', Float32Array.of(step + 1), []) };
        PARAMS.forEach((p, i) => {
          feeds[p.name] = new ort.Tensor('float32', params[i], p.dims);
          feeds[`g_${p.name}`] = new ort.Tensor('float32', Float32Array.from(grads[step][i]), p.dims);
          out.states.get(p.name)!.inputs.forEach((n, j) => { feeds[n] = new ort.Tensor('float32', states[i][j], p.dims); });
        });
        const res = await s.run(feeds);
        const norm = (res.grad_norm.data as Float32Array)[0];
        assert.ok(Math.abs(norm - want[k].norms[step]) <= 1e-5 * want[k].norms[step], `case ${k} step ${step}: grad norm ${norm} vs ${want[k].norms[step]}`);
        params = PARAMS.map((p) => res[out.paramOutputs.get(p.name)!].data as Float32Array);
        states = PARAMS.map((p) => out.states.get(p.name)!.outputs.map((n) => res[n].data as Float32Array));
        PARAMS.forEach((p, i) => params[i].forEach((v, j) => {
          const t = want[k].traj[step][i][j];
          assert.ok(Math.abs(v - t) <= 2e-6 * Math.max(1, Math.abs(t)), `case ${k} (${o.optimizer}) step ${step} ${p.name}[${j}]: ${v} vs torch ${t}`);
        }));
      }
      await s.release();
    }
  });
});
