// A realistic run for the dashboard, following native-runtime/runFiles.ts exactly: a Lily run
// (default 2 targets x 4 layers x 4 experts, 100 steps) plus a LoRA run at the same budget to
// compare with. Deterministic (seeded). Numbers are derived the way the backend derives them:
// entropies from the probabilities, ranks from the singular values, similarities from vectors,
// the LoRA rank from the parameter budget.
//
//   npx tsx test/webview/make-fixture.ts                      -> out/webview/fixture.js
//   npx tsx test/webview/make-fixture.ts out.json --layers 48 --experts 16 --steps 200
//   npx tsx test/webview/make-fixture.ts --run-dir /tmp/runs/demo     (a run directory instead)
//   npx tsx test/webview/make-fixture.ts --live                       (index.html plays the run)
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { LilyConfig } from '../../native-runtime/config/types';
import type { HostToWebview, RunSnapshot } from '../../native-runtime/protocol';
import { RUN_FILES, type EvalMetricLine, type LayerSpectrum, type MetricLine, type RouterLine, type RouterStats, type RunStatus, type SpectrumReport, type TargetInfo, type TrainMetricLine } from '../../native-runtime/runFiles';
import type { DashboardFixture } from '../../webview/fixtureTypes';
import { mulberry32 } from '../../native-runtime/adapters/init';

export interface FixtureOptions {
  targets?: string[];
  layers?: number;
  experts?: number;
  /** Optimizer steps of the whole run. */
  steps?: number;
  /** Steps included in `init`; later steps arrive as `updates` (default: all). */
  initSteps?: number;
  logEvery?: number;
  routerEvery?: number;
  evalEvery?: number;
  r?: number;
  strideA?: number;
  dIn?: number;
  dOut?: number;
  seed?: number;
  runDir?: string;
  /** Leave out the LoRA comparison run. */
  noCompare?: boolean;
}

type Required_ = Required<Omit<FixtureOptions, 'initSteps'>> & { initSteps: number };

const CLASSES = ['negative', 'positive'];
const TOKENS = ['[CLS]', 'the', 'film', 'was', 'surprisingly', 'good', '!', '[SEP]'];

export function resolveOptions(o: FixtureOptions = {}): Required_ {
  const steps = o.steps ?? 100;
  return {
    targets: o.targets ?? ['attention.self.query', 'attention.self.value'],
    layers: o.layers ?? 4,
    experts: o.experts ?? 4,
    steps,
    initSteps: Math.min(o.initSteps ?? steps, steps),
    logEvery: o.logEvery ?? 1,
    routerEvery: o.routerEvery ?? 5,
    evalEvery: o.evalEvery ?? 25,
    r: o.r ?? 16,
    strideA: o.strideA ?? 2,
    dIn: o.dIn ?? 64,
    dOut: o.dOut ?? 64,
    seed: o.seed ?? 7,
    runDir: o.runDir ?? '/workspace/.lily/runs/20250101-120000-sentiment',
    noCompare: o.noCompare ?? false,
  };
}

/** Seeded noise for the fixture (the adapters' own mulberry32). */
const rng = mulberry32;

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
}

function softmax(logits: number[]): number[] {
  const m = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

export function entropyOf(p: number[]): number {
  return -p.reduce((h, v) => (v > 0 ? h + v * Math.log(v) : h), 0);
}

function mean(rows: number[][]): number[] {
  return rows[0].map((_, j) => rows.reduce((s, row) => s + row[j], 0) / rows.length);
}

export function lilyParams(o: Required_): number {
  const perTarget = Math.ceil(o.layers / o.strideA) * o.r * o.dIn + o.experts * o.r * o.dOut + o.layers * o.r * o.experts;
  return perTarget * o.targets.length;
}

function loraRankAtBudget(o: Required_): number {
  const perTarget = lilyParams(o) / o.targets.length;
  return Math.max(1, Math.floor(perTarget / (o.layers * (o.dIn + o.dOut))));
}

/** Router logits per target and layer: start near uniform, specialise as training goes. */
function routerModel(o: Required_, rand: () => number) {
  const weights = o.targets.map(() => Array.from({ length: o.layers }, () => Array.from({ length: o.experts }, () => gaussian(rand) * 1.6)));
  const classBias = CLASSES.map(() => o.targets.map(() => Array.from({ length: o.layers }, () => Array.from({ length: o.experts }, () => gaussian(rand) * 0.6))));
  const tokenBias = TOKENS.map(() => o.targets.map(() => Array.from({ length: o.layers }, () => Array.from({ length: o.experts }, () => gaussian(rand) * 1.2))));
  const at = (t: number, l: number, step: number, extra?: number[]) => {
    const progress = Math.min(1, step / o.steps);
    return softmax(weights[t][l].map((w, e) => w * progress + (extra?.[e] ?? 0)));
  };
  return { at, classBias, tokenBias };
}

function adapterConfig(o: Required_, method: 'lily' | 'lora'): LilyConfig {
  const common = { target_modules: o.targets.map((t) => t.split('.').pop()!) };
  return {
    name: method === 'lily' ? 'sentiment' : 'sentiment (LoRA at the same budget)',
    model: { path: '/workspace/examples/sentiment/model.onnx', task: 'sequence-classification', num_labels: 2, labels: CLASSES },
    data: { train: '/workspace/examples/sentiment/train.jsonl', eval: '/workspace/examples/sentiment/eval.jsonl', max_length: 32 },
    adapter: method === 'lily'
      ? { ...common, method: 'lily', r: o.r, stride_A: o.strideA, num_B: o.experts, scaling: 0.5, routing: 'batch' }
      : { ...common, method: 'lora', r: loraRankAtBudget(o), lora_alpha: loraRankAtBudget(o) },
    training: { max_steps: o.steps, batch_size: 16, lr: 3e-3, schedule: 'linear', warmup_steps: 10, log_every: o.logEvery, eval_every: o.evalEvery },
    runtime: { device: 'cpu' },
    output: { dir: '/workspace/.lily/runs' },
  };
}

function targetInfos(o: Required_): TargetInfo[] {
  return o.targets.map((target) => ({
    target,
    d_in: o.dIn,
    d_out: o.dOut,
    layers: Array.from({ length: o.layers }, (_, index) => ({
      module: `encoder.layer.${index}.${target}`,
      index,
      a_group: Math.floor(index / o.strideA),
    })),
  }));
}

function metricsLines(o: Required_, method: 'lily' | 'lora', fromStep: number, toStep: number): MetricLine[] {
  const floor = method === 'lily' ? 0.24 : 0.29;
  const lines: MetricLine[] = [];
  for (let step = fromStep; step <= toStep; step++) {
    // Noise seeded per step: a step's line is the same whether made alone or in a range.
    const rand = rng(o.seed * 31 + (method === 'lily' ? 1 : 2) + step * 7919);
    const time_s = step * 0.12;
    if (step % o.logEvery === 0 && step > 0) {
      const warm = Math.min(1, step / 10);
      const line: TrainMetricLine = {
        type: 'train',
        step,
        epoch: Math.floor(step / 50),
        loss: Math.max(0.01, 0.45 * Math.exp(-step / (o.steps / 3)) + floor + gaussian(rand) * 0.03),
        lr: 3e-3 * warm * Math.max(0, 1 - Math.max(0, step - 10) / Math.max(1, o.steps - 10)),
        grad_norm: Math.abs(1.2 / (1 + step / 30) + gaussian(rand) * 0.08),
        samples_per_s: 130 + gaussian(rand) * 4,
        tokens_per_s: (130 + gaussian(rand) * 4) * 32,
        time_s,
      };
      lines.push(line);
    }
    if (step % o.evalEvery === 0 || step === o.steps) {
      const progress = step / o.steps;
      const accuracy = 0.5 + (method === 'lily' ? 0.38 : 0.34) * (1 - Math.exp(-4 * progress));
      const line: EvalMetricLine = {
        type: 'eval',
        step,
        epoch: Math.floor(step / 50),
        metrics: { loss: 0.69 - (0.69 - floor - 0.02) * (1 - Math.exp(-3 * progress)), accuracy, f1: accuracy - 0.015 },
        time_s,
      };
      lines.push(line);
    }
  }
  return lines;
}

function routerLines(o: Required_, model: ReturnType<typeof routerModel>, fromStep: number, toStep: number): RouterLine[] {
  const lines: RouterLine[] = [];
  for (let step = Math.max(1, fromStep); step <= toStep; step++) {
    if (step % o.routerEvery !== 0) continue;
    const rand = rng(o.seed * 17 + step);
    const targets: Record<string, number[][]> = {};
    o.targets.forEach((name, t) => {
      // Batch noise on top of the trend: training batches differ.
      targets[name] = Array.from({ length: o.layers }, (_, l) => model.at(t, l, step, Array.from({ length: o.experts }, () => gaussian(rand) * 0.15)));
    });
    lines.push({ step, targets });
  }
  return lines;
}

function routerStats(o: Required_, model: ReturnType<typeof routerModel>, step: number): RouterStats {
  return {
    step,
    reference: '/workspace/examples/sentiment/eval.jsonl',
    samples: 200,
    targets: targetInfos(o).map((info, t) => {
      const perClass = CLASSES.map((_, c) => Array.from({ length: o.layers }, (_, l) => model.at(t, l, step, model.classBias[c][t][l])));
      const perToken = TOKENS.map((_, k) => Array.from({ length: o.layers }, (_, l) => model.at(t, l, step, model.tokenBias[k][t][l])));
      return {
        ...info,
        num_B: o.experts,
        per_layer: info.layers.map((layer, l) => {
          // Equal class counts: the reference mean is the mean of the class means.
          const m = mean(perClass.map((rows) => rows[l]));
          return {
            module: layer.module,
            mean: m,
            entropy: entropyOf(m),
            token_entropy: perToken.reduce((s, rows) => s + entropyOf(rows[l]), 0) / TOKENS.length,
            per_class: Object.fromEntries(CLASSES.map((label, c) => [label, perClass[c][l]])),
          };
        }),
        example: { tokens: TOKENS, probs: Array.from({ length: o.layers }, (_, l) => TOKENS.map((_, k) => perToken[k][l])) },
      };
    }),
  };
}

/** Rank measures exactly as LILY.md defines them, from descending singular values. */
export function rankMeasures(sv: number[], tol = 1e-6): Pick<LayerSpectrum, 'numerical_rank' | 'effective_rank' | 'stable_rank'> {
  const max = sv[0] ?? 0;
  const sum = sv.reduce((a, b) => a + b, 0);
  const p = sv.filter((s) => s > 0).map((s) => s / sum);
  return {
    numerical_rank: sv.filter((s) => s > tol * max).length,
    effective_rank: sum > 0 ? Math.exp(entropyOf(p)) : 0,
    stable_rank: max > 0 ? sv.reduce((a, s) => a + s * s, 0) / (max * max) : 0,
  };
}

function spectrum(o: Required_, method: 'lily' | 'lora', step: number, seed: number): SpectrumReport {
  const rand = rng(seed);
  const rank = method === 'lily' ? o.r : loraRankAtBudget(o);
  return {
    step,
    method,
    targets: targetInfos(o).map((info) => {
      const layers = info.layers.map((layer) => {
        // Decay rate varies per layer; a few trailing values vanish (numerical rank < r).
        const tau = 1 + rand() * rank * 0.6;
        const vanish = Math.floor(rand() * Math.min(3, rank - 1));
        const sv = Array.from({ length: rank }, (_, i) => (i >= rank - vanish ? 0 : 0.05 * Math.exp(-i / tau) * (1 + rand() * 0.05)));
        sv.sort((a, b) => b - a);
        return { ...layer, singular_values: sv, ...rankMeasures(sv) };
      });
      const target: SpectrumReport['targets'][number] = {
        ...info,
        layers,
        r: rank,
        lora_rank_at_budget: loraRankAtBudget(o),
        trainable_params: method === 'lily' ? lilyParams(o) / o.targets.length : o.layers * rank * (o.dIn + o.dOut),
      };
      if (method === 'lily') target.expert_similarity = expertSimilarity(o, rand);
      return target;
    }),
  };
}

/** Cosine similarity of random B experts that share a common component (as trained ones do). */
function expertSimilarity(o: Required_, rand: () => number): number[][] {
  const dim = 64;
  const shared = Array.from({ length: dim }, () => gaussian(rand));
  const experts = Array.from({ length: o.experts }, () => {
    const weight = rand() * 0.9;
    return shared.map((s) => weight * s + gaussian(rand));
  });
  const norm = (v: number[]) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));
  return experts.map((a) => experts.map((b) => a.reduce((s, x, i) => s + x * b[i], 0) / (norm(a) * norm(b))));
}

function status(o: Required_, method: 'lily' | 'lora', step: number, runDir: string): RunStatus {
  const done = step >= o.steps;
  const last = metricsLines(o, method, Math.max(1, step - o.logEvery), step).filter((l): l is TrainMetricLine => l.type === 'train').pop();
  const evals = metricsLines(o, method, 0, step).filter((l): l is EvalMetricLine => l.type === 'eval');
  return {
    run_id: runDir.split('/').pop()!,
    name: method === 'lily' ? 'sentiment' : 'sentiment (LoRA)',
    state: done ? 'completed' : 'running',
    pid: 4242,
    method,
    task: 'sequence-classification',
    step,
    total_steps: o.steps,
    epoch: Math.floor(step / 50),
    started_at: '2025-01-01T12:00:00.000Z',
    updated_at: new Date(Date.UTC(2025, 0, 1, 12, 0, Math.round(step * 0.12))).toISOString(),
    ...(done ? { ended_at: new Date(Date.UTC(2025, 0, 1, 12, 0, Math.round(o.steps * 0.12))).toISOString() } : {}),
    device: 'cpu',
    config_path: '/workspace/examples/sentiment/sentiment.lily.json',
    trainable_params: method === 'lily' ? lilyParams(o) : o.targets.length * o.layers * loraRankAtBudget(o) * (o.dIn + o.dOut),
    loss: last?.loss,
    samples_per_s: last?.samples_per_s,
    eta_s: done ? 0 : (o.steps - step) * 0.12,
    eval: evals.at(-1)?.metrics,
    eval_before: evals[0]?.metrics,
  };
}

/** The main Lily run as the host would read it from its run directory, up to `upTo` steps. */
export function makeRunSnapshot(options: FixtureOptions = {}, method: 'lily' | 'lora' = 'lily'): RunSnapshot {
  const o = resolveOptions(options);
  const upTo = o.initSteps;
  const runDir = method === 'lily' ? o.runDir : `${o.runDir}-lora`;
  const model = routerModel(o, rng(o.seed));
  const lastEval = Math.floor(upTo / o.evalEvery) * o.evalEvery || upTo;
  return {
    runDir,
    status: status(o, method, upTo, runDir),
    config: adapterConfig(o, method),
    metrics: metricsLines(o, method, 0, upTo),
    router: method === 'lily' ? routerLines(o, model, 1, upTo) : [],
    routerStats: method === 'lily' ? routerStats(o, model, lastEval) : undefined,
    spectrum: spectrum(o, method, lastEval, o.seed + (method === 'lily' ? 100 : 200)),
  };
}

/** Messages a host would send while the run goes from `initSteps` to `steps`. */
export function makeUpdates(options: FixtureOptions = {}): HostToWebview[] {
  const o = resolveOptions(options);
  const model = routerModel(o, rng(o.seed));
  const updates: HostToWebview[] = [];
  for (let step = o.initSteps + 1; step <= o.steps; step++) {
    const metrics = metricsLines(o, 'lily', step, step);
    const router = routerLines(o, model, step, step);
    if (metrics.length || router.length) updates.push({ type: 'append', runDir: o.runDir, metrics, router });
    if (step % 10 === 0 || step === o.steps) updates.push({ type: 'status', runDir: o.runDir, status: status(o, 'lily', step, o.runDir) });
    if (step % o.evalEvery === 0) {
      updates.push({ type: 'routerStats', runDir: o.runDir, routerStats: routerStats(o, model, step) });
      updates.push({ type: 'spectrum', runDir: o.runDir, spectrum: spectrum(o, 'lily', step, o.seed + 100 + step) });
    }
  }
  return updates;
}

export function makeFixture(options: FixtureOptions = {}): DashboardFixture {
  const o = resolveOptions(options);
  const run = makeRunSnapshot(options, 'lily');
  const compare = o.noCompare ? undefined : makeRunSnapshot({ ...options, initSteps: o.steps }, 'lora');
  return {
    init: { type: 'init', run, ...(compare ? { compare } : {}) },
    runs: {
      type: 'runs',
      runs: [
        { runDir: run.runDir, name: run.status.name, method: 'lily', state: run.status.state },
        ...(compare ? [{ runDir: compare.runDir, name: compare.status.name, method: 'lora', state: compare.status.state }] : []),
      ],
    },
    updates: makeUpdates(options),
  };
}

/** Writes a snapshot as a run directory (the files runFiles.ts describes), e.g. for readers' tests. */
export function writeRunDirectory(dir: string, run: RunSnapshot): void {
  mkdirSync(dir, { recursive: true });
  const json = (name: string, value: unknown) => writeFileSync(join(dir, name), JSON.stringify(value, null, 2));
  const jsonl = (name: string, lines: unknown[]) => writeFileSync(join(dir, name), lines.map((l) => JSON.stringify(l) + '\n').join(''));
  json(RUN_FILES.status, run.status);
  if (run.config) json(RUN_FILES.config, run.config);
  jsonl(RUN_FILES.metrics, run.metrics);
  jsonl(RUN_FILES.router, run.router);
  if (run.routerStats) json(RUN_FILES.routerStats, run.routerStats);
  if (run.spectrum) json(RUN_FILES.spectrum, run.spectrum);
}

/** `window.__LILY_FIXTURE__ = …;` for a <script src> next to index.html. */
export function fixtureScript(fixture: DashboardFixture): string {
  return `window.__LILY_FIXTURE__ = ${JSON.stringify(fixture)};\n`;
}

function main(argv: string[]): void {
  const args = [...argv];
  const num = (flag: string): number | undefined => {
    const i = args.indexOf(flag);
    if (i < 0) return undefined;
    const value = Number(args[i + 1]);
    if (!Number.isFinite(value)) throw new Error(`make-fixture: ${flag} needs a number, got "${args[i + 1]}".`);
    args.splice(i, 2);
    return value;
  };
  const options: FixtureOptions = {
    layers: num('--layers'),
    experts: num('--experts'),
    steps: num('--steps'),
    initSteps: num('--init-steps'),
  };
  const runDirAt = args.indexOf('--run-dir');
  if (runDirAt >= 0) {
    const dir = resolve(args[runDirAt + 1] ?? '');
    writeRunDirectory(dir, makeRunSnapshot({ ...options, runDir: dir }));
    console.log(`make-fixture: wrote the run directory ${dir}`);
    return;
  }
  const live = args.includes('--live');
  if (live) args.splice(args.indexOf('--live'), 1);
  const out = resolve(args[0] ?? 'out/webview/fixture.js');
  const fixture = makeFixture(live ? { ...options, initSteps: options.initSteps ?? 20 } : options);
  if (live) fixture.autoplayMs = 150;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, out.endsWith('.json') ? JSON.stringify(fixture) : fixtureScript(fixture));
  console.log(`make-fixture: wrote ${out}${live ? ' (plays the rest of the run live)' : ''}`);
}

if (require.main === module) main(process.argv.slice(2));
