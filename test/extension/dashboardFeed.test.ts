// What the dashboard receives for a run written by the trainer's own RunWriter: a snapshot on
// init, then only the new lines and changed files.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { RunWriter, readRunSnapshot } from '../../native-runtime/io/runDir';
import type { HostToWebview } from '../../native-runtime/protocol';
import type { MetricLine, RouterStats } from '../../native-runtime/runFiles';
import { DashboardFeed } from '../../src/dashboardFeed';
import { JsonlTail } from '../../src/jsonlTail';
import { runStatus, tempDir } from './fixtures';

const train = (step: number): MetricLine => ({ type: 'train', step, epoch: 0, loss: 1 / step, lr: 1e-3, grad_norm: 1, samples_per_s: 10, tokens_per_s: 100, time_s: step });

describe('dashboard feed from a run directory', () => {
  const root = tempDir('feed');
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('sends a snapshot, then only appended lines, a changed status, new router stats', () => {
    const dir = path.join(root, 'run-a');
    const w = new RunWriter(dir);
    w.updateStatus(runStatus({ step: 2 }));
    w.appendMetric(train(1));
    w.appendMetric(train(2));
    w.appendRouter({ step: 2, targets: { value: [[0.5, 0.5]] } });
    const feed = new DashboardFeed(dir, readRunSnapshot);
    const init = feed.init('dark');
    assert.strictEqual(init.type, 'init');
    if (init.type !== 'init') return;
    assert.deepStrictEqual(init.run.metrics.map((m) => m.step), [1, 2]);
    assert.strictEqual(init.theme, 'dark');
    assert.deepStrictEqual(feed.poll(), [], 'nothing new yet');

    w.appendMetric(train(3));
    w.appendRouter({ step: 3, targets: { value: [[0.25, 0.75]] } });
    w.updateStatus({ step: 3, loss: 0.33 });
    const stats: RouterStats = { step: 3, reference: 'eval.jsonl', samples: 4, targets: [] };
    w.writeRouterStats(stats);
    const msgs = feed.poll();
    const byType = new Map(msgs.map((m) => [m.type, m]));
    const append = byType.get('append') as Extract<HostToWebview, { type: 'append' }>;
    assert.deepStrictEqual(append.metrics.map((m) => m.step), [3]);
    assert.deepStrictEqual(append.router.map((r) => r.step), [3]);
    assert.strictEqual((byType.get('status') as Extract<HostToWebview, { type: 'status' }>).status.step, 3);
    assert.deepStrictEqual((byType.get('routerStats') as Extract<HostToWebview, { type: 'routerStats' }>).routerStats, stats);
    assert.deepStrictEqual(feed.poll(), [], 'each change is sent once');
  });

  it('adds a comparison run and re-sends both on init', () => {
    const a = path.join(root, 'cmp-a');
    const b = path.join(root, 'cmp-b');
    new RunWriter(a).updateStatus(runStatus({ name: 'lily run' }));
    const wb = new RunWriter(b);
    wb.updateStatus(runStatus({ name: 'lora run', method: 'lora' }));
    const feed = new DashboardFeed(a, readRunSnapshot);
    feed.selectCompare(b);
    const init = feed.init();
    assert.ok(init.type === 'init' && init.compare?.status.name === 'lora run');
    wb.appendMetric(train(5));
    const msgs = feed.poll();
    assert.deepStrictEqual(msgs.map((m) => [m.type, (m as { runDir?: string }).runDir]), [['append', b]]);
  });

  it('JsonlTail leaves a half-written line for later and copes with truncation', () => {
    const file = path.join(root, 'x.jsonl');
    fs.writeFileSync(file, '{"a":1}\n{"a":');
    const tail = new JsonlTail<{ a: number }>(file);
    assert.deepStrictEqual(tail.readNew(), [{ a: 1 }]);
    fs.appendFileSync(file, '2}\n');
    assert.deepStrictEqual(tail.readNew(), [{ a: 2 }]);
    fs.writeFileSync(file, '{"a":9}\n');
    assert.deepStrictEqual(tail.readNew(), [{ a: 9 }], 'a shorter file starts over');
    const skipper = new JsonlTail<{ a: number }>(file);
    fs.appendFileSync(file, '{"a":10}\n');
    skipper.skipLines(1);
    assert.deepStrictEqual(skipper.readNew(), [{ a: 10 }]);
  });
});
