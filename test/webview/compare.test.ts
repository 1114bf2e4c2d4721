// The "Compare runs" tab in headless Chromium, on four REAL runs of the bundled example made by
// the real CLI: a Lily run, a LoRA run (runSource.ts) and the two points of a real `lily sweep`
// (learning rate 1e-3 and 1e-2, evaluated every 10 steps). Expectations are computed here from
// the files those runs wrote, independently of the dashboard's own data code.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import type { CompareRunSnapshot } from '../../native-runtime/protocol';
import type { EvalMetricLine, TrainMetricLine } from '../../native-runtime/runFiles';
import { ARTIFACTS, buildWebviewOnce, idle, launchBrowser, openDashboard, type Browser, type DashboardPage } from './browser';
import { compareSnapshot, realRuns, realSweepRuns } from './runSource';

const trainLines = (r: CompareRunSnapshot) => r.metrics.filter((m): m is TrainMetricLine => m.type === 'train');
const evalLines = (r: CompareRunSnapshot) => r.metrics.filter((m): m is EvalMetricLine => m.type === 'eval');

/** Highest eval accuracy after step 0, straight from metrics.jsonl. */
function bestAccuracy(r: CompareRunSnapshot): number | undefined {
  const values = evalLines(r).filter((e) => e.step > 0).map((e) => e.metrics.accuracy);
  return values.length ? Math.max(...values) : undefined;
}

async function sentMessages(page: Page): Promise<any[]> {
  return page.evaluate('window.__lilyHost.sent');
}

async function lastSent(page: Page, type: string, count: number): Promise<any> {
  await page.waitForFunction(([t, n]) => (globalThis as any).__lilyHost.sent.filter((m: any) => m.type === t).length >= n, [type, count] as const);
  const sent = (await sentMessages(page)).filter((m) => m.type === type);
  return sent[sent.length - 1];
}

async function rowOrder(page: Page): Promise<string[]> {
  return page.locator('[data-role="runs-table"] tbody tr').evaluateAll((trs: any[]) => trs.map((tr) => tr.dataset.run as string));
}

/** Vertices ("M"/"L" commands) of the line of one run in a chart. */
async function lineVertices(page: Page, chart: string, description: string): Promise<number> {
  const d = (await page.locator(`[data-chart="${chart}"] g[aria-description="${description}"] path`).first().getAttribute('d')) ?? '';
  return (d.match(/[ML]/g) ?? []).length;
}

/** The x scale of a drawn chart (Plot's figure exposes its scales). */
async function xScale(page: Page, chart: string): Promise<{ type: string; domain: number[] }> {
  return page.evaluate((sel) => {
    const svg = (globalThis as any).document.querySelector(`[data-chart="${sel}"] svg.lily-plot`) as any;
    const s = svg.scale('x');
    return { type: s.type as string, domain: (s.domain as Array<number | Date>).map((v) => +v) };
  }, chart);
}

describe('dashboard webview: compare many runs (headless Chromium)', function () {
  this.timeout(60_000);
  let browser: Browser;
  let dash: DashboardPage;
  let page: Page;
  let runs: CompareRunSnapshot[];
  let names: string[];

  before(async function () {
    this.timeout(300_000);
    buildWebviewOnce();
    const pair = await realRuns();
    const sweep = await realSweepRuns();
    runs = [compareSnapshot(pair.lily.runDir), compareSnapshot(pair.lora.runDir), ...sweep];
    // The Lily run, the LoRA run and the two sweep points all have distinct names.
    names = runs.map((r) => r.status.name);
    assert.equal(new Set(names).size, 4, `names: ${names.join(', ')}`);
    browser = await launchBrowser();
    dash = await openDashboard(browser, 'compare', pair.fixture, 'dark');
    page = dash.page;
    await page.evaluate((set) => (globalThis as any).__lilyHost.send({ type: 'compareSet', runs: set, focus: true }), runs);
    await idle(page);
  });

  after(async () => {
    await browser?.close();
  });

  it('switches to the Compare runs tab and overlays every run\'s training loss with all its points', async () => {
    assert.equal(await page.locator('vscode-panels').getAttribute('activeid'), 'tab-compare');
    for (const [i, r] of runs.entries()) {
      assert.equal(await lineVertices(page, 'compare:train:loss', `${names[i]}: Training loss`), trainLines(r).length, `${names[i]}`);
    }
    const legend = await page.locator('[data-chart="compare:train:loss"] .legend li').allTextContents();
    assert.deepEqual(legend, names);
    await page.screenshot({ path: join(ARTIFACTS, 'compare-runs.png'), fullPage: true });
  });

  it('draws each eval metric with one point per evaluation of every run', async () => {
    for (const [i, r] of runs.entries()) {
      const n = evalLines(r).filter((e) => Number.isFinite(e.metrics.accuracy)).length;
      assert.ok(n >= 2, `${names[i]} has ${n} evaluations`);
      assert.equal(await page.locator(`[data-chart="compare:eval:accuracy"] g[aria-description="${names[i]}: Eval accuracy points"] circle`).count(), n, names[i]);
    }
  });

  it('lists the runs with hyperparameters, trainable parameters, final/best eval, time and sweep group', async () => {
    assert.deepEqual(await rowOrder(page), runs.map((r) => r.runDir));
    const headers = await page.locator('[data-role="runs-table"] thead [data-sort]').evaluateAll((bs: any[]) => bs.map((b) => b.dataset.sort as string));
    for (const h of ['name', 'sweep', 'config:training.lr', 'config:adapter.method', 'config:training.eval_every', 'trainable_params', 'final:accuracy', 'best:accuracy', 'time_s']) {
      assert.ok(headers.includes(h), `no column ${h} in ${headers.join(', ')}`);
    }
    for (const r of runs) {
      const row = page.locator(`[data-role="runs-table"] tr[data-run="${r.runDir}"]`);
      const value = async (col: string) => row.locator(`[data-column="${col}"]`).getAttribute('data-value');
      assert.equal(Number(await value('trainable_params')), r.status.trainable_params);
      assert.equal(Number(await value('config:training.lr')), (r.config as any).training.lr);
      const evals = evalLines(r);
      assert.equal(Number(await value('final:accuracy')), evals[evals.length - 1].metrics.accuracy);
      assert.equal(Number(await value('best:accuracy')), bestAccuracy(r));
      const lastTime = trainLines(r).concat(evals as any).reduce((m, l) => Math.max(m, l.time_s), 0);
      assert.ok(Math.abs(Number(await value('time_s')) - lastTime) < 1e-9, 'time is the last logged time_s');
      const sweepCell = await row.locator('[data-column="sweep"]').textContent();
      assert.equal(sweepCell, r.sweep ? `${r.sweep.name} · ${r.sweep.index + 1}/${r.sweep.total}` : '–');
    }
  });

  it('sorts by a column, both ways, with runs lacking the value last', async () => {
    await page.click('[data-sort="best:accuracy"]');
    await idle(page);
    const byBest = (dir: 1 | -1) => [...runs].sort((a, b) => dir * ((bestAccuracy(a) ?? 0) - (bestAccuracy(b) ?? 0))).map((r) => r.runDir);
    // Ties are possible on 30 steps; compare values, not only order.
    const shown = async () => Promise.all((await rowOrder(page)).map((d) => bestAccuracy(runs.find((r) => r.runDir === d)!)));
    assert.deepEqual(await shown(), byBest(1).map((d) => bestAccuracy(runs.find((r) => r.runDir === d)!)));
    assert.equal(await page.locator('th[data-column="best:accuracy"]').getAttribute('aria-sort'), 'ascending');
    await page.click('[data-sort="best:accuracy"]');
    await idle(page);
    assert.deepEqual(await shown(), byBest(-1).map((d) => bestAccuracy(runs.find((r) => r.runDir === d)!)));
    assert.equal(await page.locator('th[data-column="best:accuracy"]').getAttribute('aria-sort'), 'descending');
    // The sweep column groups a sweep's runs in grid order; the other runs have no sweep and go last.
    await page.click('[data-sort="sweep"]');
    await idle(page);
    assert.deepEqual(await rowOrder(page), [runs[2].runDir, runs[3].runDir, runs[0].runDir, runs[1].runDir]);
    await page.click('[data-sort="config:training.lr"]');
    await idle(page);
    const lrs = await page.locator('[data-role="runs-table"] tbody [data-column="config:training.lr"]').evaluateAll((cs: any[]) => cs.map((c) => Number(c.dataset.value)));
    assert.deepEqual(lrs, [...lrs].sort((a, b) => a - b));
  });

  it('diffs the configs of two runs: the first two by default, then the two ticked', async () => {
    const diffRows = async () => page.locator('[data-role="config-diff"] tbody tr').evaluateAll((trs: any[]) => trs.map((tr) => [...tr.children].map((c: any) => c.textContent as string)));
    const first = await diffRows();
    assert.ok(first.some(([f, a, b]) => f === 'adapter.method' && a === '"lily"' && b === '"lora"'), JSON.stringify(first));
    // Tick the two sweep points: the newest two ticks are diffed.
    for (const r of [runs[2], runs[3]]) {
      await page.locator(`tr[data-run="${r.runDir}"] [data-control="diff-pick"]`).check();
      await idle(page);
    }
    const rows = await diffRows();
    const lr = rows.find(([f]) => f === 'training.lr');
    assert.deepEqual(lr, ['training.lr', JSON.stringify((runs[2].config as any).training.lr), JSON.stringify((runs[3].config as any).training.lr)]);
    assert.ok(!rows.some(([f]) => f === 'adapter.method' || f === 'training.eval_every'), 'fields equal in both are not listed');
    assert.ok(rows.some(([f]) => f === 'name'));
    assert.match((await page.locator('[data-role="diff-summary"]').textContent()) ?? '', new RegExp(`^${names[2].replace(/[[\]().]/g, '\\$&')} vs `));
  });

  it('plots against training time and wall-clock time (started_at + time_s)', async () => {
    await page.click('[data-control="compare-x"] [data-value="time"]');
    await idle(page);
    let x = await xScale(page, 'compare:train:loss');
    assert.equal(x.type, 'linear');
    const times = runs.flatMap((r) => trainLines(r).map((l) => l.time_s));
    assert.ok(Math.abs(x.domain[1] - Math.max(...times)) < 1e-9 && Math.abs(x.domain[0] - Math.min(...times)) < 1e-9, `domain ${x.domain}`);
    await page.click('[data-control="compare-x"] [data-value="wall"]');
    await idle(page);
    x = await xScale(page, 'compare:train:loss');
    assert.equal(x.type, 'time');
    const walls = runs.flatMap((r) => trainLines(r).map((l) => Date.parse(r.status.started_at) + l.time_s * 1000));
    assert.ok(Math.abs(x.domain[0] - Math.min(...walls)) < 1 && Math.abs(x.domain[1] - Math.max(...walls)) < 1, `domain ${x.domain} vs ${Math.min(...walls)}..${Math.max(...walls)}`);
    assert.equal(await page.locator('[data-chart="compare:train:loss"] .chart').getAttribute('data-x-mode'), 'wall');
    // Every run is still drawn, with every point.
    for (const [i, r] of runs.entries()) assert.equal(await lineVertices(page, 'compare:train:loss', `${names[i]}: Training loss`), trainLines(r).length);
  });

  it('exports a chart\'s data as CSV: every point of every shown run, exact values and times', async () => {
    const before = (await sentMessages(page)).filter((m) => m.type === 'saveFile').length;
    await page.click('[data-control="export-csv"][data-for="train:loss"]');
    const msg = await lastSent(page, 'saveFile', before + 1);
    assert.equal(msg.kind, 'csv');
    assert.match(msg.name, /^lily-compare-train-loss-4-runs\.csv$/);
    const lines = (msg.data as string).split('\r\n').filter(Boolean);
    assert.equal(lines[0], 'run,run_dir,sweep_id,metric,step,time_s,wall_clock,value');
    const expected = runs.flatMap((r, i) => trainLines(r).map((l) => ({ r, i, l })));
    assert.equal(lines.length - 1, expected.length);
    const parse = (line: string) => [...line.matchAll(/("(?:[^"]|"")*"|[^,]*)(,|$)/g)].map((m) => m[1].replace(/^"|"$/g, '').replace(/""/g, '"')).slice(0, 8);
    expected.forEach(({ r, i, l }, k) => {
      const [run, dir, sweep, metric, step, time, wall, value] = parse(lines[k + 1]);
      assert.equal(run, names[i]);
      assert.equal(dir, r.runDir);
      assert.equal(sweep, r.sweep?.sweep_id ?? '');
      assert.equal(metric, 'train:loss');
      assert.equal(Number(step), l.step);
      assert.equal(Number(time), l.time_s);
      assert.equal(wall, new Date(Date.parse(r.status.started_at) + l.time_s * 1000).toISOString());
      assert.equal(Number(value), l.loss, 'exact value, not the rounded label');
    });
  });

  it('exports a chart as a real PNG at twice its size, with each run\'s colour in it', async () => {
    const before = (await sentMessages(page)).filter((m) => m.type === 'saveFile').length;
    await page.click('[data-control="export-png"][data-for="train:loss"]');
    const msg = await lastSent(page, 'saveFile', before + 1);
    assert.equal(msg.kind, 'png');
    assert.match(msg.name, /\.png$/);
    assert.match(msg.data, /^data:image\/png;base64,/);
    const png = Buffer.from((msg.data as string).slice('data:image/png;base64,'.length), 'base64');
    writeFileSync(join(ARTIFACTS, 'compare-export.png'), png);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
    assert.equal(png.subarray(12, 16).toString('latin1'), 'IHDR');
    const width = png.readUInt32BE(16);
    const height = png.readUInt32BE(20);
    const svg = await page.evaluate(() => {
      const s = (globalThis as any).document.querySelector('[data-chart="compare:train:loss"] svg.lily-plot')!;
      return { w: Number(s.getAttribute('width')), h: Number(s.getAttribute('height')) };
    });
    assert.equal(width, svg.w * 2);
    // Title (24) + plot + a legend row (18) per run + 8.
    assert.equal(height, (24 + svg.h + 18 * runs.length + 8) * 2);
    // The image data inflates to exactly height rows of (filter byte + RGBA) pixels.
    let idat = Buffer.alloc(0);
    for (let at = 8; at < png.length;) {
      const len = png.readUInt32BE(at);
      const type = png.subarray(at + 4, at + 8).toString('latin1');
      if (type === 'IDAT') idat = Buffer.concat([idat, png.subarray(at + 8, at + 8 + len)]);
      at += 12 + len;
    }
    assert.equal(inflateSync(idat).length, height * (1 + width * 4));
    // Decoded again by the browser: every run's line colour is present (not a blank canvas).
    const counts = await page.evaluate(async (dataUrl) => {
      const img = new (globalThis as any).Image();
      img.src = dataUrl;
      await img.decode();
      const c = (globalThis as any).document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      const ctx = c.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const px = ctx.getImageData(0, 0, c.width, c.height).data;
      const colors = [...(globalThis as any).document.querySelectorAll('[data-chart="compare:train:loss"] .legend .swatch')].map((s: any) => (globalThis as any).getComputedStyle(s).borderTopColor);
      return colors.map((col) => {
        const [r, g, b] = col.match(/\d+/g)!.map(Number);
        let n = 0;
        for (let i = 0; i < px.length; i += 4) if (Math.abs(px[i] - r) < 8 && Math.abs(px[i + 1] - g) < 8 && Math.abs(px[i + 2] - b) < 8) n++;
        return n;
      });
    }, msg.data as string);
    assert.equal(counts.length, runs.length);
    counts.forEach((n, i) => assert.ok(n > 40, `${names[i]}'s colour covers ${n} pixels`));
  });

  it('hides a run from the charts, follows live metric lines, and asks the host to remove a run', async () => {
    await page.click('[data-control="compare-x"] [data-value="step"]');
    await page.locator(`tr[data-run="${runs[1].runDir}"] [data-control="compare-shown"]`).uncheck();
    await idle(page);
    assert.equal(await page.locator(`[data-chart="compare:train:loss"] g[aria-description="${names[1]}: Training loss"]`).count(), 0);
    assert.equal(await page.locator('[data-chart="compare:train:loss"] .legend li').count(), runs.length - 1);
    // A new training line of a compared run (as the host's compareUpdate sends it) extends its curve.
    const last = trainLines(runs[0]).at(-1)!;
    await page.evaluate(([runDir, line]) => (globalThis as any).__lilyHost.send({ type: 'compareUpdate', runDir, metrics: [line] }), [runs[0].runDir, { ...last, step: last.step + 10, time_s: last.time_s + 1 }] as const);
    await idle(page);
    assert.equal(await lineVertices(page, 'compare:train:loss', `${names[0]}: Training loss`), trainLines(runs[0]).length + 1);
    await page.locator(`tr[data-run="${runs[3].runDir}"] [data-control="compare-remove"]`).click();
    const msg = await lastSent(page, 'removeCompareRun', 1);
    assert.equal(msg.runDir, runs[3].runDir);
    await page.click('[data-control="compare-pick-runs"]');
    await lastSent(page, 'pickCompareRuns', 1);
  });

  it('renders without page errors or CSP violations', async () => {
    assert.deepEqual(dash.errors, []);
    assert.deepEqual(await dash.cspViolations(), []);
  });
});
