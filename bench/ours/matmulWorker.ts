// The machine's float32 MatMul rate as onnxruntime reaches it, the yardstick for the training
// step's FLOP rate: a chain of four [1024, 768] x [768, 768] MatMuls (the 768-wide model's
// projection shape at 8 x 128 tokens) with frozen weights, on the same thread count.
// Served over the worker protocol (protocol.ts); each `run` reply carries `flops_per_run`.
//
//   node --import tsx bench/ours/matmulWorker.ts '{"threads": 2, "m": 1024, "k": 768, "n": 768}'
import { performance } from 'perf_hooks';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, emptyGraph, floatTensor, type Model } from '../../native-runtime/onnx/ir';
import { modelToBytes } from '../../native-runtime/onnx/proto';
import { createSession } from '../../native-runtime/onnx/session';
import { mulberry32 } from '../../native-runtime/adapters/init';
import { reply, serve } from './protocol';

const CHAIN = 4;

function chainModel(m: number, k: number, n: number): Model {
  if (k !== n) throw new Error(`matmulWorker: a chain needs square weights (k = n), got k=${k}, n=${n}`);
  const g = emptyGraph('matmul_rate');
  const b = new GraphBuilder(g);
  const rand = mulberry32(5);
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [m, k] });
  let x = 'x';
  for (let i = 0; i < CHAIN; i++) {
    // Scaled so values stay O(1) through the chain (no denormals or overflow to slow it down).
    const w = b.constant(floatTensor(`w${i}`, [k, n], Float32Array.from({ length: k * n }, () => (rand() * 2 - 1) / Math.sqrt(k))));
    x = b.op('MatMul', [x, w], {}, { outputs: i === CHAIN - 1 ? ['y'] : 1 })[0];
  }
  g.outputs.push({ name: 'y', dtype: 'float32', shape: [m, n] });
  return { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 'lily-bench', metadata: {} };
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2] ?? '{}') as { threads?: number; m?: number; k?: number; n?: number };
  const m = a.m ?? 1024, k = a.k ?? 768, n = a.n ?? 768;
  const { session } = await createSession(modelToBytes(chainModel(m, k, n)), { device: 'cpu', threads: a.threads ?? 2, optimization: 'all' });
  const rand = mulberry32(6);
  const x = new ort.Tensor('float32', Float32Array.from({ length: m * k }, () => rand() * 2 - 1), [m, k]);
  const y = new ort.Tensor('float32', new Float32Array(m * n), [m, n]);
  const flops = CHAIN * 2 * m * k * n;
  for (let i = 0; i < 3; i++) await session.run({ x }, { y });
  reply({ ready: true, shape: [m, k, n], flops_per_run: flops });
  await serve(async (count) => {
    const ms: number[] = [];
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      await session.run({ x }, { y });
      ms.push(performance.now() - t);
    }
    return { ms, loss: NaN };
  }, () => session.release());
}

main().catch((e) => {
  process.stderr.write(`matmulWorker: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
