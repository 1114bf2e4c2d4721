// One writer per run directory (issue 13, item 1). Two resumes of one run used to both train it:
// each read status.json before the other had written it, so metrics.jsonl got duplicated,
// out-of-order steps and a checkpoint rename crashed with ENOTEMPTY. The run's O_EXCL lock file
// (native-runtime/io/runLock.ts) must let exactly one process in, before anything is written.
import * as assert from 'assert';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { loadConfig } from '../../native-runtime/config/validate';
import { readJsonl } from '../../native-runtime/io/atomic';
import { CHECKPOINT_FILES } from '../../native-runtime/io/checkpoint';
import { writeManifest } from '../../native-runtime/io/checkpointManifest';
import { acquireRunLock, isOwnerAlive, LOCK_FILE, processStartTicks, RunLockedError } from '../../native-runtime/io/runLock';
import type { MetricLine, RunStatus } from '../../native-runtime/runFiles';
import { prepareTraining, runTraining } from '../../native-runtime/train/trainer';
import { lily, makeWorkspace, tinyEncoder, type Workspace } from '../cli/workspace';
import { recordFault } from './ledger';

const CLI = path.join(__dirname, '../cli/runCli.ts');
const readJson = <T>(f: string): T => JSON.parse(fs.readFileSync(f, 'utf8')) as T;

/** `lily ARGS` as its own process; resolves with exit code and output. */
function lilyProcess(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['-r', require.resolve('tsx/cjs'), CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** A pid that belonged to a process which has exited (a crashed lock owner). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

/** A run stopped at step 2 of 40, ready to be resumed. */
async function stoppedRun(): Promise<{ ws: Workspace; runDir: string }> {
  const ws = makeWorkspace({ training: { max_steps: 40, save_every: 2, eval_every: 20, log_every: 1 } });
  const runDir = path.join(ws.dir, 'run');
  const r = await lily(['train', ws.config, '--run-dir', runDir, '--max-steps', '2'], ws.dir);
  assert.strictEqual(r.code, 0, r.stderr);
  // Give it the schedule of a longer run, as if it had been stopped at step 2 of 40.
  const cfgFile = path.join(runDir, 'config.json');
  const cfg = readJson<{ training: { max_steps: number } }>(cfgFile);
  cfg.training.max_steps = 40;
  fs.writeFileSync(cfgFile, JSON.stringify(cfg));
  const ck = path.join(runDir, 'checkpoints', 'step-2', 'trainer.json');
  fs.writeFileSync(ck, JSON.stringify({ ...readJson<object>(ck), total_steps: 40 }));
  // The edit is ours, not damage: sign the checkpoint's manifest again.
  writeManifest(path.dirname(ck), 2, Object.values(CHECKPOINT_FILES));
  fs.writeFileSync(path.join(runDir, 'status.json'), JSON.stringify({ ...readJson<RunStatus>(path.join(runDir, 'status.json')), state: 'stopped', total_steps: 40 }));
  return { ws, runDir };
}

describe('reliability: one writer per run directory', function () {
  this.timeout(180000);
  before(() => { tinyEncoder(); });

  it('two resumes prepared at once: the second is refused before anything is written (the race status.json could not see)', async () => {
    const { ws, runDir } = await stoppedRun();
    const config = loadConfig(ws.config, undefined, { cwd: ws.dir });
    const before = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8');
    const first = await prepareTraining({ config, resume: runDir });
    try {
      // status.json still says `stopped`: only the lock knows the first resume exists.
      assert.strictEqual(readJson<RunStatus>(path.join(runDir, 'status.json')).state, 'stopped');
      await assert.rejects(prepareTraining({ config, resume: runDir }), (e: unknown) => {
        assert.ok(e instanceof RunLockedError, String(e));
        assert.match(e.message, new RegExp(`in use by lily train \\(pid ${process.pid}`));
        return true;
      });
      assert.strictEqual(fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8'), before, 'the refused resume wrote nothing');
      const outcome = await runTraining(first);
      assert.deepStrictEqual([outcome.state, outcome.step], ['completed', 40]);
    } finally {
      first.data.close();
      await first.runner.release();
    }
    assert.ok(!fs.existsSync(path.join(runDir, LOCK_FILE)), 'the lock is released at the end');
    recordFault('concurrent writers', 'two resumes of one run prepared at once', 'second refused, nothing written');
  });

  it('two `lily train --resume RUN` processes at once: one trains, the other exits 2; the log has each step once, in order', async () => {
    const { ws, runDir } = await stoppedRun();
    const [a, b] = await Promise.all([
      lilyProcess(['train', '--resume', runDir, ws.config], ws.dir),
      lilyProcess(['train', '--resume', runDir, ws.config], ws.dir),
    ]);
    const codes = [a.code, b.code].sort();
    // Either they overlapped (one refused, exit 2) or the loser came after the winner had
    // finished (then it resumes a completed run: exit 0, no steps). Never two writers at once.
    assert.ok(codes[0] === 0 && (codes[1] === 0 || codes[1] === 2), `exit codes ${a.code} / ${b.code}\n${a.stderr}\n${b.stderr}`);
    for (const r of [a, b]) {
      if (r.code === 2) assert.match(r.stderr, /is in use by lily train \(pid \d+/);
      assert.doesNotMatch(r.stderr, /ENOTEMPTY|error:/);
    }
    const steps = readJsonl<MetricLine>(path.join(runDir, 'metrics.jsonl')).filter((l) => l.type === 'train').map((l) => l.step);
    assert.deepStrictEqual(steps, Array.from({ length: 40 }, (_, i) => i + 1), 'each step logged once, in order');
    assert.strictEqual(readJson<RunStatus>(path.join(runDir, 'status.json')).state, 'completed');
    assert.ok(!fs.existsSync(path.join(runDir, LOCK_FILE)));
    recordFault('concurrent writers', 'two `lily train --resume` processes at once', 'one trained, log has each step once');
  });

  it('a lock left by a killed process (pid gone) is recovered; a reused pid (other start time) too', async () => {
    const { ws, runDir } = await stoppedRun();
    const lockFile = path.join(runDir, LOCK_FILE);
    fs.writeFileSync(lockFile, JSON.stringify({ pid: deadPid(), locked_at: '2026-01-01T00:00:00Z', command: 'lily train' }));
    const r = await lily(['train', '--resume', runDir, ws.config], ws.dir);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /Removed a stale lock on .* \(pid \d+ of lily train is gone\)/);
    assert.ok(!fs.existsSync(lockFile));

    // This process is alive, but the lock says it started at another time: a reused pid.
    const ticks = processStartTicks(process.pid);
    if (ticks !== undefined) {
      const reused = { pid: process.pid, proc_start: ticks + 1, locked_at: '2026-01-01T00:00:00Z', command: 'lily train' };
      assert.strictEqual(isOwnerAlive(reused), false);
      assert.strictEqual(isOwnerAlive({ ...reused, proc_start: ticks }), true);
      fs.writeFileSync(lockFile, JSON.stringify(reused));
      const lock = acquireRunLock(runDir, 'test');
      lock.release();
    }
    recordFault('stale lock', 'lock of a killed process, and of a reused pid', 'recovered, run resumed');
  });

  it('`lily inspect` and `lily export` into a run another process holds are refused (exit 2); --out elsewhere only reads', async () => {
    const { ws, runDir } = await stoppedRun();
    const lock = acquireRunLock(runDir, 'lily train');
    try {
      const exp = await lily(['export', runDir], ws.dir);
      assert.strictEqual(exp.code, 2, exp.stderr);
      assert.match(exp.stderr, /is in use by lily train/);
      assert.ok(!fs.existsSync(path.join(runDir, 'export')));
      const ins = await lily(['inspect', runDir], ws.dir);
      assert.strictEqual(ins.code, 2, ins.stderr);
      assert.match(ins.stderr, /is in use by lily train/);
      const elsewhere = await lily(['export', runDir, '--out', path.join(ws.dir, 'peft-out')], ws.dir);
      assert.strictEqual(elsewhere.code, 0, elsewhere.stderr);
    } finally {
      lock.release();
    }
    const exp = await lily(['export', runDir], ws.dir);
    assert.strictEqual(exp.code, 0, exp.stderr);
    assert.ok(!fs.existsSync(path.join(runDir, LOCK_FILE)));
    recordFault('concurrent writers', 'inspect and export into a run another process holds', 'refused (exit 2)');
  });
});
