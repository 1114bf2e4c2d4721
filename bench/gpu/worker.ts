// The GPU bench's trainer (bench/gpu.sh): trains the bench decoder for a few steps on one device
// with StepRunner (the `lily train` code path) on man-page-length documents, and prints one JSON
// line: the device ORT ran on, per-step losses and times. Bundled by esbuild into one file.
//
//   node worker.cjs '{"modelDir": ..., "device": "webgpu"|"cpu", "steps": 12, "threads": 8}'
import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { loadModel } from '../../native-runtime/onnx/proto';
import { StepRunner } from '../../native-runtime/train/stepRunner';
import { loadHistogram, makeExamples, sampleLengths } from '../lib/data.mjs';
import { BatchStream } from '../ours/batches';

interface Args { modelDir: string; root: string; device: 'cpu' | 'webgpu'; steps: number; threads?: number; batch?: number; maxLength?: number }

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2] ?? '{}') as Args;
  if (!a.modelDir || !a.device || !a.root) throw new Error('gpu worker: expected {"modelDir", "root", "device", "steps"} as the first argument');
  const batch = a.batch ?? 4, T = a.maxLength ?? 512;
  const h = loadHistogram(a.root, 'lengths-manpages.json');
  const train = makeExamples(sampleLengths(h, a.steps * batch * 4, T, 11), 32000, false, 12);
  const t0 = performance.now();
  const model = loadModel(path.join(a.modelDir, 'model.onnx'));
  const stream = new BatchStream({ train, eval: [] }, batch, T, model.graph.inputs, 'causal-lm', { padding: 'max_length', max_length: T }, true);
  const first = stream.next();
  const runner = await StepRunner.create(model, Object.fromEntries(model.graph.inputs.map((i) => [i.name, [...first.tensors[i.name].dims]])), {
    adapter: { method: 'lily', target_modules: ['q_proj', 'v_proj'], r: 32, stride_A: 2, num_B: 4, scaling: 1, routing: 'batch' },
    task: 'causal-lm',
    optimizer: { optimizer: 'adamw', weight_decay: 0.01, max_grad_norm: 1 },
    device: a.device,
    threads: a.threads,
    seed: 7,
    shareFrozenWeights: true,
  });
  const ready = performance.now() - t0;
  const losses: number[] = [], ms: number[] = [];
  let b = first;
  for (let i = 0; i < a.steps; i++) {
    const t = performance.now();
    losses.push((await runner.step(b.tensors, 1e-4)).loss);
    ms.push(performance.now() - t);
    b = stream.next();
  }
  await runner.release();
  const out = { device_asked: a.device, device: runner.device, note: runner.deviceNote ?? null, first_step_ms: Math.round(ready), losses, ms: ms.map((x) => Math.round(x * 10) / 10), real_tokens_per_step: first.tokens };
  process.stdout.write(JSON.stringify(out) + '\n');
  fs.writeSync(2, `${a.device}: ${runner.device}, step ms ${out.ms.join(' ')}\n`);
}

main().catch((e) => {
  process.stderr.write(`gpu worker: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
