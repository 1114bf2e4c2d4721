// One finite-difference check per case (cases.ts): analytic gradients from buildGradients
// against central differences of the loss, both computed by onnxruntime-node.
import { strict as assert } from 'assert';
import { CASES } from './cases';
import { gradCheck } from './helpers/gradcheck';

describe('autodiff: finite-difference check per rule', function () {
  this.timeout(60000);
  for (const c of CASES) {
    it(c.title, async () => {
      const r = await gradCheck(c);
      assert.ok(Number.isFinite(r.maxAbsErr), `${c.title}: non-finite error (${r.worst})`);
    });
  }
});
