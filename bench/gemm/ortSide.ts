// onnxruntime-node's side of bench/gemm.mjs: times each frozen-weight product of
// bench/gemm/shapes.json the way the training step runs it: forward MatMul(x, W), backward
// Gemm(dY, W, transB=1), W [in, out] as the export stores it. Two weight modes: `shared` (W
// fed at run time, as the step's frozen weights are when train and eval sessions share them:
// MLAS packs W on every call) and `packed` (W an initializer, packed once when the session
// opens: runtime.pack_weights). Prints one JSON line per product and mode: the best of
// `repeats` timings of one product as shapes.json counts it (the LM head: all its chunks).
//
//   node --import tsx bench/gemm/ortSide.ts '{"threads": 2, "repeats": 5}'
import * as fs from 'fs';
import * as path from 'path';
import { performance } from 'perf_hooks';
import * as ort from 'onnxruntime-node';
import { GraphBuilder, attr, emptyGraph, floatTensor, type Model } from '../../native-runtime/onnx/ir';
import { modelToBytes } from '../../native-runtime/onnx/proto';
import { createSession } from '../../native-runtime/onnx/session';
import { mulberry32 } from '../../native-runtime/adapters/init';

interface Product { name: string; m: number; k: number; n: number; form: 'forward' | 'backward'; count: number; ours_chunks?: number; layout?: 'out_in' }

const rand = mulberry32(3);
const randomValues = (count: number, scale: number) => Float32Array.from({ length: count }, () => (rand() * 2 - 1) * scale);

/** W's dims as the export stores it: [in, out], or [out, in] for the LM head. */
const weightDims = (p: Product) => (p.layout === 'out_in' ? [p.n, p.k] : [p.k, p.n]);

/** One product as a one-node model; `rows` is the row count one call computes. */
function productModel(p: Product, rows: number, packed: boolean, w: Float32Array): Model {
  const g = emptyGraph('product');
  const b = new GraphBuilder(g);
  const input = p.form === 'forward' ? { name: 'x', shape: [rows, p.k] } : { name: 'dy', shape: [rows, p.n] };
  g.inputs.push({ name: input.name, dtype: 'float32', shape: input.shape });
  const dims = weightDims(p);
  let weight = 'w';
  if (packed) weight = b.constant(floatTensor('w', dims, w));
  else g.inputs.push({ name: 'w', dtype: 'float32', shape: dims });
  // x.W reads W [in, out] as it is and W [out, in] transposed; dY.W^T the other way round.
  const transposed = (p.form === 'forward') === (p.layout === 'out_in');
  if (!transposed) b.op('MatMul', [input.name, weight], {}, { outputs: ['y'] });
  else b.op('Gemm', [input.name, weight], { transB: attr.i(1) }, { outputs: ['y'] });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: [rows, p.form === 'forward' ? p.n : p.k] });
  return { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 'lily-bench', metadata: {} };
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2] ?? '{}') as { threads?: number; repeats?: number };
  const threads = a.threads ?? 2, repeats = a.repeats ?? 5;
  const { products } = JSON.parse(fs.readFileSync(path.join(__dirname, 'shapes.json'), 'utf8')) as { products: Product[] };
  for (const p of products) {
    const chunks = p.ours_chunks ?? 1;
    const rows = p.m / chunks;
    const w = randomValues(p.k * p.n, 1 / Math.sqrt(p.k));
    const x = new ort.Tensor('float32', randomValues(rows * (p.form === 'forward' ? p.k : p.n), 1), [rows, p.form === 'forward' ? p.k : p.n]);
    for (const mode of ['shared', 'packed'] as const) {
      const { session } = await createSession(modelToBytes(productModel(p, rows, mode === 'packed', w)), { device: 'cpu', threads, optimization: 'all' });
      const feeds: Record<string, ort.Tensor> = { [p.form === 'forward' ? 'x' : 'dy']: x };
      if (mode === 'shared') feeds.w = new ort.Tensor('float32', w, weightDims(p));
      for (let i = 0; i < 2; i++) await session.run(feeds);
      const ms: number[] = [];
      for (let r = 0; r < repeats; r++) {
        const t = performance.now();
        // One step's worth of this product's calls (the head: its chunks).
        for (let c = 0; c < chunks; c++) await session.run(feeds);
        ms.push(performance.now() - t);
      }
      await session.release();
      process.stdout.write(JSON.stringify({ name: p.name, mode, ms: Math.min(...ms) }) + '\n');
    }
  }
}

main().catch((e) => {
  process.stderr.write(`gemm/ortSide: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
