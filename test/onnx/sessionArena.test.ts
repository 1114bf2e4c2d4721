// session.ts memoryArena: what StepRunner relies on to keep several sessions' peaks from adding
// up (length buckets, the eval session). ORT's CPU arena keeps a run's intermediates after it
// ends; without the arena they go back to the system. Checked on resident memory (VmRSS) with a
// graph whose one intermediate is 128 MB, far above the noise of a Node process.
import * as assert from 'assert';
import * as fs from 'fs';
import * as ort from 'onnxruntime-node';
import { emptyGraph, int64Tensor, type Model } from '../../native-runtime/onnx/ir';
import { modelToBytes } from '../../native-runtime/onnx/proto';
import { createSession } from '../../native-runtime/onnx/session';

const ELEMENTS = 32 * 2 ** 20; // float32: 128 MB

/** y = ReduceSum(Expand(x, [ELEMENTS]) * x): one 128 MB intermediate per run, nothing kept. */
function bigIntermediateModel(): Model {
  const g = emptyGraph('arena');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [1] });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: [1] });
  g.initializers.set('shape', int64Tensor('shape', [1], [ELEMENTS]));
  g.initializers.set('axes', int64Tensor('axes', [1], [0]));
  g.nodes.push({ name: 'expand', opType: 'Expand', domain: '', inputs: ['x', 'shape'], outputs: ['big'], attrs: {} });
  g.nodes.push({ name: 'mul', opType: 'Mul', domain: '', inputs: ['big', 'x'], outputs: ['big2'], attrs: {} });
  g.nodes.push({ name: 'sum', opType: 'ReduceSum', domain: '', inputs: ['big2', 'axes'], outputs: ['y'], attrs: { keepdims: { kind: 'int', value: 1 } } });
  return { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 'test', metadata: {} };
}

const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;

/** Resident MB a session still holds after one run (compared with before the run). */
async function heldAfterRun(memoryArena: boolean): Promise<number> {
  const { session } = await createSession(modelToBytes(bigIntermediateModel()), { device: 'cpu', threads: 1, memoryArena, memoryPattern: false });
  const before = rssMb();
  const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(2), [1]) });
  assert.strictEqual((out.y.data as Float32Array)[0], 4 * ELEMENTS);
  const held = rssMb() - before;
  await session.release();
  return held;
}

describe('onnx/session memoryArena', function () {
  this.timeout(60_000);
  before(function () {
    if (process.platform !== 'linux') this.skip(); // reads /proc/self/status
  });

  it('with the arena a run\'s intermediates stay resident; without it they are given back', async () => {
    const kept = await heldAfterRun(true);
    const released = await heldAfterRun(false);
    assert.ok(kept > 100, `with the arena: ${kept.toFixed(0)} MB held after the run (expected >= 128 MB)`);
    assert.ok(released < 40, `without the arena: ${released.toFixed(0)} MB held after the run (expected ~0)`);
  });
});
