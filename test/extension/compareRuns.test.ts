// The host side of "Compare runs": which runs a command invocation means (Runs view selection,
// sweep rows, run directories), the quick pick's rows, the feed that sends the compared runs and
// their new lines, the page's compare/save messages, and what a chart export may write.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { RunWriter } from '../../native-runtime/io/runDir';
import type { HostToWebview } from '../../native-runtime/protocol';
import type { MetricLine, SweepMember } from '../../native-runtime/runFiles';
import { comparePickItems, compareRunDirs } from '../../src/compareArgsModel';
import { CompareFeed } from '../../src/compareFeed';
import type { RunRecord } from '../../src/runsModel';
import { decodeExport, MAX_EXPORT_BYTES, safeExportName } from '../../src/savedExportModel';
import { parseWebviewMessage, restoredCompareDirs } from '../../src/webviewMessages';
import { runStatus, tempDir } from './fixtures';

const train = (step: number, time_s = step / 10): MetricLine => ({ type: 'train', step, epoch: 0, loss: 1 / step, lr: 1e-3, grad_norm: 1, samples_per_s: 10, tokens_per_s: 100, time_s });
const member = (index: number, over: Partial<SweepMember> = {}): SweepMember => ({ sweep_id: 's1', name: 'demo', index, total: 3, overrides: { 'training.lr': index }, config_path: '/w/demo.lily.json', ...over });
const record = (runDir: string, sweep?: SweepMember): RunRecord => ({ runDir, status: runStatus({ name: path.basename(runDir), state: 'completed' }), checkpoints: [], adapterFiles: [], ...(sweep ? { sweep } : {}) });

describe('Compare Runs: which runs an invocation means', () => {
  const runs = [record('/r/a'), record('/r/s2', member(2)), record('/r/s0', member(0)), record('/r/b'), record('/r/s1', member(1)), record('/r/x0', member(0, { sweep_id: 'other' }))];

  it('takes the Runs view selection (second argument) over the clicked row, without repeats', () => {
    assert.deepStrictEqual(compareRunDirs(runs, { kind: 'run', runDir: '/r/a' }, [{ kind: 'run', runDir: '/r/a' }, { kind: 'run', runDir: '/r/b' }]), ['/r/a', '/r/b']);
    assert.deepStrictEqual(compareRunDirs(runs, { kind: 'run', runDir: '/r/b' }, [{ kind: 'run', runDir: '/r/b' }, { kind: 'run', runDir: '/r/b' }]), ['/r/b']);
  });

  it('expands a sweep row to its runs in grid order, and mixes it with single runs', () => {
    assert.deepStrictEqual(compareRunDirs(runs, { kind: 'sweep', sweepId: 's1' }, undefined), ['/r/s0', '/r/s1', '/r/s2']);
    assert.deepStrictEqual(compareRunDirs(runs, undefined, [{ kind: 'run', runDir: '/r/a' }, { kind: 'sweep', sweepId: 's1' }, { kind: 'run', runDir: '/r/s1' }]), ['/r/a', '/r/s0', '/r/s1', '/r/s2']);
  });

  it('accepts run directories (an array or one) and ignores anything else', () => {
    assert.deepStrictEqual(compareRunDirs(runs, ['/r/a', '/r/b', '/r/a'], undefined), ['/r/a', '/r/b']);
    assert.deepStrictEqual(compareRunDirs(runs, '/r/a', undefined), ['/r/a']);
    assert.deepStrictEqual(compareRunDirs(runs, undefined, undefined), []);
    assert.deepStrictEqual(compareRunDirs(runs, { kind: 'detail', view: {} }, 42), []);
  });

  it('lists every run in the pick with its sweep, method and state, the current set ticked', () => {
    const items = comparePickItems(runs, ['/r/b', '/r/s1']);
    assert.deepStrictEqual(items.map((i) => i.runDir), runs.map((r) => r.runDir));
    assert.deepStrictEqual(items.filter((i) => i.picked).map((i) => i.runDir), ['/r/b', '/r/s1']);
    assert.strictEqual(items[1].description, 'sweep demo 3/3 · lily · completed · 10/100 steps');
    assert.strictEqual(items[0].description, 'lily · completed · 10/100 steps');
  });
});

describe('Compare Runs: the feed of compared runs', () => {
  const root = tempDir('compare-feed');
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('sends each run\'s status, config, metric lines and sweep.json, then only what changed', () => {
    const dirs = ['a', 'b'].map((id) => path.join(root, id));
    const writers = dirs.map((d, i) => {
      const w = new RunWriter(d);
      w.updateStatus(runStatus({ run_id: `run-${i}`, name: `run ${i}` }));
      w.appendMetric(train(1));
      fs.writeFileSync(path.join(d, 'config.json'), JSON.stringify({ name: `run ${i}`, training: { lr: i + 1 } }));
      return w;
    });
    fs.writeFileSync(path.join(dirs[1], 'sweep.json'), JSON.stringify(member(1)));
    const feed = new CompareFeed([dirs[0], dirs[1], dirs[0]]);
    assert.deepStrictEqual(feed.runDirs, dirs, 'repeats dropped, order kept');
    const set = feed.snapshot(true) as Extract<HostToWebview, { type: 'compareSet' }>;
    assert.strictEqual(set.type, 'compareSet');
    assert.strictEqual(set.focus, true);
    assert.deepStrictEqual(set.runs.map((r) => r.status.name), ['run 0', 'run 1']);
    assert.deepStrictEqual(set.runs.map((r) => (r.config as any).training.lr), [1, 2]);
    assert.deepStrictEqual(set.runs.map((r) => r.metrics.length), [1, 1]);
    assert.strictEqual(set.runs[0].sweep, undefined);
    assert.deepStrictEqual(set.runs[1].sweep, member(1));
    assert.strictEqual(feed.anyRunning, true);
    assert.deepStrictEqual(feed.poll(), [], 'nothing new yet');

    writers[1].appendMetric(train(2));
    writers[1].appendMetric(train(3));
    writers[0].updateStatus({ state: 'completed', step: 100 });
    const updates = feed.poll() as Array<Extract<HostToWebview, { type: 'compareUpdate' }>>;
    assert.deepStrictEqual(updates.map((u) => [u.runDir, u.metrics.map((m) => m.step), u.status?.state]), [[dirs[0], [], 'completed'], [dirs[1], [2, 3], undefined]]);
    assert.deepStrictEqual(feed.poll(), [], 'each change is sent once');
    writers[1].updateStatus({ state: 'completed' });
    feed.poll();
    assert.strictEqual(feed.anyRunning, false);

    assert.strictEqual(feed.remove(dirs[0]), true);
    assert.strictEqual(feed.remove(dirs[0]), false);
    const after = feed.snapshot(false) as Extract<HostToWebview, { type: 'compareSet' }>;
    assert.deepStrictEqual(after.runs.map((r) => r.metrics.map((m) => m.step)), [[1, 2, 3]], 'a fresh snapshot has every line');
    assert.strictEqual(after.focus, undefined);
  });
});

describe('Compare Runs: messages from the page', () => {
  it('accepts pickCompareRuns, removeCompareRun and saveFile in their typed shape only', () => {
    for (const m of [{ type: 'pickCompareRuns' }, { type: 'removeCompareRun', runDir: '/r/a' }, { type: 'saveFile', kind: 'csv', name: 'a.csv', data: 'x' }, { type: 'saveFile', kind: 'png', name: 'a.png', data: 'data:image/png;base64,' }]) {
      const r = parseWebviewMessage({ ...m, extra: 'dropped' });
      assert.ok(r.ok, JSON.stringify(m));
      assert.deepStrictEqual(r.message, m);
    }
    for (const m of [{ type: 'removeCompareRun' }, { type: 'saveFile', kind: 'svg', name: 'a', data: 'x' }, { type: 'saveFile', kind: 'csv', name: '', data: 'x' }, { type: 'saveFile', kind: 'csv', name: 'a.csv', data: '' }, { type: 'saveFile', kind: 'csv', name: 'x'.repeat(300), data: 'x' }, { type: 'saveFile', kind: 'png', name: 'a.png', data: 7 }]) {
      const r = parseWebviewMessage(m);
      assert.strictEqual(r.ok, false, JSON.stringify(m));
    }
  });

  it('restores a panel\'s compared runs only while they are run directories', () => {
    const root = tempDir('compare-restore');
    try {
      const run = path.join(root, 'run');
      new RunWriter(run).updateStatus(runStatus());
      assert.deepStrictEqual(restoredCompareDirs({ compareRunDirs: [run, path.join(root, 'gone'), 'relative', 5] }), [run]);
      assert.deepStrictEqual(restoredCompareDirs({ runDir: run }), []);
      assert.deepStrictEqual(restoredCompareDirs(null), []);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('Compare Runs: saving a chart export', () => {
  // The smallest valid PNG (1x1, RGBA), as a browser's canvas.toDataURL writes one.
  const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082', 'hex');

  it('keeps only a plain file name with the right extension', () => {
    assert.strictEqual(safeExportName('lily-compare-train-loss-4-runs.png', 'png'), 'lily-compare-train-loss-4-runs.png');
    assert.strictEqual(safeExportName('../../etc/passwd', 'csv'), 'passwd.csv');
    assert.strictEqual(safeExportName('C:\\Users\\x\\chart', 'png'), 'chart.png');
    assert.strictEqual(safeExportName('a<b>:c?.csv', 'csv'), 'a-b-c-.csv');
    assert.strictEqual(safeExportName('...', 'csv'), 'lily-chart.csv');
  });

  it('decodes a PNG data URL to its bytes and refuses anything that is not a PNG', () => {
    const ok = decodeExport('png', 'chart.png', `data:image/png;base64,${png.toString('base64')}`);
    assert.ok(ok.ok);
    if (ok.ok) assert.deepStrictEqual(ok.bytes, png);
    const notPng = decodeExport('png', 'chart.png', `data:image/png;base64,${Buffer.from('<svg onload=alert(1)>').toString('base64')}`);
    assert.deepStrictEqual(notPng, { ok: false, reason: 'the png export does not start with the PNG signature' });
    assert.strictEqual(decodeExport('png', 'c.png', 'data:image/svg+xml;base64,AAAA').ok, false);
    assert.strictEqual(decodeExport('png', 'c.png', 'data:image/png;base64,not base64!').ok, false);
    assert.strictEqual(decodeExport('csv', 'c.csv', 'x'.repeat(MAX_EXPORT_BYTES * 2)).ok, false);
  });

  it('writes CSV text as UTF-8', () => {
    const r = decodeExport('csv', 'data', 'run,value\r\n"é, ü",1\r\n');
    assert.ok(r.ok);
    if (r.ok) {
      assert.strictEqual(r.name, 'data.csv');
      assert.strictEqual(r.bytes.toString('utf8'), 'run,value\r\n"é, ü",1\r\n');
    }
  });
});
