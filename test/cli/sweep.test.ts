// `lily sweep`: the grid parsed and applied, every point trained as a normal run with its
// overrides in config.json and a sweep.json grouping them, a summary table, and bad grids
// refused with exit 2 before anything trains.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { applyOverride, combinations, overrideLabel, parseGrid } from '../../native-runtime/cli/sweepGrid';
import { lily, makeWorkspace } from './workspace';

describe('cli: sweep grid', () => {
  it('parses axes, values as JSON where they parse, and every combination in order', () => {
    const axes = parseGrid(['training.lr=1e-3,3e-3', 'adapter.scaling=1,2', 'adapter.routing=batch,token']);
    assert.deepStrictEqual(axes[0], { path: ['training', 'lr'], values: [0.001, 0.003] });
    assert.deepStrictEqual(axes[2].values, ['batch', 'token']);
    const points = combinations(axes);
    assert.strictEqual(points.length, 8);
    assert.strictEqual(overrideLabel(points[0]), 'lr=0.001 scaling=1 routing=batch');
    assert.strictEqual(overrideLabel(points[7]), 'lr=0.003 scaling=2 routing=token');
    const cfg = { training: { lr: 0.1, epochs: 1 }, adapter: { method: 'lily' } };
    assert.deepStrictEqual(applyOverride(cfg, points[1]), { training: { lr: 0.001, epochs: 1 }, adapter: { method: 'lily', scaling: 1, routing: 'token' } });
    assert.strictEqual(cfg.training.lr, 0.1, 'the base config is not modified');
  });

  it('refuses malformed axes, repeated fields and paths through values', () => {
    assert.throws(() => parseGrid([]), /at least one axis/);
    assert.throws(() => parseGrid(['lr']), /expected FIELD\.PATH=V1,V2/);
    assert.throws(() => parseGrid(['training.lr=']), /no values/);
    assert.throws(() => parseGrid(['training.lr=1', 'training.lr=2']), /appears twice/);
    assert.throws(() => applyOverride({ training: 3 }, [{ path: ['training', 'lr'], value: 1 }]), /training is not a section/);
  });
});

describe('cli: lily sweep', function () {
  this.timeout(180_000);

  it('trains each point as a normal run with its overrides, grouped by sweep.json, and prints a table', async () => {
    const ws = makeWorkspace({ training: { max_steps: 2, eval_every: 1, log_every: 1 } });
    try {
      const r = await lily(['sweep', ws.config, '--grid', 'training.lr=0.001,0.01', 'adapter.scaling=1,2', '--threads', '1'], ws.dir);
      assert.strictEqual(r.code, 0, r.stderr);
      const runs = fs.readdirSync(ws.runsDir).map((d) => path.join(ws.runsDir, d));
      assert.strictEqual(runs.length, 4);
      const members = runs.map((d) => JSON.parse(fs.readFileSync(path.join(d, 'sweep.json'), 'utf8')));
      assert.strictEqual(new Set(members.map((m) => m.sweep_id)).size, 1, 'one sweep id for all points');
      assert.deepStrictEqual(members.map((m) => m.index).sort(), [0, 1, 2, 3]);
      assert.ok(members.every((m) => m.parallel === 1 && m.threads === 1), 'one at a time, with the threads given');
      assert.ok(members.every((m) => m.sweep_pid === process.pid), 'the sweep process (here in-process) is named for Stop');
      for (const [i, d] of runs.entries()) {
        const config = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
        const status = JSON.parse(fs.readFileSync(path.join(d, 'status.json'), 'utf8'));
        assert.strictEqual(status.state, 'completed');
        assert.strictEqual(config.training.lr, members[i].overrides['training.lr'], 'the run trained its own point');
        assert.strictEqual(config.adapter.scaling, members[i].overrides['adapter.scaling']);
        assert.match(status.name, /\[lr=0\.0\d+ scaling=[12]\]$/);
      }
      const table = r.stdout.split('\n').filter((l) => l.startsWith('| 0.0'));
      assert.strictEqual(table.length, 4, r.stdout);
      assert.match(table[0], /^\| 0\.001 \| 1 \| \d\.\d{4} \| \d\.\d{4} \| completed \|/);
    } finally {
      fs.rmSync(ws.dir, { recursive: true, force: true });
    }
  });

  it('--parallel 2 --threads 2: the points train in point processes, 1 thread each, grouped and tabled the same way', async () => {
    // The point processes run the built CLI (bin/lily.js -> out/): `npm run build` first.
    const ws = makeWorkspace({ training: { max_steps: 2, eval_every: 1, log_every: 1 } });
    try {
      const r = await lily(['sweep', ws.config, '--grid', 'training.lr=0.001,0.01', 'adapter.scaling=1,2', '--parallel', '2', '--threads', '2', '--json'], ws.dir);
      assert.strictEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, /2 at a time, 1 thread each \(2 threads \/ 2\)/);
      assert.match(r.stderr, /^\[1\/4 lr=0\.001 scaling=1\] /m, 'point logs are prefixed with their point');
      const runs = fs.readdirSync(ws.runsDir).map((d) => path.join(ws.runsDir, d));
      assert.strictEqual(runs.length, 4);
      const members = runs.map((d) => JSON.parse(fs.readFileSync(path.join(d, 'sweep.json'), 'utf8')));
      const statuses = runs.map((d) => JSON.parse(fs.readFileSync(path.join(d, 'status.json'), 'utf8')));
      assert.strictEqual(new Set(members.map((m) => m.sweep_id)).size, 1, 'one sweep id for all points');
      assert.deepStrictEqual(members.map((m) => m.index).sort(), [0, 1, 2, 3]);
      assert.ok(members.every((m) => m.parallel === 2 && m.threads === 1), JSON.stringify(members));
      assert.ok(members.every((m) => m.sweep_pid === process.pid), 'point processes name the sweep process, not themselves');
      assert.ok(statuses.every((s) => s.state === 'completed'), JSON.stringify(statuses.map((s) => s.state)));
      const pids = new Set(statuses.map((s) => s.pid));
      assert.strictEqual(pids.size, 4, 'each point trained in its own process');
      assert.ok(!pids.has(process.pid), 'not in the sweep\'s process');
      for (const [i, d] of runs.entries()) {
        const config = JSON.parse(fs.readFileSync(path.join(d, 'config.json'), 'utf8'));
        assert.strictEqual(config.training.lr, members[i].overrides['training.lr'], 'the run trained its own point');
        assert.strictEqual(config.adapter.scaling, members[i].overrides['adapter.scaling']);
      }
      const events = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      const started = events.filter((e) => e.event === 'started');
      assert.deepStrictEqual(started.map((e) => e.point).sort(), [0, 1, 2, 3], 'each point\'s events are passed on with its index');
      const summary = events[events.length - 1];
      assert.strictEqual(summary.event, 'sweep');
      assert.strictEqual(summary.threadsPerRun, 1);
      assert.deepStrictEqual(summary.results.map((x: { index: number; state: string }) => `${x.index}:${x.state}`), ['0:completed', '1:completed', '2:completed', '3:completed']);
      assert.ok(summary.results.every((x: { final?: number; best?: number }) => Number.isFinite(x.final) && Number.isFinite(x.best)), 'final and best eval per point');
    } finally {
      fs.rmSync(ws.dir, { recursive: true, force: true });
    }
  });

  it('--parallel: SIGTERM stops the running points the gentle way (checkpoint, stopped), starts no more, exits 130', async () => {
    const ws = makeWorkspace({ training: { max_steps: 100_000, eval_every: 100_000, log_every: 1 } });
    try {
      const pending = lily(['sweep', ws.config, '--grid', 'training.lr=0.001,0.003,0.01', '--parallel', '2', '--threads', '2'], ws.dir);
      const statuses = () => (fs.existsSync(ws.runsDir) ? fs.readdirSync(ws.runsDir) : []).map((d) => {
        try { return JSON.parse(fs.readFileSync(path.join(ws.runsDir, d, 'status.json'), 'utf8')); } catch { return undefined; }
      });
      // Both points of the first pair are past step 1 (the sweep's signal handler is in place).
      const deadline = Date.now() + 150_000;
      while (statuses().filter((s) => s?.state === 'running' && s.step >= 1).length < 2) {
        if (Date.now() > deadline) assert.fail(`the two points did not start: ${JSON.stringify(statuses())}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // What "Stop" on the sweep row does: SIGTERM to sweep.json's sweep_pid (here, this process).
      const member = JSON.parse(fs.readFileSync(path.join(ws.runsDir, fs.readdirSync(ws.runsDir)[0], 'sweep.json'), 'utf8'));
      assert.strictEqual(member.sweep_pid, process.pid);
      process.kill(member.sweep_pid, 'SIGTERM');
      const r = await pending;
      assert.strictEqual(r.code, 130, r.stderr);
      const after = statuses();
      assert.strictEqual(after.length, 2, 'the third point never started');
      for (const s of after) {
        assert.strictEqual(s.state, 'stopped', JSON.stringify(s));
        assert.ok(s.last_checkpoint, 'a checkpoint to resume from');
      }
      assert.strictEqual(r.stdout.split('\n').filter((l) => / \| stopped \| /.test(l)).length, 2, r.stdout);
    } finally {
      fs.rmSync(ws.dir, { recursive: true, force: true });
    }
  });

  it('validates every point before training: a bad value exits 2 naming the field, and no run is created', async () => {
    const ws = makeWorkspace({ training: { max_steps: 2 } });
    try {
      const r = await lily(['sweep', ws.config, '--grid', 'adapter.num_B=2,1'], ws.dir);
      assert.strictEqual(r.code, 2, r.stderr);
      assert.match(r.stderr, /adapter\.num_B/);
      assert.ok(!fs.existsSync(ws.runsDir) || fs.readdirSync(ws.runsDir).length === 0, 'nothing trained');
    } finally {
      fs.rmSync(ws.dir, { recursive: true, force: true });
    }
  });
});
