// Light and dark themes with screenshots, and the plain-browser page out/webview/index.html,
// drawn from the real runs of runSource.ts. Live updates (append/status/routerStats/spectrum
// after init) use the generated fixture: they need a long run's later part as a burst of
// messages, which a few-step real run directory cannot provide.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { TrainMetricLine } from '../../native-runtime/runFiles';
import { ARTIFACTS, buildWebviewOnce, idle, launchBrowser, openDashboard, openFile, WEBVIEW_OUT, type Browser } from './browser';
import { fixtureScript, makeFixture } from './make-fixture';
import { realRuns, type RealRuns } from './runSource';

async function renders(page: Page): Promise<Record<string, number>> {
  return (await page.evaluate('({ ...window.__lilyDashboard.stats.renders })')) as Record<string, number>;
}

describe('dashboard webview: live updates, themes, plain-browser page', function () {
  this.timeout(60_000);
  let browser: Browser;
  let real: RealRuns;

  before(async function () {
    this.timeout(240_000);
    buildWebviewOnce();
    real = await realRuns();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  it('extends the charts from append messages, one redraw per frame, hidden tabs untouched (synthetic fixture: a burst of later messages)', async () => {
    const fixture = makeFixture({ initSteps: 60, noCompare: true });
    const all = makeFixture({ noCompare: true }).init.run;
    const { page, errors } = await openDashboard(browser, 'live', fixture);
    await page.click('[data-control="heatmap-mode"] [data-value="training"]');
    await idle(page);
    const target = Object.keys(all.router[0].targets)[0];
    // Mark a cell: after the updates it must be the same element (recoloured, not rebuilt).
    await page.evaluate(`document.querySelector('[data-chart="router:${target}"] .cell').__lilyMark = 1`);
    const before = await renders(page);

    // Every later message of the run in one task, as a burst from the host would arrive.
    const sent = (await page.evaluate('(() => { const u = window.__lilyHost.fixture.updates; for (const m of u) window.__lilyHost.send(m); return u.length; })()')) as number;
    assert.ok(sent > 10, `fixture has only ${sent} updates`);
    await idle(page);
    const after = await renders(page);
    assert.equal(after.router - before.router, 1, 'the router view should redraw once for the whole burst');
    assert.equal(after.rank ?? 0, before.rank ?? 0, 'the hidden rank tab redrew');
    assert.equal(after.curves ?? 0, before.curves ?? 0, 'the hidden curves tab redrew');
    assert.equal(await page.evaluate(`document.querySelector('[data-chart="router:${target}"] .cell').__lilyMark`), 1, 'heatmap rebuilt instead of updated');

    // The replay follows the newest logged step.
    const cells = await page.locator(`[data-chart="router:${target}"] .cell`).evaluateAll((els: any[]) => els.map((e) => Number(e.dataset.value)));
    assert.deepEqual(cells, all.router[all.router.length - 1].targets[target].flat());
    assert.equal(await page.locator('[data-role="state"]').textContent(), 'completed');
    assert.match((await page.locator('[data-role="progress"]').textContent()) ?? '', /step 100 \/ 100/);

    await page.click('[data-tab="curves"]');
    await idle(page);
    const train = all.metrics.filter((m): m is TrainMetricLine => m.type === 'train');
    const d = (await page.locator('[data-chart="curves:loss"] g[aria-description="main train loss"] path').getAttribute('d')) ?? '';
    assert.equal((d.match(/[ML]/g) ?? []).length, train.length);
    assert.deepEqual(errors, []);
    await page.close();
  });

  for (const theme of ['light', 'dark'] as const) {
    it(`renders every tab of the real run in the ${theme} theme (screenshots in test-artifacts/webview/)`, async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      const { page, errors, cspViolations } = await openDashboard(browser, `theme-${theme}`, real.fixture, theme);
      const background = await page.evaluate('getComputedStyle(document.body).backgroundColor');
      const expected = theme === 'light' ? 'rgb(255, 255, 255)' : 'rgb(31, 31, 31)';
      assert.equal(background, expected, 'theme variables not applied');
      // The heatmap's strongest cell takes the theme's chart colour, the weakest fades to the background.
      const colours = (await page.locator('.router-view .cell').evaluateAll((els: any[]) => els.map((e) => [Number(e.dataset.value), (globalThis as any).getComputedStyle(e).backgroundColor]))) as Array<[number, string]>;
      const strongest = colours.reduce((a, b) => (b[0] > a[0] ? b : a));
      assert.notEqual(strongest[1], background);
      for (const tab of ['router', 'rank', 'curves', 'experts']) {
        await page.click(`[data-tab="${tab}"]`);
        await idle(page);
        await page.screenshot({ path: join(ARTIFACTS, `${theme}-${tab}.png`), fullPage: true });
      }
      assert.deepEqual(await cspViolations(), []);
      assert.deepEqual(errors, []);
      await page.close();
    });
  }

  it('switches colours when VS Code changes the theme class', async () => {
    const { page } = await openDashboard(browser, 'theme-switch', real.fixture, 'dark');
    const cell = '.router-view .cell[data-row="0"][data-col="0"] >> nth=0';
    const darkColour = await page.locator(cell).evaluate((e: any) => (globalThis as any).getComputedStyle(e).backgroundColor);
    await page.evaluate(`document.body.classList.replace('vscode-dark', 'vscode-light')`);
    await idle(page);
    const lightColour = await page.locator(cell).evaluate((e: any) => (globalThis as any).getComputedStyle(e).backgroundColor);
    assert.notEqual(lightColour, darkColour);
    await page.close();
  });

  it('runs as a plain local page: out/webview/index.html with fixture.js (the real run)', async () => {
    const fixture = real.fixture;
    writeFileSync(join(WEBVIEW_OUT, 'fixture.js'), fixtureScript(fixture));
    const { page, requests, errors, cspViolations } = await openFile(browser, join(WEBVIEW_OUT, 'index.html'), 'light');
    await idle(page);
    const stats = fixture.init.run.routerStats!;
    const cells = stats.targets.reduce((n, t) => n + t.per_layer.length * t.num_B, 0);
    assert.equal(await page.locator('.router-view .cell').count(), cells);
    assert.deepEqual(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:')), []);
    assert.deepEqual(await cspViolations(), []);
    assert.deepEqual(errors, []);
    const posted = (await page.evaluate('window.__lilyHost.sent.map((m) => m.type)')) as string[];
    assert.equal(posted[0], 'ready', 'the dashboard must post ready before anything else');
    await page.close();
  });
});
