// The `lily` task's last line: the CLI's exit code in words that say what to do.
import * as assert from 'assert';
import { MIN_RUN_MS, endLine } from '../../src/taskModel';

describe('lily task: how it ends', () => {
  it('says what an exit code means', () => {
    assert.match(endLine(2, null), /invalid input \(exit code 2\): fix what is named above/);
    assert.match(endLine(130, null), /interrupted .*Resume/);
    assert.strictEqual(endLine(1, null), 'lily train exited with code 1');
    assert.strictEqual(endLine(null, 'SIGKILL'), 'lily train ended by SIGKILL');
  });
  it('never ends inside VS Code\'s 500 ms launch window', () => {
    assert.ok(MIN_RUN_MS > 500);
  });
});
