// Run directory: unique ids, atomic status merges, tolerant snapshot reading, dead processes.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { COMPACT_ADAPTER_FILE } from '../../native-runtime/io/compactAdapter';
import { PEFT_FILES } from '../../native-runtime/io/peft';
import { RunWriter, createRunDir, isProcessAlive, listRuns, readRunSnapshot, slugify } from '../../native-runtime/io/runDir';
import type { RunStatus } from '../../native-runtime/runFiles';
import { lilySettings, makeWeights } from './adapterFixtures';
import { tempDir } from '../helpers/tempDir';

function status(over: Partial<RunStatus> = {}): RunStatus {
  return {
    run_id: 'r', name: 'sentiment', state: 'running', pid: process.pid, method: 'lily', task: 'sequence-classification',
    step: 0, total_steps: 100, epoch: 0, started_at: '2026-11-29T10:15:00.000Z', updated_at: '2026-11-29T10:15:00.000Z',
    device: 'cpu', config_path: '/x/sentiment.lily.json', trainable_params: 1234, ...over,
  };
}

/** The pid of a process that has already exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('run directory', () => {
  let out: string;
  beforeEach(() => { out = tempDir('lily-runs-'); });
  afterEach(() => fs.rmSync(out, { recursive: true, force: true }));

  it('createRunDir names runs <date>-<time>-<slug> and stays unique within one second', () => {
    const now = new Date(2026, 10, 29, 10, 15, 0);
    const a = createRunDir(path.join(out, 'nested', 'runs'), 'Sentiment (RoBERTa)!', now);
    const b = createRunDir(path.join(out, 'nested', 'runs'), 'Sentiment (RoBERTa)!', now);
    assert.strictEqual(a.runId, '20261129-101500-sentiment-roberta');
    assert.strictEqual(b.runId, '20261129-101500-sentiment-roberta-2');
    assert.ok(fs.statSync(a.runDir).isDirectory() && fs.statSync(b.runDir).isDirectory());
    assert.strictEqual(slugify('***'), 'run');
  });

  it('RunWriter writes every file and readRunSnapshot reads them back', () => {
    const { runDir } = createRunDir(out, 'sentiment');
    const w = new RunWriter(runDir);
    w.writeConfig({ name: 'sentiment', adapter: { method: 'lily' } });
    w.updateStatus(status());
    const merged = w.updateStatus({ step: 10, loss: 0.7 });
    assert.strictEqual(merged.total_steps, 100);
    assert.notStrictEqual(merged.updated_at, '2026-11-29T10:15:00.000Z');
    w.appendMetric({ type: 'train', step: 10, epoch: 0, loss: 0.7, lr: 1e-3, grad_norm: 1, samples_per_s: 50, tokens_per_s: 6400, time_s: 2 });
    w.appendMetric({ type: 'eval', step: 10, epoch: 0, metrics: { loss: 0.6, accuracy: 0.7 }, time_s: 3 });
    w.appendRouter({ step: 10, targets: { value: [[0.4, 0.6]] } });
    w.writeRouterStats({ step: 10, reference: 'eval.jsonl', samples: 8, targets: [] });
    w.writeSpectrum({ step: 10, method: 'lily', targets: [] });
    const snap = readRunSnapshot(runDir);
    assert.strictEqual(snap.runDir, runDir);
    assert.deepStrictEqual([snap.status.state, snap.status.step, snap.status.loss], ['running', 10, 0.7]);
    assert.deepStrictEqual(snap.config, { name: 'sentiment', adapter: { method: 'lily' } });
    assert.deepStrictEqual(snap.metrics.map((m) => m.type), ['train', 'eval']);
    assert.deepStrictEqual(snap.router, [{ step: 10, targets: { value: [[0.4, 0.6]] } }]);
    assert.strictEqual(snap.routerStats?.samples, 8);
    assert.strictEqual(snap.spectrum?.method, 'lily');
    // Clearing a field: an explicit undefined removes it.
    assert.strictEqual(w.updateStatus({ loss: undefined }).loss, undefined);
  });

  it('writes the final adapter as a PEFT folder plus the compact file', () => {
    const { runDir } = createRunDir(out, 'a');
    const files = new RunWriter(runDir).writeAdapter(makeWeights(lilySettings(), 3), { task: 'sequence-classification' });
    assert.deepStrictEqual(files.map((f) => path.relative(runDir, f)), [`adapter/${PEFT_FILES.config}`, `adapter/${PEFT_FILES.weights}`, `adapter/${COMPACT_ADAPTER_FILE}`]);
  });

  it('tolerates a run just created, with torn logs and no optional files', () => {
    const { runDir } = createRunDir(out, 'torn');
    const w = new RunWriter(runDir);
    w.updateStatus(status());
    w.appendMetric({ type: 'eval', step: 0, epoch: 0, metrics: { loss: 1 }, time_s: 0 });
    fs.appendFileSync(w.file('metrics'), '{"type": "train", "st');
    fs.writeFileSync(w.file('spectrum'), '{"step": 1, "meth');
    const snap = readRunSnapshot(runDir);
    assert.strictEqual(snap.metrics.length, 1);
    assert.deepStrictEqual(snap.router, []);
    assert.strictEqual(snap.config, undefined);
    assert.strictEqual(snap.spectrum, undefined);
    assert.strictEqual(snap.routerStats, undefined);
  });

  it('reports a running status whose process died as failed, with a message naming the pid', () => {
    const pid = deadPid();
    assert.strictEqual(isProcessAlive(pid), false);
    assert.strictEqual(isProcessAlive(process.pid), true);
    const { runDir } = createRunDir(out, 'crashed');
    new RunWriter(runDir).updateStatus(status({ pid, step: 42, last_checkpoint: 'checkpoints/step-40' }));
    const snap = readRunSnapshot(runDir);
    assert.strictEqual(snap.status.state, 'failed');
    assert.strictEqual(snap.status.error, `the training process (pid ${pid}) is no longer running but the run never recorded an end; it crashed or was killed at step 42. Resume from checkpoints/step-40.`);
    // The file itself is left alone: readers never rewrite a run.
    assert.strictEqual(JSON.parse(fs.readFileSync(path.join(runDir, 'status.json'), 'utf8')).state, 'running');
    // A completed run with a dead pid is just completed.
    new RunWriter(runDir).updateStatus({ state: 'completed' });
    assert.strictEqual(readRunSnapshot(runDir).status.state, 'completed');
  });

  it('listRuns lists runs newest first, with a placeholder for a run that never wrote its status', () => {
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3600_000).toISOString();
    const a = createRunDir(out, 'first').runDir;
    new RunWriter(a).updateStatus(status({ started_at: hoursAgo(2), state: 'completed' }));
    const b = createRunDir(out, 'second').runDir;
    new RunWriter(b).updateStatus(status({ started_at: hoursAgo(1), pid: deadPid() }));
    // No status.json: the placeholder's start time is the folder's mtime (now), so it sorts first.
    const c = createRunDir(out, 'third').runDir;
    new RunWriter(c).writeConfig({ name: 'third', configPath: '/x/third.lily.json', adapter: { method: 'lora' }, model: { task: 'regression' } });
    fs.mkdirSync(path.join(out, 'not-a-run'));
    const runs = listRuns(out);
    assert.deepStrictEqual(runs.map((r) => r.runDir), [c, b, a]);
    const third = runs[0].status;
    assert.deepStrictEqual([third.state, third.name, third.method, third.task, third.config_path], ['failed', 'third', 'lora', 'regression', '/x/third.lily.json']);
    assert.match(third.error!, /status\.json is missing or unreadable/);
    assert.strictEqual(runs[1].status.state, 'failed');
    assert.strictEqual(runs[2].status.state, 'completed');
    assert.deepStrictEqual(listRuns(path.join(out, 'missing')), []);
  });
});
