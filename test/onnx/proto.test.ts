// ONNX file I/O (native-runtime/onnx/proto.ts) on real torch exports, checked by running the
// files in onnxruntime: a round trip must not change a single output bit.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import type { Model, Tensor } from '../../native-runtime/onnx/ir';
import { onnx } from 'onnx-proto';
import { isLazyTensor, loadModel, modelFromBytes, modelToBytes, saveModel, tensorBytes } from '../../native-runtime/onnx/proto';
import { exportOracleModel, readSafetensors, type StTensor } from '../oracle/oracleFiles';
import { tempDir } from '../helpers/tempDir';

function toOrt(t: StTensor): ort.Tensor {
  return t.dtype === 'I64' ? new ort.Tensor('int64', t.data as BigInt64Array, t.shape) : new ort.Tensor('float32', t.data as Float32Array, t.shape);
}

/** Runs a model (path or bytes) on the export's sample inputs; returns the logits. */
async function logits(model: string | Uint8Array, sampleDir: string): Promise<Float32Array> {
  const sample = readSafetensors(path.join(sampleDir, 'sample.safetensors'));
  const session = typeof model === 'string'
    ? await ort.InferenceSession.create(model, { intraOpNumThreads: 1 })
    : await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
  const feeds = Object.fromEntries(session.inputNames.map((n) => [n, toOrt(sample.get(n)!)]));
  const out = await session.run(feeds);
  await session.release();
  return out.logits.data as Float32Array;
}

function assertSameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.strictEqual(a.length, b.length, `${what}: lengths`);
  assert.ok(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), `${what}: outputs differ`);
}

function assertSameInitializers(a: Model, b: Model): void {
  assert.deepStrictEqual([...a.graph.initializers.keys()].sort(), [...b.graph.initializers.keys()].sort());
  for (const [name, t] of a.graph.initializers) {
    const u = b.graph.initializers.get(name) as Tensor;
    assert.strictEqual(u.dtype, t.dtype, name);
    assert.deepStrictEqual(u.dims, t.dims, name);
    assert.ok(Buffer.from(tensorBytes(u)).equals(Buffer.from(tensorBytes(t))), `${name}: data differ`);
  }
}

describe('onnx/proto: reading and writing .onnx files', function () {
  this.timeout(60_000);
  let tmp: string;
  let inlineDir: string;
  let externalDir: string;
  let reference: Float32Array;

  before(async () => {
    tmp = tempDir('lily-proto-');
    inlineDir = exportOracleModel('encoder', { seed: 5 });
    externalDir = exportOracleModel('encoder', { seed: 5, externalData: true });
    reference = await logits(path.join(inlineDir, 'model.onnx'), inlineDir);
  });
  after(() => {
    for (const d of [tmp, inlineDir, externalDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  it('round-trips a torch export: load, save, reload gives identical ORT outputs and graph', async () => {
    const model = loadModel(path.join(inlineDir, 'model.onnx'));
    assert.deepStrictEqual(model.graph.inputs.map((i) => [i.name, i.dtype, i.shape]), [
      ['input_ids', 'int64', ['batch', 'seq']],
      ['attention_mask', 'int64', ['batch', 'seq']],
    ]);
    const file = path.join(tmp, 'roundtrip.onnx');
    saveModel(model, file);
    assertSameBits(await logits(file, inlineDir), reference, 'saved file');
    assertSameBits(await logits(modelToBytes(model), inlineDir), reference, 'bytes');
    const again = loadModel(file);
    assert.deepStrictEqual(again.graph.nodes, model.graph.nodes);
    assert.deepStrictEqual(again.graph.outputs, model.graph.outputs);
    assert.deepStrictEqual(again.opsetImports, model.opsetImports);
    assertSameInitializers(model, again);
  });

  it('saves with external data and reloads it, from another working directory too', async () => {
    const model = loadModel(path.join(inlineDir, 'model.onnx'));
    const dir = path.join(tmp, 'ext');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'model.onnx');
    saveModel(model, file, { externalData: true });
    const dataFile = file + '.data';
    assert.ok(fs.statSync(dataFile).size > 50_000, 'weights went to the data file');
    assert.ok(fs.statSync(file).size < fs.statSync(path.join(inlineDir, 'model.onnx')).size / 2, 'the .onnx file is small');
    const cwd = process.cwd();
    try {
      process.chdir(os.tmpdir()); // external data resolves against the model's folder, not the cwd
      const again = loadModel(file);
      assertSameInitializers(model, again);
      assertSameBits(await logits(file, inlineDir), reference, 'ORT from the external-data file');
    } finally {
      process.chdir(cwd);
    }
  });

  it('loads a torch export whose initializers live in one file per tensor', async () => {
    const file = path.join(externalDir, 'model.onnx');
    const names = fs.readdirSync(externalDir);
    assert.ok(names.includes('embeddings.word_embeddings.weight') && names.some((n) => n.startsWith('onnx__MatMul_')), `per-tensor data files present: ${names.join(', ')}`);
    assertSameBits(await logits(file, externalDir), reference, 'ORT on the torch layout');
    const model = loadModel(file);
    assertSameInitializers(loadModel(path.join(inlineDir, 'model.onnx')), model);
    const inline = path.join(tmp, 'inlined.onnx');
    saveModel(model, inline);
    assertSameBits(await logits(inline, inlineDir), reference, 'after re-inlining');
  });

  it('a truncated .onnx file gives an error naming the file', () => {
    const bytes = fs.readFileSync(path.join(inlineDir, 'model.onnx'));
    const file = path.join(tmp, 'truncated.onnx');
    // Cutting off just the trailing opset_import (4 bytes for torch's single import) leaves valid protobuf.
    for (const keep of [Math.floor(bytes.length / 2), bytes.length - 3, bytes.length - 4, 10]) {
      fs.writeFileSync(file, bytes.subarray(0, keep));
      assert.throws(() => loadModel(file), (e: Error) => {
        assert.ok(e.message.includes(file), `names the file: ${e.message}`);
        assert.match(e.message, /not a valid ONNX model|truncated/i);
        return true;
      }, `cut at ${keep} bytes`);
    }
  });

  it('a missing or short external-data file gives an error naming it and the tensor', () => {
    const dir = path.join(tmp, 'broken');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'model.onnx');
    saveModel(loadModel(path.join(inlineDir, 'model.onnx')), file, { externalData: true });
    const data = fs.readFileSync(file + '.data');
    fs.writeFileSync(file + '.data', data.subarray(0, data.length - 100));
    assert.throws(() => loadModel(file), (e: Error) => {
      assert.ok(e.message.includes(file + '.data'), e.message);
      assert.match(e.message, /initializer \S+: external data file .* is truncated/);
      return true;
    });
    fs.rmSync(file + '.data');
    assert.throws(() => loadModel(file), (e: Error) => {
      assert.ok(e.message.startsWith(file + ':'), `starts with the model path: ${e.message}`);
      assert.match(e.message, /initializer \S+: cannot open external data file .*model\.onnx\.data/);
      return true;
    });
  });

  it('lazyExternalBytes leaves large external tensors on disk, reads them on access, and reports a short file at load', () => {
    const eager = loadModel(path.join(externalDir, 'model.onnx'));
    const lazy = loadModel(path.join(externalDir, 'model.onnx'), { lazyExternalBytes: 4096 });
    const big = [...lazy.graph.initializers.values()].filter((t) => isLazyTensor(t));
    assert.ok(big.length >= 4, `some tensors are lazy (${big.length})`);
    for (const t of lazy.graph.initializers.values()) {
      const e = eager.graph.initializers.get(t.name)!;
      assert.equal(isLazyTensor(t), tensorBytes(e).byteLength >= 4096 && !isLazyTensor(e), t.name);
      assert.deepEqual(Buffer.from(tensorBytes(t)), Buffer.from(tensorBytes(e)), `${t.name}: same bytes`);
    }
    // Each access is a fresh read (nothing kept); assigning a value replaces the reader.
    const w = big[0];
    assert.notEqual(w.data, w.data);
    const mine = new Float32Array(tensorBytes(w).byteLength / 4).fill(3);
    w.data = mine;
    assert.ok(!isLazyTensor(w));
    assert.equal(w.data, mine);
    const dir = path.join(tmp, 'lazy-short');
    fs.mkdirSync(dir);
    const file = path.join(dir, 'model.onnx');
    saveModel(eager, file, { externalData: true });
    const data = fs.readFileSync(file + '.data');
    fs.writeFileSync(file + '.data', data.subarray(0, data.length - 100));
    assert.throws(() => loadModel(file, { lazyExternalBytes: 4096 }), /initializer \S+: external data file .* is truncated/);
  });

  it('reads fixed, symbolic and unknown dimensions (unknown is not 0)', () => {
    const bytes = onnx.ModelProto.encode(onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'dims',
        node: [{ opType: 'Identity', input: ['x'], output: ['y'], name: 'id' }],
        input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 0 }, { dimParam: 'batch' }, {}, { dimValue: 7 }] } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: 1 } } }],
      },
    })).finish();
    const m = modelFromBytes(bytes);
    assert.deepStrictEqual(m.graph.inputs[0].shape, [0, 'batch', 'x_dim2', 7]);
    assert.strictEqual(m.graph.outputs[0].shape, undefined, 'no shape: unknown rank');
    assert.deepStrictEqual(modelFromBytes(modelToBytes(m)).graph.inputs[0].shape, [0, 'batch', 'x_dim2', 7]);
  });

  it('a missing .onnx file names it', () => {
    assert.throws(() => loadModel(path.join(tmp, 'nope.onnx')), /cannot read model .*nope\.onnx/);
  });
});
