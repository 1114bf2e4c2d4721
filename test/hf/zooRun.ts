// One zoo training run through the real CLI (`lily train`, in-process): the *.lily.json for an
// entry × exporter × method (the same adapter, optimizer and batches as PEFT's reference in
// scripts/oracle/peft_ref.py, starting from PEFT's initial adapter folder), and what it logged.
import * as fs from 'fs';
import * as path from 'path';
import { readJsonl } from '../../native-runtime/io/atomic';
import type { LilyConfig } from '../../native-runtime/config/types';
import type { MetricLine } from '../../native-runtime/runFiles';
import { lily } from '../cli/workspace';
import type { Zoo } from './zooCache';

export type Method = 'lily' | 'lora';

export interface ZooRun {
  code: number;
  stderr: string;
  runDir?: string;
  /** Loss of each training step, in step order. */
  losses: number[];
  /** Eval-set loss after the last step. */
  evalLoss?: number;
}

export function zooConfig(zoo: Zoo, name: string, exporter: string, method: Method, workDir: string, extra: Partial<LilyConfig['adapter']> = {}): string {
  const e = zoo.entry(name);
  const dir = zoo.entryDir(name);
  const t = zoo.manifest.training;
  // Where PEFT cannot build the adapter (Lily on GPT-2's Conv1D) the engine starts from its own seeded init.
  const init = e.peft[method].ok ? path.join(dir, 'peft', method, 'init') : 'default';
  const common = { target_modules: e.targets, init, ...extra };
  const adapter = method === 'lily'
    ? { method, ...common, ...zoo.manifest.adapters.lily, routing: 'batch' as const }
    : { method, ...common, ...zoo.manifest.adapters.lora };
  const config: LilyConfig = {
    name: `${name} ${exporter} ${method}`,
    model: { path: path.join(dir, 'onnx', exporter, 'model.onnx'), task: e.task, ...(e.num_labels ? { num_labels: e.num_labels } : {}) },
    data: { train: path.join(dir, 'train.jsonl'), eval: path.join(dir, 'eval.jsonl'), max_length: e.seq },
    adapter,
    training: {
      max_steps: t.steps, batch_size: e.batch, lr: t.lr, betas: t.betas, eps: t.eps, weight_decay: t.weight_decay, optimizer: 'adamw',
      schedule: 'constant', warmup_steps: 0, max_grad_norm: 0, shuffle: false, seed: 0, log_every: 1, eval_every: t.steps,
    },
    runtime: { device: 'cpu', threads: 1 },
    output: { dir: path.join(workDir, 'runs') },
  };
  fs.mkdirSync(workDir, { recursive: true });
  const file = path.join(workDir, `${name}-${exporter}-${method}.lily.json`);
  fs.writeFileSync(file, JSON.stringify(config, null, 1));
  return file;
}

export async function trainZoo(zoo: Zoo, name: string, exporter: string, method: Method, workDir: string, extra: Partial<LilyConfig['adapter']> = {}): Promise<ZooRun> {
  const config = zooConfig(zoo, name, exporter, method, workDir, extra);
  const r = await lily(['train', config, '--json'], workDir);
  const started = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type?: string; runDir?: string }).find((ev) => ev.runDir);
  const runDir = started?.runDir;
  if (r.code !== 0 || !runDir) return { code: r.code, stderr: r.stderr, runDir, losses: [] };
  const lines = readJsonl<MetricLine>(path.join(runDir, 'metrics.jsonl'));
  const train = lines.filter((l): l is Extract<MetricLine, { type: 'train' }> => l.type === 'train').sort((a, b) => a.step - b.step);
  const evals = lines.filter((l): l is Extract<MetricLine, { type: 'eval' }> => l.type === 'eval');
  return { code: 0, stderr: r.stderr, runDir, losses: train.map((l) => l.loss), evalLoss: evals.at(-1)?.metrics.loss };
}

/** Largest |a-b|/|b| over paired values. */
export function maxRel(a: number[], b: number[]): number {
  if (a.length !== b.length) return Infinity;
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]) / Math.max(Math.abs(b[i]), 1e-12)), 0);
}
