// Runs the Python self-test of the oracle scripts (Lily/LoRA math against an independent numpy
// version, injection rules, finite-difference gradients, the trainer CLI, safetensors files),
// so that a broken oracle fails CI instead of silently agreeing with a broken engine.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { ORACLE_DIR, projectPython } from './oracleFiles';

describe('oracle: Python self-test (scripts/oracle/test_oracle.py)', function () {
  this.timeout(180_000);
  it('passes', () => {
    const res = spawnSync(projectPython(), [path.join(ORACLE_DIR, 'test_oracle.py')], {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1' },
      timeout: 170_000,
    });
    assert.strictEqual(res.status, 0, `test_oracle.py failed:\n${res.stderr.slice(-4000)}`);
    assert.match(res.stderr, /Ran \d+ tests/);
  });
});
