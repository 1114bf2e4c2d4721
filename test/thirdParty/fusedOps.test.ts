// Issue #11 item 5: an ONNX Runtime-optimized export fuses linear layers into com.microsoft
// contrib ops (Attention holds query/key/value as one [d, 3d] weight). `lily targets` used to
// drop them in silence; it must say which weights are hidden and that an unoptimized export is
// needed, and training must fail with that (exit 2), never with an ORT or autodiff internal.
import * as assert from 'assert';
import * as path from 'path';
import { hiddenLinearWeights } from '../../native-runtime/adapters/fusedOps';
import { listTargetGroups } from '../../native-runtime/adapters/targets';
import { loadModel } from '../../native-runtime/onnx/proto';
import type { ListTargetsResult } from '../../native-runtime/protocol';
import { lily } from '../cli/workspace';
import { thirdPartyModels, trainToy } from './models';

describe('third-party ONNX: fused contrib ops (ORT transformer optimizer)', function () {
  this.timeout(240_000);
  let dir: string;
  before(() => { dir = thirdPartyModels(['bert-ort-optimized@14'])['bert-ort-optimized@14']; });

  it('the export before fusion has query/key/value layers and nothing hidden; after fusion they are reported as hidden', () => {
    const raw = loadModel(path.join(dir, 'unoptimized.onnx'));
    assert.ok(listTargetGroups(raw).some((g) => g.suffix === 'attention.self.query' && g.modules.length === 2));
    assert.deepStrictEqual(hiddenLinearWeights(raw), []);
    const fused = loadModel(path.join(dir, 'model.onnx'));
    assert.ok(!listTargetGroups(fused).some((g) => /query|key|value/.test(g.suffix)));
    const hidden = hiddenLinearWeights(fused);
    assert.deepStrictEqual(hidden.map((h) => [h.op, h.dims]), [['com.microsoft.Attention', [32, 96]], ['com.microsoft.Attention', [32, 96]]]);
  });

  it('lily targets names the hidden weights and the export to use (text and --json)', async () => {
    const file = path.join(dir, 'model.onnx');
    const text = await lily(['targets', file], dir);
    assert.strictEqual(text.code, 0, text.stderr);
    assert.match(text.stdout, /attention\.output\.dense/);
    assert.match(text.stdout, /2 linear weight\(s\) are hidden inside fused ops \(com\.microsoft\.Attention\)/);
    assert.match(text.stdout, /query, key and value projections/);
    assert.match(text.stdout, /export the model again without that optimization/);
    const json = await lily(['targets', file, '--json'], dir);
    const res = JSON.parse(json.stdout) as ListTargetsResult;
    assert.strictEqual(res.hidden?.length, 2);
    assert.deepStrictEqual(res.hidden![0].dims, [32, 96]);
  });

  it('training a fused-away target, or through a fused op, exits 2 saying what to do', async () => {
    const q = await trainToy(dir, { target_modules: ['query'], modules_to_save: ['classifier'] });
    assert.strictEqual(q.code, 2, q.stderr);
    assert.match(q.stderr, /adapter\.target_modules: "query" matches no linear layer.*hidden inside fused ops \(com\.microsoft\.Attention\)/);
    const dense = await trainToy(dir, { target_modules: ['attention.output.dense'], modules_to_save: ['classifier'] });
    assert.strictEqual(dense.code, 2, dense.stderr);
    assert.match(dense.stderr, /model\.path: .*com\.microsoft\.\w+.*export the model again without that optimization/);
    assert.doesNotMatch(dense.stderr, /onnxruntime|\n\s+at /);
  });
});
