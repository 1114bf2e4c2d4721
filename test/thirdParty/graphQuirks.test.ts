// Issue #11 items 2 and 3: graph quirks of third-party exporters that ONNX Runtime accepts.
// - Nodes out of topological order: the loader sorts them (stable), so specialisation works;
//   an opset too old to train is reported before anything else.
// - Slice `ends` = INT64_MAX stored in TensorProto.int64_data (not raw_data): read exactly
//   (it used to round to 2^63, wrap to INT64_MIN and make the slice empty).
// Each quirk variant computes the same function with the same weights as `plain`, so it must
// train with the same losses.
import * as assert from 'assert';
import * as path from 'path';
import { loadModel } from '../../native-runtime/onnx/proto';
import { sortNodesTopologically } from '../../native-runtime/onnx/topoSort';
import type { Node } from '../../native-runtime/onnx/ir';
import { assertSameLosses, handModels, trainToy } from './models';

const ADAPTER = { target_modules: ['query'], modules_to_save: ['classifier'] };
const node = (name: string, inputs: string[], outputs: string[]): Node => ({ name, opType: 'Identity', domain: '', inputs, outputs, attrs: {} });

describe('third-party ONNX: graph quirks (node order, int64_data)', function () {
  this.timeout(120_000);
  let dirs: Record<string, string>;
  let plainLosses: number[];
  before(async () => {
    dirs = handModels(['plain', 'unsorted', 'unsorted-opset12', 'slice-int64-data']);
    const r = await trainToy(dirs.plain, ADAPTER);
    assert.strictEqual(r.code, 0, r.stderr);
    plainLosses = r.losses;
    assert.strictEqual(plainLosses.length, 3);
  });

  it('sortNodesTopologically keeps a valid order as it is and puts producers first otherwise (stable)', () => {
    const ordered = [node('a', ['x'], ['a']), node('b', ['x'], ['b']), node('c', ['a', 'b'], ['c'])];
    assert.strictEqual(sortNodesTopologically(ordered), ordered, 'no copy when already sorted');
    const shuffled = [node('c', ['a', 'b'], ['c']), node('b', ['x'], ['b']), node('d', ['c', ''], ['d']), node('a', ['x'], ['a'])];
    assert.deepStrictEqual(sortNodesTopologically(shuffled).map((n) => n.name), ['b', 'a', 'c', 'd']);
    const cycle = [node('p', ['q'], ['p']), node('q', ['p'], ['q']), node('r', ['x'], ['r'])];
    assert.deepStrictEqual(sortNodesTopologically(cycle).map((n) => n.name), ['r', 'p', 'q'], 'a cycle goes last, for later checks to name');
  });

  it('a model with nodes in reverse order loads sorted and trains like the ordered one', async () => {
    const m = loadModel(path.join(dirs.unsorted, 'model.onnx'));
    const seen = new Set<string>(['input_ids', 'attention_mask', ...m.graph.initializers.keys()]);
    for (const n of m.graph.nodes) {
      for (const i of n.inputs) assert.ok(!i || seen.has(i), `${n.name} reads ${i} before it is produced`);
      for (const o of n.outputs) seen.add(o);
    }
    const r = await trainToy(dirs.unsorted, ADAPTER);
    assert.strictEqual(r.code, 0, r.stderr);
    assertSameLosses(r.losses, plainLosses, 'unsorted vs plain');
  });

  it('an unsorted model at opset 12 exits 2 with the opset message, not a graph-order error', async () => {
    const r = await trainToy(dirs['unsorted-opset12'], ADAPTER);
    assert.strictEqual(r.code, 2, r.stderr);
    assert.match(r.stderr, /model\.path: model opset 12 is too old: .*opset >= 13.*opset_version=17/);
    assert.doesNotMatch(r.stderr, /onnxruntime|previous node|specialize/i);
  });

  it('Slice ends INT64_MAX in int64_data is read exactly, and the model trains like the raw_data one', async () => {
    const m = loadModel(path.join(dirs['slice-int64-data'], 'model.onnx'));
    assert.deepStrictEqual(Array.from(m.graph.initializers.get('slice_ends')!.data as BigInt64Array), [9223372036854775807n]);
    const r = await trainToy(dirs['slice-int64-data'], ADAPTER);
    assert.strictEqual(r.code, 0, r.stderr);
    assertSameLosses(r.losses, plainLosses, 'int64_data slice vs plain');
  });
});
