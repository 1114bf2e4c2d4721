// Issue #11 item 1: a model exported at opset 13-15 must train. The gradient of Gather on an
// activation (DistilBERT's CLS pooling `hidden[:, 0]`) is a ScatterND with reduction="add",
// an opset-16 attribute; ORT used to refuse the step graph ("Unrecognized attribute: reduction
// for operator ScatterND"). The step is now built at opset 17; the same model exported at 13,
// 14 and 17 must give the same losses.
import * as assert from 'assert';
import { assertSameLosses, thirdPartyModels, trainToy } from './models';

const OPSETS = [13, 14, 17];

async function trainLosses(modelDir: string): Promise<number[]> {
  const r = await trainToy(modelDir, { target_modules: ['q_lin', 'v_lin'], modules_to_save: ['pre_classifier', 'classifier'] });
  assert.strictEqual(r.code, 0, r.stderr);
  return r.losses;
}

describe('third-party ONNX: models exported at opset 13-16 train (Gather gradient)', function () {
  this.timeout(240_000);
  let dirs: Record<string, string>;
  before(() => { dirs = thirdPartyModels(OPSETS.map((o) => `distilbert@${o}`)); });

  it('DistilBERT (CLS pooling) at opsets 13, 14 and 17: trains, with equal losses', async () => {
    const losses = new Map<number, number[]>();
    for (const o of OPSETS) losses.set(o, await trainLosses(dirs[`distilbert@${o}`]));
    const ref = losses.get(17)!;
    assert.strictEqual(ref.length, 3);
    assert.ok(ref[2] !== ref[0], 'training changes the loss');
    for (const o of [13, 14]) assertSameLosses(losses.get(o)!, ref, `opset ${o} vs 17`);
  });
});
