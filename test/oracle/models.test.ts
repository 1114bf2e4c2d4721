// The PyTorch oracle models (scripts/oracle/models.py), exported by torch.onnx.export, must
// compute in onnxruntime exactly what they compute in torch: everything else in the project
// is checked against them.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { loadModel } from '../../native-runtime/onnx/proto';
import { exportOracleModel, maxAbsDiff, readSafetensors, type StTensor } from './oracleFiles';

const KINDS = ['encoder', 'decoder', 'vit'] as const;

function toOrt(t: StTensor): ort.Tensor {
  if (t.dtype === 'I64') return new ort.Tensor('int64', t.data as BigInt64Array, t.shape);
  if (t.dtype === 'F32') return new ort.Tensor('float32', t.data as Float32Array, t.shape);
  throw new Error(`unexpected sample dtype ${t.dtype}`);
}

/** Rows [0, rows) and positions [0, seq) of a [batch, seq, ...] or [batch, ...] tensor. */
function slice(t: StTensor, rows: number, seq?: number): StTensor {
  const shape = [rows, ...t.shape.slice(1)];
  if (seq !== undefined) shape[1] = seq;
  const rowSize = t.shape.slice(1).reduce((a, b) => a * b, 1);
  const inner = t.shape.slice(2).reduce((a, b) => a * b, 1);
  const keep = seq === undefined ? rowSize : seq * inner;
  const Ctor = t.data.constructor as { new (n: number): StTensor['data'] };
  const data = new Ctor(rows * keep);
  for (let r = 0; r < rows; r++) {
    (data as Float32Array).set((t.data as Float32Array).subarray(r * rowSize, r * rowSize + keep), r * keep);
  }
  return { dtype: t.dtype, shape, data };
}

describe('oracle models: torch vs onnxruntime', function () {
  this.timeout(120_000);
  const dirs = new Map<string, string>();

  before(() => {
    for (const kind of KINDS) dirs.set(kind, exportOracleModel(kind, { seed: 3 }));
  });
  after(() => {
    for (const d of dirs.values()) fs.rmSync(d, { recursive: true, force: true });
  });

  for (const kind of KINDS) {
    it(`${kind}: ORT logits equal torch logits (1e-5) on a padded batch`, async () => {
      const dir = dirs.get(kind)!;
      const sample = readSafetensors(path.join(dir, 'sample.safetensors'));
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { inputs: string[] };
      const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), { intraOpNumThreads: 1 });
      assert.deepStrictEqual([...session.inputNames], manifest.inputs);
      const feeds = Object.fromEntries(manifest.inputs.map((n) => [n, toOrt(sample.get(n)!)]));
      const out = await session.run(feeds);
      const want = sample.get('logits')!;
      assert.deepStrictEqual(out.logits.dims, want.shape);
      const diff = maxAbsDiff(out.logits.data as Float32Array, want.data as Float32Array);
      assert.ok(diff <= 1e-5, `max |ORT - torch| = ${diff}`);
      // The logits must not be trivially equal (e.g. all zeros): rows differ.
      const logits = want.data as Float32Array;
      assert.ok(Math.abs(logits[0] - logits[logits.length - 1]) > 1e-4, 'logits vary');
      await session.release();
    });
  }

  it('batch (and seq for the decoder) are dynamic: a sub-batch gives the same rows', async () => {
    for (const kind of KINDS) {
      const dir = dirs.get(kind)!;
      const sample = readSafetensors(path.join(dir, 'sample.safetensors'));
      const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), { intraOpNumThreads: 1 });
      // Row 0 has no padding; a causal LM's first k positions do not see the rest.
      const seq = kind === 'decoder' ? 4 : undefined;
      const feeds = Object.fromEntries(session.inputNames.map((n) => [n, toOrt(slice(sample.get(n)!, 1, seq))]));
      const out = await session.run(feeds);
      const want = slice(sample.get('logits')!, 1, seq);
      assert.deepStrictEqual(out.logits.dims, want.shape, kind);
      const diff = maxAbsDiff(out.logits.data as Float32Array, want.data as Float32Array);
      assert.ok(diff <= 1e-5, `${kind}: max |ORT - torch| = ${diff}`);
      await session.release();
    }
  });

  it('node names carry torch module paths and every nn.Linear is present', () => {
    for (const kind of KINDS) {
      const dir = dirs.get(kind)!;
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { linear_modules: [string, number, number][] };
      const names = new Set(loadModel(path.join(dir, 'model.onnx')).graph.nodes.map((n) => n.name));
      for (const [module] of manifest.linear_modules) {
        const prefix = '/' + module.split('.').reduce<string[]>((parts, p) => {
          // torch joins a ModuleList index to its parent with a dot: encoder/layer.0/attention
          if (/^\d+$/.test(p) && parts.length) parts[parts.length - 1] += '.' + p;
          else parts.push(p);
          return parts;
        }, []).join('/') + '/';
        assert.ok([...names].some((n) => n.startsWith(prefix) && /(MatMul|Gemm)$/.test(n)), `${kind}: no MatMul/Gemm node under ${prefix}`);
      }
    }
    const enc = loadModel(path.join(dirs.get('encoder')!, 'model.onnx')).graph.nodes.map((n) => n.name);
    assert.ok(enc.includes('/encoder/layer.0/attention/self/value/MatMul'), 'BERT-style value projection node');
  });
});
