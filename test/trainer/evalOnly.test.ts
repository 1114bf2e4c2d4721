// `lily eval` prepares an eval-only runner: the same metrics as a training runner's evaluation,
// without opening the training session; such a runner refuses to take a step.
import * as assert from 'assert';
import { loadConfig } from '../../native-runtime/config/validate';
import { evaluate, prepareTraining } from '../../native-runtime/train/trainer';
import { makeWorkspace, tinyEncoder } from '../cli/workspace';

describe('trainer: eval-only preparation', function () {
  this.timeout(60000);
  before(() => { tinyEncoder(); });

  it('evaluates like a training runner and cannot step', async () => {
    const ws = makeWorkspace();
    const config = loadConfig(ws.config, undefined, { cwd: ws.dir });
    const full = await prepareTraining({ config });
    const want = await evaluate(full.runner, full.data, config.model.task);
    full.data.close();
    await full.runner.release();

    const prep = await prepareTraining({ config, evalOnly: true });
    try {
      const got = await evaluate(prep.runner, prep.data, config.model.task);
      assert.ok(want && got);
      for (const k of Object.keys(want)) assert.ok(Math.abs(got[k] - want[k]) <= 1e-6, `${k}: ${got[k]} vs ${want[k]}`);
      await assert.rejects(prep.runner.step(prep.data.trainBatch(0).tensors, 1e-3), /evalOnly/);
    } finally {
      prep.data.close();
      await prep.runner.release();
    }
  });
});
