// loadModel keeps the weights as aligned views into the file's bytes (moved in place) instead
// of copying each tensor: the same values as a copying decode, including Constant-node
// tensors decoded from the same bytes, and one buffer behind all the big initializers.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import { loadModel, modelFromBytes } from '../../native-runtime/onnx/proto';
import { exportTinyBert } from '../autodiff/helpers/python';
import { exportedModel } from '../parity/exportedModels';

function sameModel(a: ReturnType<typeof loadModel>, b: ReturnType<typeof loadModel>): void {
  assert.deepEqual([...a.graph.initializers.keys()], [...b.graph.initializers.keys()], 'initializer order');
  for (const [k, t] of a.graph.initializers) {
    const u = b.graph.initializers.get(k)!;
    assert.equal(t.dtype, u.dtype, k);
    assert.deepEqual(t.dims, u.dims, k);
    assert.deepEqual(Array.from(t.data as ArrayLike<number | bigint>), Array.from(u.data as ArrayLike<number | bigint>), `values of ${k}`);
  }
  assert.deepEqual(a.graph.inputs, b.graph.inputs);
  assert.deepEqual(JSON.stringify(a.graph.nodes, (_, v) => (typeof v === 'bigint' ? String(v) : v)), JSON.stringify(b.graph.nodes, (_, v) => (typeof v === 'bigint' ? String(v) : v)));
}

describe('onnx/proto: loading adopts the file bytes', function () {
  this.timeout(60_000);

  it('gives the values a copying decode gives, as views into one buffer', () => {
    const m = exportedModel('encoder');
    const adopted = loadModel(m.onnx);
    sameModel(adopted, modelFromBytes(fs.readFileSync(m.onnx)));
    const buffers = new Set([...adopted.graph.initializers.values()].filter((t) => (t.data as Float32Array).byteLength >= 64).map((t) => (t.data as Float32Array).buffer));
    assert.equal(buffers.size, 1, 'the big initializers share the file buffer');
    for (const t of adopted.graph.initializers.values()) {
      const d = t.data as Float32Array;
      assert.equal(d.byteOffset % d.BYTES_PER_ELEMENT, 0, `${t.name} is aligned`);
    }
  });

  it('keeps Constant-node tensors intact while moving the weights (tiny BERT export)', async () => {
    const { onnxPath } = await exportTinyBert();
    const adopted = loadModel(onnxPath);
    assert.ok(adopted.graph.nodes.some((n) => n.opType === 'Constant'), 'the export has Constant nodes');
    sameModel(adopted, modelFromBytes(fs.readFileSync(onnxPath)));
  });
});
