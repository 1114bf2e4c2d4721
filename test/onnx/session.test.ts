// Real onnxruntime-node sessions: CPU runs, device fallback under `auto`, clear errors for an
// explicit device that cannot start. On a machine with a working GPU the fallback tests adapt.
import * as assert from 'assert';
import * as ort from 'onnxruntime-node';
import { attr, emptyGraph, GraphBuilder, type Model } from '../../native-runtime/onnx/ir';
import { createSession, cudaProviderInstalled, ortInt64, ortTensor, zerosF32 } from '../../native-runtime/onnx/session';
import { modelToBytes } from '../../native-runtime/onnx/proto';
import { onnx } from 'onnx-proto';

/** y = relu(x) + 1, x: float32 [n]. Built as raw protobuf so this test does not depend on the IR builder. */
function tinyModel(): Uint8Array {
  const vi = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'n' }] } } } });
  const m = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'tiny',
      node: [
        { opType: 'Relu', input: ['x'], output: ['r'], name: 'relu' },
        { opType: 'Add', input: ['r', 'one'], output: ['y'], name: 'add' },
      ],
      initializer: [{ name: 'one', dataType: 1, dims: [], floatData: [1] }],
      input: [vi('x')],
      output: [vi('y')],
    },
  });
  return onnx.ModelProto.encode(m).finish();
}

async function webgpuWorks(): Promise<boolean> {
  try {
    const s = await ort.InferenceSession.create(tinyModel(), { executionProviders: ['webgpu'] });
    await s.release();
    return true;
  } catch {
    return false;
  }
}

describe('onnx/session', () => {
  it('runs on cpu with the requested thread count', async () => {
    const { session, device, note } = await createSession(tinyModel(), { device: 'cpu', threads: 1 });
    assert.strictEqual(device, 'cpu');
    assert.strictEqual(note, undefined);
    const out = await session.run({ x: ortTensor('float32', new Float32Array([-2, 0.5, 3]), [3]) });
    assert.deepStrictEqual(Array.from(out.y.data as Float32Array), [1, 1.5, 4]);
    await session.release();
  });

  it('writes into preallocated outputs passed as the second argument of run', async () => {
    const { session } = await createSession(tinyModel(), { device: 'cpu', threads: 1, optimization: 'disabled' });
    const y = zerosF32([2]);
    await session.run({ x: ortTensor('float32', new Float32Array([-1, 2]), [2]) }, { y });
    assert.deepStrictEqual(Array.from(y.data as Float32Array), [1, 3]);
    await session.release();
  });

  it('auto falls back past webgpu and cuda with a note saying why', async function () {
    if (await webgpuWorks()) this.skip(); // a GPU machine: the fallback cannot be observed
    const { session, device, note } = await createSession(tinyModel(), { device: 'auto', threads: 1 });
    assert.strictEqual(device, 'cpu');
    assert.ok(note, 'a note explains the fallback');
    assert.match(note!, /^using cpu \(/);
    assert.match(note!, /webgpu: .+/);
    if (!cudaProviderInstalled()) assert.match(note!, /cuda: provider not installed/);
    await session.release();
  });

  it('an explicit webgpu that cannot start throws an error saying how to fix it', async function () {
    if (await webgpuWorks()) this.skip();
    await assert.rejects(createSession(tinyModel(), { device: 'webgpu' }), (e: Error) => {
      assert.match(e.message, /runtime\.device "webgpu"/);
      assert.match(e.message, /"device": "cpu"/);
      return true;
    });
  });

  it('an explicit cuda without the provider names the install setting', async function () {
    if (cudaProviderInstalled()) this.skip();
    await assert.rejects(createSession(tinyModel(), { device: 'cuda' }), /onnxruntime-node-install=cuda12/);
  });

  it('a broken model is reported with its path, not as a device problem', async () => {
    await assert.rejects(createSession('/nonexistent/model.onnx', { device: 'cpu' }), /\/nonexistent\/model\.onnx/);
  });

  it('rejects a bad thread count naming the field', async () => {
    await assert.rejects(createSession(tinyModel(), { device: 'cpu', threads: 0 }), /runtime\.threads/);
  });

  it('builds int64 tensors and checks element counts', () => {
    const t = ortInt64([1, 2, 3, 4], [2, 2]);
    assert.strictEqual(t.type, 'int64');
    assert.deepStrictEqual(Array.from(t.data as BigInt64Array), [1n, 2n, 3n, 4n]);
    assert.throws(() => ortInt64([1, 2, 3], [2, 2]), /3 elements for dims \[2,2\]/);
  });

  it('runs a model built through the IR and proto.ts (Gemm with a weight initializer)', async () => {
    const graph = emptyGraph('ir');
    const b = new GraphBuilder(graph);
    graph.inputs.push({ name: 'x', dtype: 'float32', shape: ['batch', 2] });
    const w = b.constant({ name: 'w', dtype: 'float32', dims: [3, 2], data: Float32Array.from([1, 0, 0, 1, 1, 1]) });
    const y = b.op1('Gemm', ['x', w], { transB: attr.i(1) }, 'proj');
    graph.outputs.push({ name: y, dtype: 'float32', shape: ['batch', 3] });
    const model: Model = { graph, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 'test', metadata: {} };
    const { session } = await createSession(modelToBytes(model), { device: 'cpu', threads: 1 });
    const out = await session.run({ x: ortTensor('float32', Float32Array.from([2, 3, -1, 4]), [2, 2]) });
    assert.deepStrictEqual(Array.from(out[y].data as Float32Array), [2, 3, 5, -1, 4, 3]);
    await session.release();
  });
});
