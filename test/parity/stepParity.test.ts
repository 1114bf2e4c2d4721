// The engine's training step against PyTorch autograd (scripts/oracle/lily_ref.py, float64):
// the same exported model, the same initial adapter tensors (written by this side, with a
// non-zero B so that A and the routers get gradients), the same batches. Checked: loss, every
// trainable tensor's gradient and the router mixtures on the first batch, then the loss of each
// of 20 optimizer steps, the gradient norms and the final tensors. All oracle jobs run in one
// Python process (torch starts once).
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { mulberry32 } from '../../native-runtime/adapters/init';
import type { AdapterSection, TaskType } from '../../native-runtime/config/types';
import { StepRunner, type StepResult } from '../../native-runtime/train/stepRunner';
import { projectPython, writeSafetensors, type StTensor } from '../oracle/oracleFiles';
import { exportedModel, type OracleKind } from './exportedModels';
import { tempDir } from '../helpers/tempDir';

interface Case {
  name: string;
  kind: OracleKind;
  task: TaskType;
  adapter: AdapterSection;
  optimizer: { name: 'adamw' | 'sgd'; lr: number; weight_decay: number; momentum?: number };
  max_grad_norm: number;
  steps: number;
  /** Batch sizes cycled through, one per step (a second size exercises a second compiled shape). */
  batchSizes: number[];
  /** lr per step (a schedule); default constant. */
  lrPerStep?: number[];
}

const SEQ = 8;
const warmupLinear = (lr: number, n: number) => Array.from({ length: n }, (_, k) => (k < 3 ? (lr * k) / 3 : (lr * (n - k)) / (n - 3)));

const CASES: Case[] = [
  { name: 'encoder, Lily batch routing, stride_A 2, modules_to_save, weight decay', kind: 'encoder', task: 'sequence-classification',
    adapter: { method: 'lily', target_modules: ['query', 'value'], r: 4, num_B: 3, stride_A: 2, scaling: 0.5, routing: 'batch', modules_to_save: ['classifier'] },
    optimizer: { name: 'adamw', lr: 1e-2, weight_decay: 0.01 }, max_grad_norm: 0, steps: 20, batchSizes: [4] },
  { name: 'encoder, Lily masked routing, dense layers of 3 shapes + a 2-D pooler', kind: 'encoder', task: 'sequence-classification',
    adapter: { method: 'lily', target_modules: ['value', 'dense'], r: 4, num_B: 2, routing: 'masked' },
    optimizer: { name: 'adamw', lr: 1e-2, weight_decay: 0 }, max_grad_norm: 0, steps: 20, batchSizes: [4] },
  { name: 'encoder, Lily token routing', kind: 'encoder', task: 'sequence-classification',
    adapter: { method: 'lily', target_modules: ['key', 'value'], r: 4, num_B: 3, routing: 'token', scaling: 2 },
    optimizer: { name: 'adamw', lr: 1e-2, weight_decay: 0 }, max_grad_norm: 0, steps: 20, batchSizes: [4] },
  { name: 'encoder, LoRA', kind: 'encoder', task: 'sequence-classification',
    adapter: { method: 'lora', target_modules: ['query', 'value'], r: 4, lora_alpha: 8 },
    optimizer: { name: 'adamw', lr: 1e-2, weight_decay: 0.01 }, max_grad_norm: 0, steps: 20, batchSizes: [4] },
  { name: 'encoder, Lily + SGD momentum, clipping, warmup schedule, two batch shapes', kind: 'encoder', task: 'sequence-classification',
    adapter: { method: 'lily', target_modules: ['value'], r: 4, num_B: 2, routing: 'batch' },
    optimizer: { name: 'sgd', lr: 20, weight_decay: 0.01, momentum: 0.9 }, max_grad_norm: 0.004, steps: 12, batchSizes: [4, 2], lrPerStep: warmupLinear(20, 12) },
  { name: 'decoder LM, Lily masked routing', kind: 'decoder', task: 'causal-lm',
    adapter: { method: 'lily', target_modules: ['q_proj', 'v_proj', 'fc_in'], r: 4, num_B: 2, routing: 'masked' },
    optimizer: { name: 'adamw', lr: 1e-2, weight_decay: 0 }, max_grad_norm: 0, steps: 20, batchSizes: [3] },
  { name: 'decoder LM, Lily batch routing, regex target', kind: 'decoder', task: 'causal-lm',
    adapter: { method: 'lily', target_modules: 'h\\.\\d+\\.attn\\.(q|v)_proj', r: 4, num_B: 2, stride_A: 2, routing: 'batch' },
    optimizer: { name: 'adamw', lr: 1e-2, weight_decay: 0 }, max_grad_norm: 0, steps: 20, batchSizes: [3] },
  { name: 'decoder LM, LoRA, clipping', kind: 'decoder', task: 'causal-lm',
    adapter: { method: 'lora', target_modules: ['q_proj', 'v_proj'], r: 4 },
    optimizer: { name: 'adamw', lr: 1e-2, weight_decay: 0 }, max_grad_norm: 0.1, steps: 20, batchSizes: [3] },
  { name: 'ViT, Lily batch routing on qkv and fc1', kind: 'vit', task: 'sequence-classification',
    adapter: { method: 'lily', target_modules: ['qkv', 'fc1'], r: 4, num_B: 2, routing: 'batch' },
    optimizer: { name: 'adamw', lr: 1e-2, weight_decay: 0 }, max_grad_norm: 0, steps: 20, batchSizes: [4] },
  { name: 'ViT, LoRA on qkv and the 2-D head (Gemm)', kind: 'vit', task: 'sequence-classification',
    adapter: { method: 'lora', target_modules: ['qkv', 'head'], r: 2 },
    optimizer: { name: 'adamw', lr: 1e-2, weight_decay: 0 }, max_grad_norm: 0, steps: 20, batchSizes: [4] },
];

interface OracleTensor { shape: number[]; data: number[] }
interface OracleResult {
  loss: number;
  losses: number[];
  grad_norms: number[];
  grads: Record<string, OracleTensor>;
  router_p: Record<string, number[]>;
  final: Record<string, OracleTensor>;
  layers: Array<{ module: string; A: string; B: string; router?: string }>;
}

interface Prepared {
  c: Case;
  runner: StepRunner;
  batches: Array<Record<string, ort.Tensor>>;
  /** Engine name -> oracle name. */
  toOracle: Map<string, string>;
}

function uniform(n: number, seed: number, scale: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

/** Deterministic batch for a model kind: right padding in some rows, labels for the task. */
function makeBatch(kind: OracleKind, size: number, seed: number, cfg: Record<string, number | boolean>): Record<string, ort.Tensor> {
  const r = mulberry32(seed);
  const int = (n: number) => Math.floor(r() * n);
  if (kind === 'vit') {
    const px = Float32Array.from({ length: size * 3 * 16 * 16 }, () => r() * 2 - 1);
    return {
      pixel_values: new ort.Tensor('float32', px, [size, 3, 16, 16]),
      labels: new ort.Tensor('int64', BigInt64Array.from({ length: size }, () => BigInt(int(cfg.num_labels as number))), [size]),
    };
  }
  const vocab = cfg.vocab as number;
  const ids = new BigInt64Array(size * SEQ);
  const mask = new BigInt64Array(size * SEQ);
  for (let b = 0; b < size; b++) {
    const len = b === 0 ? SEQ : SEQ - 1 - (b % 4);
    for (let t = 0; t < SEQ; t++) {
      mask[b * SEQ + t] = t < len ? 1n : 0n;
      ids[b * SEQ + t] = t < len ? BigInt(1 + int(vocab - 1)) : 0n;
    }
  }
  const labels = kind === 'decoder'
    ? BigInt64Array.from(ids, (v, i) => (mask[i] === 1n ? v : -100n))
    : BigInt64Array.from({ length: size }, () => BigInt(int(cfg.num_labels as number)));
  return {
    input_ids: new ort.Tensor('int64', ids, [size, SEQ]),
    attention_mask: new ort.Tensor('int64', mask, [size, SEQ]),
    labels: new ort.Tensor('int64', labels, kind === 'decoder' ? [size, SEQ] : [size]),
  };
}

function stTensor(t: ort.Tensor): StTensor {
  return t.type === 'int64'
    ? { dtype: 'I64', shape: [...t.dims], data: t.data as BigInt64Array }
    : { dtype: 'F32', shape: [...t.dims], data: t.data as Float32Array };
}

/** max |a - b| / max |b|: the error relative to the tensor's scale (elementwise relative error is meaningless near 0). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

describe('parity: training step vs PyTorch autograd (lily_ref.py, float64)', function () {
  this.timeout(600_000);
  const work = tempDir('lily-parity-');
  const prepared: Prepared[] = [];
  let results: OracleResult[] = [];
  const engine = new Map<string, { results: StepResult[]; final: Map<string, Float32Array> }>();

  before(async () => {
    const jobs: string[] = [];
    for (const [k, c] of CASES.entries()) {
      const m = exportedModel(c.kind);
      const batches = c.batchSizes.map((size, i) => makeBatch(c.kind, size, 100 + 10 * k + i, m.manifest.config));
      const shapes = Object.fromEntries(m.manifest.inputs.map((n) => [n, [...batches[0][n].dims]]));
      const { modules_to_save, ...adapterRest } = c.adapter as AdapterSection & { modules_to_save?: string[] };
      const runner = await StepRunner.create(m.load(), shapes, {
        adapter: c.adapter,
        task: c.task,
        optimizer: { optimizer: c.optimizer.name, weight_decay: c.optimizer.weight_decay, momentum: c.optimizer.momentum ?? 0.9, max_grad_norm: c.max_grad_norm },
        seed: 7,
        exposeGradients: true,
        threads: 1,
      });
      // Non-zero B (Lily pool / LoRA B): with B = 0 the gradients of A and the routers vanish.
      const params = runner.getParams();
      for (const p of runner.params) if (p.role === 'lily_B' || p.role === 'lora_B') params.set(p.name, uniform(params.get(p.name)!.length, 50 + k, 0.3));
      runner.setParams(params);

      // Oracle names: `<group>.lily_A.<g>`, `<group>.lily_B` (group = matched suffix, or `regex`), routers and LoRA as ours.
      const toOracle = new Map<string, string>();
      const groupOf = (key: string) => (typeof c.adapter.target_modules === 'string' ? key.replace(c.adapter.target_modules, 'regex') : key);
      for (const l of runner.graphs.injection.layers) {
        if (c.adapter.method === 'lily') {
          toOracle.set(l.tensors.A, `${groupOf(l.target)}.lily_A.${l.a_group}`);
          toOracle.set(l.tensors.B, `${groupOf(l.target)}.lily_B`);
          toOracle.set(l.tensors.router!, l.tensors.router!);
        } else {
          toOracle.set(l.tensors.A, l.tensors.A);
          toOracle.set(l.tensors.B, l.tensors.B);
        }
      }
      for (const s of runner.graphs.injection.saved) {
        assert.ok(!s.transposed, 'saved tensors in these cases have torch layout');
        toOracle.set(s.name, s.peftName);
      }
      const init: Record<string, StTensor> = {};
      for (const p of runner.params) init[toOracle.get(p.name)!] = { dtype: 'F32', shape: p.dims, data: params.get(p.name)! };
      const dir = path.join(work, String(k));
      fs.mkdirSync(dir);
      writeSafetensors(path.join(dir, 'init.safetensors'), init);
      const data: Record<string, StTensor> = {};
      batches.forEach((b, i) => { for (const [n, t] of Object.entries(b)) data[`${i}/${n}`] = stTensor(t); });
      writeSafetensors(path.join(dir, 'batch.safetensors'), data);
      const job = {
        model_dir: m.dir,
        task: c.task,
        adapter: adapterRest,
        modules_to_save,
        init: 'init.safetensors',
        data: 'batch.safetensors',
        steps: c.steps,
        optimizer: { ...c.optimizer },
        lr_per_step: c.lrPerStep ?? null,
        max_grad_norm: c.max_grad_norm,
        dtype: 'float64',
      };
      fs.writeFileSync(path.join(dir, 'job.json'), JSON.stringify(job));
      jobs.push(path.join(dir, 'job.json'));
      prepared.push({ c, runner, batches, toOracle });
    }
    fs.writeFileSync(path.join(work, 'jobs.json'), JSON.stringify(jobs));
    const res = spawnSync(projectPython(), [path.join(__dirname, 'run_jobs.py'), path.join(work, 'jobs.json'), path.join(work, 'results.json')], {
      encoding: 'utf8', timeout: 300_000, env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' },
    });
    assert.equal(res.status, 0, `oracle jobs failed:\n${res.stderr?.slice(-4000)}`);
    results = JSON.parse(fs.readFileSync(path.join(work, 'results.json'), 'utf8'));

    // The engine's side: the same steps.
    for (const p of prepared) {
      const out: StepResult[] = [];
      for (let s = 0; s < p.c.steps; s++) {
        const lr = p.c.lrPerStep ? p.c.lrPerStep[s] : p.c.optimizer.lr;
        out.push(await p.runner.step(p.batches[s % p.batches.length], lr));
      }
      engine.set(p.c.name, { results: out, final: p.runner.getParams() });
      await p.runner.release();
    }
  });

  after(() => fs.rmSync(work, { recursive: true, force: true }));

  CASES.forEach((c, k) => {
    it(c.name, () => {
      const want = results[k];
      const got = engine.get(c.name)!;
      const { toOracle } = prepared[k];
      // Our naming maps onto the oracle's layout.
      for (const l of want.layers) {
        const ours = prepared[k].runner.graphs.injection.layers.find((x) => x.module === l.module);
        assert.ok(ours, `oracle adapted ${l.module}, the engine did not`);
        assert.equal(toOracle.get(ours.tensors.A), l.A);
        assert.equal(toOracle.get(ours.tensors.B), l.B);
      }
      assert.equal(prepared[k].runner.graphs.injection.layers.length, want.layers.length);

      // First batch: loss, gradients, router mixtures.
      const first = got.results[0];
      assert.ok(Math.abs(first.loss - want.loss) <= 1e-4 * Math.abs(want.loss), `loss ${first.loss} vs ${want.loss}`);
      for (const [name, g] of first.grads!) {
        const theirs = want.grads[toOracle.get(name)!];
        assert.ok(theirs, `oracle has no gradient for ${toOracle.get(name)}`);
        const e = relErr(g, theirs.data);
        assert.ok(e <= 1e-4, `gradient of ${name}: relative error ${e.toExponential(2)}`);
        assert.ok(theirs.data.some((v) => Math.abs(v) > 1e-8), `gradient of ${name} is all zero in torch: the check would be vacuous`);
      }
      // Every Lily layer's mean router probabilities (token routing too: there the mean over
      // real tokens of the per-token mixtures) match torch's; none is skipped.
      assert.deepStrictEqual([...first.routerProbs.keys()].sort(), Object.keys(want.router_p).sort(), 'layers with router mixtures');
      if (c.adapter.method === 'lily') assert.ok(first.routerProbs.size > 0, 'a Lily case reports router mixtures');
      for (const [module, p] of first.routerProbs) {
        assert.ok(relErr(p, want.router_p[module]) <= 1e-5, `router mixture of ${module}`);
      }

      // Trajectory: the loss before every update, and the gradient norms.
      assert.equal(got.results.length, want.losses.length);
      got.results.forEach((r, s) => {
        assert.ok(Math.abs(r.loss - want.losses[s]) <= 1e-4 * Math.abs(want.losses[s]), `step ${s}: loss ${r.loss} vs torch ${want.losses[s]}`);
        assert.ok(Math.abs(r.gradNorm - want.grad_norms[s]) <= 1e-4 * want.grad_norms[s], `step ${s}: grad norm ${r.gradNorm} vs torch ${want.grad_norms[s]}`);
      });
      // Training moved the loss (a trajectory that stays put would make the comparison weak).
      const nb = c.batchSizes.length;
      const moved = Math.max(...want.losses.map((l, s) => Math.abs(l - want.losses[s % nb])));
      assert.ok(moved > 1e-3, `the loss on a batch changed by at most ${moved} over training`);
      if (c.max_grad_norm > 0) assert.ok(want.grad_norms.some((n) => n > c.max_grad_norm), 'clipping was active in some step');
      for (const [name, v] of got.final) {
        const e = relErr(v, want.final[toOracle.get(name)!].data);
        assert.ok(e <= 1e-3, `final ${name}: relative error ${e.toExponential(2)}`);
      }
    });
  });
});
