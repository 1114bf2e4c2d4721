// Spectra of whole adapters against torch: torch builds each layer's explicit d_in × d_out ΔW from
// the raw tensors (A of the layer's group, Σ_e p_e B_e, scaling or alpha/r) and takes its singular
// values; computeSpectrum must agree, including on rank-deficient layers, together with the rank
// measures, the expert similarity and the budget columns.
import { strict as assert } from 'assert';
import { lilyTargetParamCount, loraRankAtBudget } from '../../native-runtime/adapters/budget';
import { layerTensorNames, type AdapterWeights, type LilySettings, type LoraSettings } from '../../native-runtime/io/adapterWeights';
import { computeSpectrum } from '../../native-runtime/inspect/spectrum';
import type { TargetInfo } from '../../native-runtime/runFiles';
import { runTorch } from '../helpers/torch';
import { values } from '../io/adapterFixtures';

function target(name: string, d_in: number, d_out: number, layers: number, strideA: number): TargetInfo {
  return { target: name, d_in, d_out, layers: Array.from({ length: layers }, (_, i) => ({ module: `model.layer.${i}.${name}`, index: i, a_group: Math.floor(i / strideA) })) };
}

/** Lily weights: two targets; A of group 0 of `attn` has a repeated column (rank r-1); `mlp` has r > d_in. */
function lilyWeights(): { w: AdapterWeights; mixtures: Map<string, number[]> } {
  const settings: LilySettings = { method: 'lily', r: 5, stride_A: 2, num_B: 3, scaling: 0.7, routing: 'batch', target_modules: ['attn', 'mlp'], modules_to_save: [] };
  const targets = [target('attn', 12, 10, 3, 2), target('mlp', 4, 9, 2, 2)];
  const tensors = new Map<string, { dims: number[]; data: Float32Array }>();
  let seed = 11;
  for (const t of targets) {
    for (const n of layerTensorNames('lily', t)) {
      if (!tensors.has(n.A)) tensors.set(n.A, { dims: [t.d_in, settings.r], data: values(t.d_in * settings.r, seed++) });
      if (!tensors.has(n.B)) tensors.set(n.B, { dims: [settings.num_B, settings.r, t.d_out], data: values(settings.num_B * settings.r * t.d_out, seed++) });
      tensors.set(n.router!, { dims: [settings.r, settings.num_B], data: values(settings.r * settings.num_B, seed++) });
    }
  }
  const a0 = tensors.get('model.layer.0.attn.lily_A')!.data;
  for (let i = 0; i < 12; i++) a0[i * 5 + 4] = a0[i * 5 + 1]; // column 4 = column 1
  // Expert 0 of `mlp` is zero: a layer routed only to it has ΔW = 0.
  tensors.get('model.layer.0.mlp.lily_B')!.data.fill(0, 0, 5 * 9);
  const mixtures = new Map<string, number[]>([
    ['model.layer.0.attn', [0.2, 0.5, 0.3]],
    ['model.layer.1.attn', [0.6, 0.1, 0.3]],
    // layer.2.attn: no mixture -> uniform
    ['model.layer.0.mlp', [1, 0, 0]],
    ['model.layer.1.mlp', [0.05, 0.9, 0.05]],
  ]);
  return { w: { settings, targets, tensors, saved: [] }, mixtures };
}

function loraWeights(): AdapterWeights {
  const settings: LoraSettings = { method: 'lora', r: 3, lora_alpha: 6, target_modules: ['attn'], modules_to_save: [] };
  const targets = [target('attn', 12, 10, 2, 1)];
  const tensors = new Map<string, { dims: number[]; data: Float32Array }>();
  let seed = 50;
  for (const n of layerTensorNames('lora', targets[0])) {
    tensors.set(n.A, { dims: [12, 3], data: values(36, seed++) });
    tensors.set(n.B, { dims: [3, 10], data: values(30, seed++) });
  }
  tensors.get('model.layer.1.attn.lora_B')!.data.fill(0, 20); // last row zero: rank 2
  return { settings, targets, tensors, saved: [] };
}

interface TorchLayer { sv: number[]; numerical_rank: number; effective_rank: number; stable_rank: number }

/** The torch side: explicit ΔW per layer from raw tensors, its singular values and rank measures. */
function torchSpectra(w: AdapterWeights, mixtures: Map<string, number[]>): { layers: TorchLayer[][]; similarity: number[][][] } {
  const s = w.settings;
  const job = w.targets.map((t) => ({
    d_in: t.d_in, d_out: t.d_out,
    layers: layerTensorNames(s.method, t).map((n) => ({
      A: Array.from(w.tensors.get(n.A)!.data),
      B: Array.from(w.tensors.get(n.B)!.data),
      p: s.method === 'lily' ? mixtures.get(n.module) ?? Array(s.num_B).fill(1 / s.num_B) : null,
    })),
  }));
  return runTorch(`
r = inp['r']; scale = inp['scale']; nB = inp['num_B']
layers, sims = [], []
for t in inp['targets']:
    di, do = t['d_in'], t['d_out']
    out = []
    for l in t['layers']:
        A = torch.tensor(l['A']).reshape(di, r)
        if l['p'] is None:
            B = torch.tensor(l['B']).reshape(r, do)
        else:
            pool = torch.tensor(l['B']).reshape(nB, r, do)
            B = torch.einsum('e,erd->rd', torch.tensor(l['p'], dtype=torch.float64), pool)
        W = scale * A @ B
        sv = torch.linalg.svdvals(W)
        smax = sv.max().item()
        tol = max(di, do) * 1.1920929e-7 * smax
        q = sv / sv.sum() if smax > 0 else sv
        H = -(q[q > 0] * torch.log(q[q > 0])).sum().item() if smax > 0 else 0.0
        out.append({'sv': sv.tolist(), 'numerical_rank': int((sv > tol).sum()) if smax > 0 else 0,
                    'effective_rank': float(torch.exp(torch.tensor(H))) if smax > 0 else 0.0,
                    'stable_rank': (torch.linalg.matrix_norm(W, 'fro') ** 2 / torch.linalg.matrix_norm(W, 2) ** 2).item() if smax > 0 else 0.0})
    layers.append(out)
    if nB:
        pool = torch.tensor(t['layers'][0]['B']).reshape(nB, -1)
        sims.append(torch.nn.functional.cosine_similarity(pool[:, None, :], pool[None, :, :], dim=-1).tolist())
out = {'layers': layers, 'similarity': sims}`, {
    r: s.r, scale: s.method === 'lily' ? s.scaling : s.lora_alpha / s.r, num_B: s.method === 'lily' ? s.num_B : 0, targets: job,
  });
}

function assertClose(a: number, b: number, tol: number, what: string): void {
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
}

function checkAgainstTorch(w: AdapterWeights, mixtures: Map<string, number[]>) {
  const report = computeSpectrum(w, mixtures, { step: 7, reference: 'test' });
  const ref = torchSpectra(w, mixtures);
  assert.equal(report.step, 7);
  assert.equal(report.method, w.settings.method);
  report.targets.forEach((t, ti) => {
    t.layers.forEach((l, li) => {
      const o = ref.layers[ti][li];
      const smax = Math.max(o.sv[0], 1e-300);
      l.singular_values.forEach((s, k) => assertClose(s, o.sv[k], 1e-9 * smax + 1e-12, `${l.module} σ${k}`));
      for (let k = l.singular_values.length; k < o.sv.length; k++) assert.ok(o.sv[k] <= 1e-9 * smax + 1e-12, `${l.module}: torch σ${k} = ${o.sv[k]} beyond r`);
      assert.equal(l.numerical_rank, o.numerical_rank, `${l.module} numerical rank`);
      assertClose(l.effective_rank, o.effective_rank, 1e-6, `${l.module} effective rank`);
      assertClose(l.stable_rank, o.stable_rank, 1e-6, `${l.module} stable rank`);
    });
    if (w.settings.method === 'lily') {
      // The diagonal is 1 by convention, also for an all-zero expert (torch says 0 there).
      t.expert_similarity!.forEach((row, i) => row.forEach((v, j) => assertClose(v, i === j ? 1 : ref.similarity[ti][i][j], 1e-6, `${t.target} similarity[${i}][${j}]`)));
    }
  });
  return report;
}

describe('inspect/spectrum: ΔW spectra of adapters against torch on the explicit matrices', () => {
  it('Lily: mixtures, shared A groups, rank-deficient and zero layers, r > d_in', () => {
    const { w, mixtures } = lilyWeights();
    const report = checkAgainstTorch(w, mixtures);
    const attn = report.targets[0];
    const mlp = report.targets[1];
    // By construction: group 0's A has rank 4 (layers 0 and 1 share it), layer 2 (group 1) full rank 5.
    assert.deepEqual(attn.layers.map((l) => [l.a_group, l.numerical_rank]), [[0, 4], [0, 4], [1, 5]]);
    assert.deepEqual(attn.layers[2].mixture, [1 / 3, 1 / 3, 1 / 3]);
    assert.equal(mlp.layers[0].numerical_rank, 0); // routed only to the zero expert
    assert.equal(mlp.layers[1].numerical_rank, 4); // r = 5 > d_in = 4
    assert.equal(mlp.expert_similarity![0][1], 0);
    // Budget columns: Lily's own count and the LoRA rank it buys.
    const count = lilyTargetParamCount({ layers: 3, d_in: 12, d_out: 10 }, { r: 5, stride_A: 2, num_B: 3 });
    assert.equal(attn.trainable_params, count);
    assert.equal(count, 2 * 5 * 12 + 3 * 5 * 10 + 3 * 5 * 3);
    assert.equal(attn.lora_rank_at_budget, loraRankAtBudget([{ layers: 3, d_in: 12, d_out: 10 }], count));
    assert.equal(attn.r, 5);
  });

  it('LoRA: ΔW = (alpha/r)·A·B, one layer rank-deficient', () => {
    const w = loraWeights();
    const report = checkAgainstTorch(w, new Map());
    assert.deepEqual(report.targets[0].layers.map((l) => l.numerical_rank), [3, 2]);
    assert.equal(report.targets[0].lora_rank_at_budget, 3);
    assert.equal(report.targets[0].expert_similarity, undefined);
  });
});
