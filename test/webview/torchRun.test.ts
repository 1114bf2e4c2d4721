// The dashboard draws a run written by the torch backend (PyTorch + PEFT, native-runtime/torch/)
// exactly as it draws an engine run: header, router heatmaps over the eval set (router_stats.json,
// which `lily train --backend torch` writes at the end with the engine's inspection) and replayed
// from router.jsonl, rank bars and expert similarity (spectrum.json), training curves with every
// logged point. A real torch-backend run (test/torch's tiny BERT fixture) is produced first.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { readRunSnapshot } from '../../native-runtime/io/runDir';
import type { RunSnapshot } from '../../native-runtime/protocol';
import { lily, torchFixture, writeConfig } from '../torch/fixture';
import { buildWebviewOnce, idle, launchBrowser, openDashboard, type Browser, type DashboardPage } from './browser';

async function dataValues(page: Page, selector: string): Promise<number[]> {
  const values = await page.locator(selector).evaluateAll((cells: any[]) => cells.map((c) => c.dataset.value as string));
  return values.map(Number);
}

describe('dashboard webview on a torch-backend run (headless Chromium)', function () {
  this.timeout(60_000);
  let browser: Browser;
  let run: RunSnapshot;
  let dash: DashboardPage;

  before(async function () {
    this.timeout(300_000);
    buildWebviewOnce();
    const runDir = path.join(torchFixture(), 'runs', 'webview-torch');
    const r = lily(['train', writeConfig('webview-torch', 'torch', { training: { max_steps: 8, log_every: 2, eval_every: 4 } }), '--run-dir', runDir]);
    assert.equal(r.status, 0, `the torch-backend run failed:\n${r.stderr}`);
    run = readRunSnapshot(runDir);
    browser = await launchBrowser();
    dash = await openDashboard(browser, 'torch-run', { init: { type: 'init', run } }, 'dark');
  });

  after(async () => {
    await browser?.close();
  });

  it('shows the run header from the torch backend\'s status.json', async () => {
    const page = dash.page;
    assert.equal(run.status.state, 'completed');
    assert.equal(await page.locator('[data-role="run-name"]').textContent(), run.status.name);
    assert.equal(await page.locator('[data-role="state"]').textContent(), 'completed');
    assert.match((await page.locator('[data-role="progress"]').textContent()) ?? '', /step 8 \/ 8/);
  });

  it('draws the router heatmaps over the eval set from router_stats.json (reference mode)', async () => {
    const page = dash.page;
    const stats = run.routerStats;
    assert.ok(stats, `${run.runDir} has no router_stats.json`);
    assert.equal(stats.step, 8);
    for (const t of stats.targets) {
      const cells = `[data-chart="router:${t.target}"] .cell`;
      assert.equal(await page.locator(cells).count(), t.per_layer.length * t.num_B, `cells of ${t.target}`);
      assert.ok(t.per_layer.length > 0);
      assert.deepEqual(await dataValues(page, cells), t.per_layer.flatMap((l) => l.mean));
    }
  });

  it('replays the router means of router.jsonl (PEFT\'s Lily routers), newest step first', async () => {
    const page = dash.page;
    await page.click('[data-control="heatmap-mode"] [data-value="training"]');
    await idle(page);
    assert.equal(run.router.length, 4);
    const newest = run.router[run.router.length - 1];
    for (const [target, rows] of Object.entries(newest.targets)) {
      const cells = `[data-chart="router:${target}"] .cell`;
      assert.equal(await page.locator(cells).count(), rows.flat().length, `cells of ${target}`);
      const shown = await dataValues(page, cells);
      rows.flat().forEach((v, i) => assert.ok(Math.abs(shown[i] - v) < 1e-9, `${target} cell ${i}: shown ${shown[i]}, router.jsonl ${v}`));
    }
    await page.click('[data-control="heatmap-mode"] [data-value="reference"]');
    await idle(page);
  });

  it('draws a rank bar per adapted layer and the expert similarity from spectrum.json', async () => {
    const page = dash.page;
    const spectrum = run.spectrum;
    assert.ok(spectrum, `${run.runDir} has no spectrum.json`);
    await page.click('[data-tab="rank"]');
    await idle(page);
    for (const t of spectrum.targets) {
      assert.ok(t.layers.length > 0);
      const chart = `[data-chart="rank:${t.target}"]`;
      assert.equal(await page.locator(`${chart} g[aria-description="numerical rank"] rect`).count(), t.layers.length, `rank bars of ${t.target}`);
      assert.equal(await page.locator(`${chart} g[aria-description="effective rank"] rect`).count(), t.layers.length);
    }
    await page.click('[data-tab="experts"]');
    await idle(page);
    for (const t of spectrum.targets) {
      const n = t.expert_similarity!.length;
      assert.equal(await page.locator(`[data-chart="experts:${t.target}"] g[aria-description="similarity"] rect`).count(), n * n);
    }
  });

  it('draws the training curve with every logged point and the eval points', async () => {
    const page = dash.page;
    await page.click('[data-tab="curves"]');
    await idle(page);
    const train = run.metrics.filter((m) => m.type === 'train');
    const d = (await page.locator('[data-chart="curves:loss"] g[aria-description="main train loss"] path').first().getAttribute('d')) ?? '';
    assert.equal((d.match(/[ML]/g) ?? []).length, train.length);
    assert.equal(await page.locator('[data-chart="curves:loss"] g[aria-description="main eval loss points"] circle').count(), run.metrics.filter((m) => m.type === 'eval').length);
  });

  it('renders every tab without page errors', async () => {
    for (const tab of ['rank', 'experts', 'router']) {
      await dash.page.click(`[data-tab="${tab}"]`);
      await idle(dash.page);
    }
    assert.deepEqual(dash.errors, []);
    assert.deepEqual(await dash.cspViolations(), []);
  });
});
