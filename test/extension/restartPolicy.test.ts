// The backend restart policy, on a clock we control and against real processes that crash.
import * as assert from 'assert';
import { BackendSupervisor } from '../../src/backendProcess';
import { RestartPolicy } from '../../src/restartPolicy';
import { Methods, type ListTargetsResult } from '../../native-runtime/protocol';
import { configFixture, serverLaunch } from './fixtures';

describe('RestartPolicy', () => {
  it('restarts 4 times within 3 minutes, then stops', () => {
    let t = 0;
    const p = new RestartPolicy(4, 180_000, () => t);
    const decisions = [0, 10_000, 20_000, 30_000, 40_000].map((at) => { t = at; return p.onCrash().action; });
    assert.deepStrictEqual(decisions, ['restart', 'restart', 'restart', 'restart', 'stop']);
  });

  it('forgets crashes older than the window', () => {
    let t = 0;
    const p = new RestartPolicy(4, 180_000, () => t);
    for (const at of [0, 1000, 2000, 3000]) { t = at; assert.strictEqual(p.onCrash().action, 'restart'); }
    t = 200_000; // the first crashes are more than 3 minutes old now
    assert.deepStrictEqual(p.onCrash(), { action: 'restart', attempt: 1 });
  });

  it('reset() starts over after a manual restart', () => {
    const p = new RestartPolicy(1, 180_000, () => 0);
    assert.strictEqual(p.onCrash().action, 'restart');
    assert.strictEqual(p.onCrash().action, 'stop');
    p.reset();
    assert.strictEqual(p.onCrash().action, 'restart');
  });
});

describe('BackendSupervisor against real processes', function () {
  this.timeout(60_000);

  it('gives up on a backend that crashes at every start, with its stderr', async () => {
    let gaveUp: { reason: string; tail: string } | undefined;
    const restarts: number[] = [];
    const sup = new BackendSupervisor(
      { command: process.execPath, args: ['-e', 'process.stderr.write("model loader exploded\\n"); process.exit(3)'] },
      { onGiveUp: (reason, tail) => { gaveUp = { reason, tail }; }, onRestart: (n) => restarts.push(n) },
    );
    await assert.rejects(sup.ready(), /crashed 5 times in 3 minutes/);
    assert.deepStrictEqual(restarts, [1, 2, 3, 4]);
    assert.ok(gaveUp, 'onGiveUp was called');
    assert.match(gaveUp!.tail, /model loader exploded/);
    assert.match(gaveUp!.reason, /Restart Backend/);
    assert.strictEqual(sup.currentState, 'stopped');
    // Still down: no sixth process behind the user's back.
    await assert.rejects(sup.ready(), /crashed 5 times/);
  });

  it('gives up at once when the backend executable does not exist', async () => {
    const sup = new BackendSupervisor({ command: '/nonexistent/lily-node', args: [] });
    await assert.rejects(sup.ready(), /cannot start the Lily backend \(\/nonexistent\/lily-node\)/);
    assert.strictEqual(sup.currentState, 'stopped');
  });

  it('restarts the real server after it is killed, and it answers again', async () => {
    const fx = configFixture();
    const sup = new BackendSupervisor(serverLaunch(fx.dir));
    try {
      const first = await sup.ready();
      const firstPid = first.process.pid;
      first.process.kill('SIGKILL');
      // ready() waits through the automatic restart.
      await sup.nextStateChange();
      const second = await sup.ready();
      assert.notStrictEqual(second.process.pid, firstPid);
      assert.strictEqual(sup.restarts.length, 1);
      const r = await second.request<ListTargetsResult>(Methods.listTargets, { modelPath: fx.modelPath });
      assert.ok(r.targets.some((t) => t.suffix === 'attention.self.value'));
    } finally {
      await sup.dispose();
    }
    assert.strictEqual(sup.currentState, 'disposed');
  });
});
