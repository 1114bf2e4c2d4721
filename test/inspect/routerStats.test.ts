// Router statistics of the inspection graph (ONNX, onnxruntime) against torch: the oracle model
// with Lily around the same nn.Linear modules (lily_ref.lily_delta), the same batches and tensors;
// torch records softmax((x A) R) per row with forward hooks and computes the statistics itself
// (router_oracle.py). Covers token-level and pooled layers, padding, and the three routing modes.
// Tolerances are float32 (ONNX) vs float64 (torch) through two transformer blocks: ~1e-6 per row.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { AdapterSection } from '../../native-runtime/config/types';
import { layerTensorNames } from '../../native-runtime/io/adapterWeights';
import { inspectAdapter, type Inspection } from '../../native-runtime/inspect/inspection';
import { openReferenceData } from '../../native-runtime/inspect/referenceData';
import type { RouterStats } from '../../native-runtime/runFiles';
import { projectPython, writeSafetensors, type StTensor } from '../oracle/oracleFiles';
import { spawnSync } from 'child_process';
import { encoderConfig, encoderDir, encoderModel, randomWeights, tempDir } from './fixtures';

interface OracleLayer { mean: number[]; entropy: number; token_entropy: number; per_class: Record<string, number[]>; example: number[][] }
interface OracleResult { logits: number[][]; layers: Record<string, OracleLayer> }

const ROUTINGS = ['batch', 'masked', 'token'] as const;
const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

describe('inspect/router statistics against the torch oracle', function () {
  const dir = tempDir('router');
  const results = new Map<string, { ours: Inspection; torch: OracleResult; labels: number[] }>();

  before(async () => {
    const model = encoderModel();
    const jobs: unknown[] = [];
    const ours: Array<{ routing: string; res: Inspection; labels: number[] }> = [];
    for (const routing of ROUTINGS) {
      const adapter: AdapterSection = { method: 'lily', target_modules: ['value', 'dense', 'classifier'], r: 4, num_B: 3, stride_A: 2, scaling: 1.5, routing };
      const cfg = encoderConfig(dir, adapter, { batchSize: 4 });
      const w = randomWeights(model, adapter, 5, 0.8);
      const ref = openReferenceData(cfg, model)!;
      const res = await inspectAdapter({ model, weights: w, config: ref.config, step: 3, reference: ref });
      // The same batches and tensors for torch.
      const batches: Record<string, StTensor> = {};
      const labels: number[] = [];
      let k = 0;
      for (const b of ref.data.evalBatches()) {
        for (const name of ['input_ids', 'attention_mask', 'labels']) {
          const t = b.tensors[name];
          batches[`${k}/${name}`] = { dtype: 'I64', shape: [...t.dims], data: t.data as BigInt64Array };
        }
        labels.push(...Array.from(b.tensors.labels.data as BigInt64Array, Number));
        k++;
      }
      ref.data.close();
      const tensors: Record<string, StTensor> = {};
      for (const [name, t] of w.tensors) tensors[name] = { dtype: 'F32', shape: t.dims, data: t.data };
      writeSafetensors(path.join(dir, `${routing}.batches.safetensors`), batches);
      writeSafetensors(path.join(dir, `${routing}.weights.safetensors`), tensors);
      jobs.push({
        model_dir: encoderDir(), weights: `${routing}.weights.safetensors`, batches: `${routing}.batches.safetensors`, num_batches: k,
        adapter: { r: 4, num_B: 3, scaling: 1.5, routing, layers: w.targets.flatMap((t) => layerTensorNames('lily', t).map((n) => ({ module: n.module, A: n.A, B: n.B, R: n.router }))) },
      });
      ours.push({ routing, res, labels });
    }
    const jobFile = path.join(dir, 'jobs.json');
    fs.writeFileSync(jobFile, JSON.stringify(jobs));
    const run = spawnSync(projectPython(), [path.join(__dirname, 'router_oracle.py'), jobFile], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' }, maxBuffer: 64 << 20 });
    if (run.status !== 0) throw new Error(`router_oracle.py failed: ${run.stderr}`);
    const torch = JSON.parse(run.stdout) as OracleResult[];
    ours.forEach((o, i) => results.set(o.routing, { ours: o.res, torch: torch[i], labels: o.labels }));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const routing of ROUTINGS) {
    it(`${routing} routing: per-layer means, entropies, per-class means and the example match torch`, () => {
      const { ours, torch } = results.get(routing)!;
      const stats = ours.routerStats as RouterStats;
      assert.equal(stats.samples, 10);
      assert.equal(stats.step, 3);
      let layers = 0;
      for (const t of stats.targets) {
        assert.equal(t.num_B, 3);
        t.per_layer.forEach((l, i) => {
          const o = torch.layers[l.module];
          assert.ok(o, `torch has layer ${l.module}`);
          l.mean.forEach((v, e) => close(v, o.mean[e], 1e-5, `${l.module} mean[${e}]`));
          close(l.mean.reduce((a, b) => a + b, 0), 1, 1e-6, `${l.module} mean sums to 1 (float32 softmax rows)`);
          close(l.entropy, o.entropy, 5e-6, `${l.module} entropy`);
          close(l.token_entropy, o.token_entropy, 5e-6, `${l.module} token entropy`);
          assert.deepEqual(Object.keys(l.per_class!).sort(), Object.keys(o.per_class).sort(), `${l.module} classes`);
          for (const [c, p] of Object.entries(l.per_class!)) p.forEach((v, e) => close(v, o.per_class[c][e], 1e-5, `${l.module} class ${c}[${e}]`));
          const ex = t.example!.probs[i];
          assert.equal(ex.length, o.example.length, `${l.module}: example rows`);
          ex.forEach((row, r) => row.forEach((v, e) => close(v, o.example[r][e], 2e-5, `${l.module} example[${r}][${e}]`)));
          layers++;
        });
        // The example's tokens are its real (non-padding) tokens; token-level layers have one row each.
        assert.equal(t.example!.tokens.length, t.example!.probs[0].length > 1 ? t.example!.probs[0].length : t.example!.tokens.length);
      }
      assert.equal(layers, Object.keys(torch.layers).length);
      // Spectra use these means as the frozen mixtures.
      for (const t of ours.spectrum.targets) for (const l of t.layers) assert.deepEqual(l.mixture, ours.mixtures!.get(l.module));
    });
  }

  it('the metrics from the same forward passes match torch logits (cross-entropy and accuracy)', () => {
    for (const routing of ROUTINGS) {
      const { ours, torch, labels } = results.get(routing)!;
      let loss = 0, correct = 0;
      const rows = torch.logits.flatMap((b) => Array.from({ length: b.length / 3 }, (_, i) => b.slice(i * 3, i * 3 + 3)));
      rows.forEach((z, i) => {
        const m = Math.max(...z);
        const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
        loss += lse - z[labels[i]];
        if (z.indexOf(m) === labels[i]) correct++;
      });
      close(ours.metrics!.loss, loss / rows.length, 1e-5, `${routing} loss`);
      close(ours.metrics!.accuracy, correct / rows.length, 1e-12, `${routing} accuracy`);
    }
  });
});
