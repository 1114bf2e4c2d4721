// The dashboard in headless Chromium, drawn from REAL run directories: the bundled example
// trained for a few steps by the real CLI at the start of the suite (runSource.ts), a Lily run
// with a LoRA run at the same budget as its comparison. Every expectation is derived from the
// files those runs wrote. Screenshots go to test-artifacts/webview/ (git-ignored).
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { RunSnapshot } from '../../native-runtime/protocol';
import type { EvalMetricLine, LayerSpectrum, TrainMetricLine } from '../../native-runtime/runFiles';
import { fmtExact } from '../../webview/src/format';
import { buildWebviewOnce, idle, launchBrowser, openDashboard, type Browser, type DashboardPage } from './browser';
import { realRuns, type RealRuns } from './runSource';

/** Numbers parsed back from text agree with the data to the six digits the UI shows. */
function assertClose(actual: number, expected: number, what: string): void {
  const tol = Math.max(Math.abs(expected) * 1e-5, 1e-12);
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: shown ${actual}, data ${expected}`);
}

async function dataValues(page: Page, selector: string): Promise<number[]> {
  const values = await page.locator(selector).evaluateAll((cells: any[]) => cells.map((c) => c.dataset.value as string));
  return values.map(Number);
}

/** Vertices of an SVG path's "M…L…L…" data. */
async function pathVertices(page: Page, selector: string): Promise<number> {
  const d = (await page.locator(selector).first().getAttribute('d')) ?? '';
  return (d.match(/[ML]/g) ?? []).length;
}

/** Text of each body cell of a table view, row by row. */
async function tableRows(page: Page, tableHost: string): Promise<string[][]> {
  return page.locator(`${tableHost} tbody tr`).evaluateAll((trs: any[]) => trs.map((tr) => [...tr.children].map((c: any) => c.textContent as string)));
}

async function showTab(page: Page, tab: string): Promise<void> {
  await page.click(`[data-tab="${tab}"]`);
  await idle(page);
}

async function setRange(page: Page, selector: string, value: number): Promise<void> {
  await page.locator(selector).fill(String(value));
  await idle(page);
}

describe('dashboard webview on a real run (headless Chromium)', function () {
  this.timeout(60_000);
  let browser: Browser;
  let source: RealRuns;
  let run: RunSnapshot;
  let dash: DashboardPage;
  let page: Page;

  before(async function () {
    // Training both runs takes seconds; a loaded CI machine gets room.
    this.timeout(240_000);
    buildWebviewOnce();
    source = await realRuns();
    run = source.lily;
    console.log(`      real runs: ${source.lily.runDir} (lily), ${source.lora.runDir} (lora)`);
    browser = await launchBrowser();
    dash = await openDashboard(browser, 'main', source.fixture, 'dark');
    page = dash.page;
  });

  after(async () => {
    await browser?.close();
  });

  it('declares a strict Content-Security-Policy', async () => {
    const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    assert.ok(csp, 'no CSP meta element');
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'nonce-[^']+'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  });

  it('shows the run header from status.json and the config', async () => {
    assert.equal(await page.locator('[data-role="run-name"]').textContent(), run.status.name);
    assert.equal(await page.locator('[data-role="state"]').textContent(), run.status.state);
    assert.match((await page.locator('[data-role="progress"]').textContent()) ?? '', new RegExp(`step ${run.status.step} / ${run.status.total_steps}`));
    const facts = (await page.locator('[data-role="facts"]').textContent()) ?? '';
    assert.ok(facts.includes(run.status.trainable_params.toLocaleString('en-US')), `trainable params missing in "${facts}"`);
    assert.ok(facts.includes(run.status.device), 'device missing');
    assert.doesNotMatch(facts, /\(using /, 'the device note must not repeat the device ("cpu (using cpu (...))")');
    const adapter = run.config?.adapter;
    assert.equal(adapter?.method, 'lily', `${run.runDir}/config.json: expected a Lily adapter`);
    const summary = (await page.locator('[data-role="config-summary"]').textContent()) ?? '';
    assert.ok(summary.includes(`num_B ${adapter.num_B}`), summary);
    assert.ok(summary.includes(`stride_A ${adapter.stride_A}`), summary);
  });

  it('draws one heatmap cell per layer and B expert of each target', async () => {
    const stats = run.routerStats!;
    let total = 0;
    for (const t of stats.targets) {
      const expected = t.per_layer.length * t.num_B;
      total += expected;
      assert.equal(await page.locator(`[data-chart="router:${t.target}"] .cell`).count(), expected, `cells of ${t.target}`);
      // Reference mode: cell values are per_layer.mean.
      assert.deepEqual(await dataValues(page, `[data-chart="router:${t.target}"] .cell`), t.per_layer.flatMap((l) => l.mean));
    }
    assert.equal(await page.locator('.router-view .cell').count(), total);
  });

  it('sizes heatmap cells to the panel: a few experts fill the card\'s width, not 3 tiny cells', async () => {
    const t = run.routerStats!.targets[0];
    const card = page.locator(`[data-chart="router:${t.target}"]`);
    const cardWidth = (await card.boundingBox())!.width;
    const cell = (await card.locator('.cell').first().boundingBox())!;
    // (before: at most 48 px each, whatever the panel's width)
    assert.ok(cell.width >= 100 && cell.width * t.num_B >= cardWidth * 0.4, `${t.num_B} cells of ${cell.width.toFixed(0)} px in a ${cardWidth.toFixed(0)} px card`);
    assert.ok(cell.height >= 24, `cell height ${cell.height} px`);
    // Narrower panel: the cells follow.
    await page.setViewportSize({ width: 700, height: 900 });
    await idle(page);
    await page.waitForFunction((sel: string) => (globalThis as any).document.querySelector(sel).getBoundingClientRect().width < 200, `[data-chart="router:${t.target}"] .cell`);
    await page.setViewportSize({ width: 1200, height: 900 });
    await idle(page);
  });

  it('shows the exact value, entropy and A group of a hovered cell', async () => {
    const t = run.routerStats!.targets[0];
    const row = Math.min(1, t.per_layer.length - 1);
    const col = Math.min(2, t.num_B - 1);
    await page.hover(`[data-chart="router:${t.target}"] .cell[data-row="${row}"][data-col="${col}"]`);
    const tip = page.locator(`[data-chart="router:${t.target}"] .heatmap-tooltip`);
    await tip.waitFor({ state: 'visible' });
    const text = (await tip.textContent()) ?? '';
    assert.ok(text.includes(`p = ${fmtExact(t.per_layer[row].mean[col])}`), `tooltip "${text}"`);
    assert.ok(text.includes(`entropy ${fmtExact(t.per_layer[row].entropy)}`), `tooltip "${text}"`);
    assert.ok(text.includes(`A group ${t.layers[row].a_group}`), `tooltip "${text}"`);
    assert.ok(text.includes(t.per_layer[row].module), `tooltip "${text}"`);
  });

  it('moves between cells with the arrow keys and describes the focused cell', async () => {
    const t = run.routerStats!.targets[0];
    const first = page.locator(`[data-chart="router:${t.target}"] .cell[data-row="0"][data-col="0"]`);
    await first.focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowDown');
    const focused = (await page.evaluate('[document.activeElement.dataset.row, document.activeElement.dataset.col]')) as string[];
    const expectRow = Math.min(1, t.per_layer.length - 1);
    const expectCol = Math.min(1, t.num_B - 1);
    assert.deepEqual(focused, [String(expectRow), String(expectCol)]);
    const text = (await page.locator(`[data-chart="router:${t.target}"] .heatmap-tooltip`).textContent()) ?? '';
    assert.ok(text.includes(`p = ${fmtExact(t.per_layer[expectRow].mean[expectCol])}`), `tooltip "${text}"`);
    await page.keyboard.press('Escape');
  });

  it('replays router.jsonl with the step slider', async () => {
    const target = Object.keys(run.router[0].targets)[0];
    await page.click('[data-control="heatmap-mode"] [data-value="training"]');
    await idle(page);
    const cells = `[data-chart="router:${target}"] .cell`;
    await setRange(page, '[data-control="replay-step"]', 0);
    const first = await dataValues(page, cells);
    assert.deepEqual(first, run.router[0].targets[target].flat());
    const last = run.router.length - 1;
    await setRange(page, '[data-control="replay-step"]', last);
    const newest = await dataValues(page, cells);
    assert.deepEqual(newest, run.router[last].targets[target].flat());
    assert.notDeepEqual(first, newest, 'the first and last logged steps route identically; the slider shows no change');
    const label = (await page.locator('[data-role="replay-label"]').textContent()) ?? '';
    assert.ok(label.startsWith(String(run.router[last].step)), label);
  });

  it('shows the per-class and per-token matrices of router_stats.json', async () => {
    // A classification run records both (runSource.ts checks it); assert it here too, so this
    // test cannot pass by skipping its checks.
    const t = run.routerStats!.targets[0];
    const cells = `[data-chart="router:${t.target}"] .cell`;
    const classes = Object.keys(t.per_layer[0].per_class ?? {});
    assert.deepEqual([...classes].sort(), [...(run.config?.model.labels ?? [])].sort(), `${run.runDir}/router_stats.json: per_class should hold one mean per label`);
    await page.click('[data-control="heatmap-mode"] [data-value="class"]');
    await idle(page);
    // The class picker starts on the first recorded label.
    assert.deepEqual(await dataValues(page, cells), t.per_layer.flatMap((l) => l.per_class![classes[0]]));
    assert.ok(t.example, `${run.runDir}/router_stats.json: ${t.target} has no example (per-token routing)`);
    await page.click('[data-control="heatmap-mode"] [data-value="token"]');
    await idle(page);
    assert.deepEqual(await dataValues(page, cells), t.example.probs.flatMap((layer) => layer[0]));
    // The sentence, each token coloured by its dominant expert (mean over the layers).
    const chips = page.locator(`[data-chart="router:${t.target}"] [data-role="token-strip"] .token`);
    assert.deepEqual(await chips.allTextContents(), t.example.tokens);
    const dominant = t.example.tokens.map((_, i) => {
      const mean = new Array(t.num_B).fill(0);
      for (const layer of t.example!.probs) layer[i].forEach((p, e) => { mean[e] += p; });
      return mean.indexOf(Math.max(...mean));
    });
    assert.deepEqual((await chips.evaluateAll((cs: any[]) => cs.map((c) => c.dataset.expert))).map(Number), dominant);
    assert.equal(await page.locator(`[data-chart="router:${t.target}"] [data-role="token-legend"] .token-legend-item`).count(), t.num_B);
    // Clicking a token shows its matrix.
    const pick = Math.min(2, t.example.tokens.length - 1);
    await chips.nth(pick).click();
    await idle(page);
    assert.deepEqual(await dataValues(page, cells), t.example.probs.flatMap((layer) => layer[pick]));
    assert.equal(await chips.nth(pick).getAttribute('aria-selected'), 'true');
    await page.click('[data-control="heatmap-mode"] [data-value="reference"]');
    await idle(page);
  });

  it('has a table view with the same numbers as the heatmap', async () => {
    const t = run.routerStats!.targets[0];
    await page.click(`[data-control="table-toggle"][data-for="router:${t.target}"]`);
    await idle(page);
    const rows = await tableRows(page, `[data-table="router:${t.target}"]`);
    assert.equal(rows.length, t.per_layer.length);
    rows.forEach((cells, l) => {
      // layer, module, A group, B0..B{n-1}, entropy
      assert.equal(cells[1], t.per_layer[l].module);
      assert.equal(cells[2], String(t.layers[l].a_group));
      t.per_layer[l].mean.forEach((p, e) => assertClose(Number(cells[3 + e]), p, `layer ${l} expert ${e}`));
      assertClose(Number(cells[3 + t.num_B]), t.per_layer[l].entropy, `layer ${l} entropy`);
    });
    assert.equal(await page.locator(`[data-chart="router:${t.target}"] .heatmap-grid`).isVisible(), false, 'the chart stays visible in table view');
    await page.click(`[data-control="table-toggle"][data-for="router:${t.target}"]`);
    await idle(page);
  });

  it('draws one rank bar per layer with the bound r and the LoRA rank as rules', async () => {
    await showTab(page, 'rank');
    for (const t of run.spectrum!.targets) {
      const chart = `[data-chart="rank:${t.target}"]`;
      assert.equal(await page.locator(`${chart} g[aria-description="numerical rank"] rect`).count(), t.layers.length);
      assert.equal(await page.locator(`${chart} g[aria-description="effective rank"] rect`).count(), t.layers.length);
      assert.equal(await page.locator(`${chart} g[aria-description="bound r"] line`).count(), 1);
      assert.equal(await page.locator(`${chart} g[aria-description="LoRA rank at the same budget"] line`).count(), 1);
      // Bar heights encode the numerical ranks (same linear scale from 0).
      const heights = await page.locator(`${chart} g[aria-description="numerical rank"] rect`).evaluateAll((rects: any[]) => rects.map((r) => Number(r.getAttribute('height'))));
      // runFiles.ts types these layers as AdapterLayerInfo[] & LayerSpectrum[]: read them as spectra.
      const layers: LayerSpectrum[] = t.layers;
      const maxRank = Math.max(...layers.map((l) => l.numerical_rank));
      const maxHeight = Math.max(...heights);
      layers.forEach((l, i) => assertClose(heights[i] / maxHeight, l.numerical_rank / maxRank, `bar height of layer ${i}`));
      // Comparison mode: the LoRA run's measured ranks, one tick per layer, beside Lily's bars.
      const lora = source.lora.spectrum?.targets.find((x) => x.target === t.target);
      assert.ok(lora, `${source.lora.runDir}/spectrum.json has no ${t.target}`);
      const ticks = page.locator(`${chart} g[aria-description="compared run numerical rank"] line`);
      assert.equal(await ticks.count(), Math.min(lora.layers.length, t.layers.length));
      const loraLayers: LayerSpectrum[] = lora.layers;
      const titles = await ticks.evaluateAll((ls: any[]) => ls.map((l) => l.querySelector('title')?.textContent ?? ''));
      titles.forEach((title, i) => assert.match(title, new RegExp(`numerical rank ${loraLayers[i].numerical_rank}\\b`), `tick ${i}: ${title}`));
    }
  });

  it('shows a layer\'s singular values when its bar is clicked', async () => {
    const t = run.spectrum!.targets[0];
    const layer = t.layers.length - 1;
    // The effective-rank bar sits inside the numerical-rank bar: click it, as a user would.
    await page.locator(`[data-chart="rank:${t.target}"] g[aria-description="effective rank"] rect`).nth(layer).click();
    await idle(page);
    const card = page.locator(`[data-chart="spectrum:${t.target}"]`);
    assert.equal(await card.getAttribute('data-layer'), String(layer));
    const positive = t.layers[layer].singular_values.filter((s) => s > 0).length;
    assert.equal(await pathVertices(page, `[data-chart="spectrum:${t.target}"] g[aria-description="singular values"] path`), positive);
    assert.equal(await page.locator(`[data-chart="spectrum:${t.target}"] g[aria-label="y-axis tick"]`).count() > 0, true);
  });

  it('draws training curves with every logged point, log scale, smoothing and the comparison run', async () => {
    await showTab(page, 'curves');
    const train = run.metrics.filter((m): m is TrainMetricLine => m.type === 'train');
    const evalLoss = run.metrics.filter((m): m is EvalMetricLine => m.type === 'eval' && Number.isFinite(m.metrics.loss));
    const line = '[data-chart="curves:loss"] g[aria-description="main train loss"] path';
    assert.equal(await pathVertices(page, line), train.length);
    assert.equal(await page.locator('[data-chart="curves:loss"] g[aria-description="main eval loss points"] circle').count(), evalLoss.length);
    const linearPath = await page.locator(line).getAttribute('d');

    await page.click('[data-control="log-scale"]');
    await idle(page);
    assert.equal(await pathVertices(page, line), train.filter((m) => m.loss > 0).length);
    assert.notEqual(await page.locator(line).getAttribute('d'), linearPath, 'log scale did not change the curve');
    await page.click('[data-control="log-scale"]');
    await idle(page);

    await setRange(page, '[data-control="smoothing"]', 0.9);
    assert.equal(await pathVertices(page, '[data-chart="curves:loss"] g[aria-description="main train loss (raw)"] path'), train.length);
    assert.notEqual(await page.locator(line).getAttribute('d'), linearPath, 'smoothing did not change the curve');
    await setRange(page, '[data-control="smoothing"]', 0);

    // The overlay: the real LoRA run at the same budget (train --compare-lora).
    const compareTrain = source.lora.metrics.filter((m) => m.type === 'train').length;
    const compareLine = '[data-chart="curves:loss"] g[aria-description="compare train loss"] path';
    assert.equal(await pathVertices(page, compareLine), compareTrain);
    await page.click('[data-control="show-compare"]');
    await idle(page);
    assert.equal(await page.locator(compareLine).count(), 0, 'comparison still drawn after turning the overlay off');
    await page.click('[data-control="show-compare"]');
    await idle(page);
  });

  it('has a table view of the curves with the logged values', async () => {
    const train = run.metrics.filter((m): m is TrainMetricLine => m.type === 'train');
    await page.click('[data-control="table-toggle"][data-for="curves:lr"]');
    await idle(page);
    const rows = await tableRows(page, '[data-table="curves:lr"]');
    const byStep = new Map(rows.map((r) => [Number(r[0]), Number(r[1])]));
    for (const m of train) assertClose(byStep.get(m.step) ?? NaN, m.lr, `lr at step ${m.step}`);
    await page.click('[data-control="table-toggle"][data-for="curves:lr"]');
    await idle(page);
  });

  it('draws the expert similarity matrix of each target', async () => {
    await showTab(page, 'experts');
    const withSimilarity = run.spectrum!.targets.filter((x) => x.expert_similarity);
    assert.ok(withSimilarity.length > 0, `${run.runDir}/spectrum.json has no expert_similarity`);
    for (const t of withSimilarity) {
      const n = t.expert_similarity!.length;
      assert.equal(await page.locator(`[data-chart="experts:${t.target}"] g[aria-description="similarity"] rect`).count(), n * n);
      // A colour legend beside each matrix.
      const legend = page.locator(`[data-chart="experts:${t.target}"] [data-role="similarity-legend"]`);
      assert.match((await legend.textContent()) ?? '', /−1.*1/);
      assert.match((await legend.locator('.legend-ramp').getAttribute('style')) ?? '', /linear-gradient/);
    }
  });

  it('restores the tab, toggles and sliders after a reload', async () => {
    await showTab(page, 'curves');
    await page.click('[data-control="log-scale"]');
    await setRange(page, '[data-control="smoothing"]', 0.5);
    await page.reload();
    await page.waitForFunction('window.__lilyDashboard && window.__lilyDashboard.stats.frames > 0');
    await idle(page);
    assert.equal(await page.locator('[data-tab="curves"]').getAttribute('aria-selected'), 'true');
    assert.equal(await page.locator('[data-control="smoothing"]').inputValue(), '0.5');
    assert.equal(await page.locator('[data-control="log-scale"]').getAttribute('aria-checked'), 'true');
    assert.ok(await page.locator('[data-chart="curves:loss"] svg.lily-plot').isVisible(), 'curves not drawn after restore');
  });

  it('asked for nothing outside the page and broke no CSP rule', async () => {
    const outside = dash.requests.filter((url) => !url.startsWith('file:') && !url.startsWith('data:'));
    assert.deepEqual(outside, []);
    assert.deepEqual(await dash.cspViolations(), []);
    assert.deepEqual(dash.errors, []);
  });
});
