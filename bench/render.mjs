// Render benchmark of the dashboard webview in headless Chromium (not a test: it prints a table).
// A 48-layer x 16-expert heatmap per target (2 targets) with 200 logged router steps to replay,
// and 10 000-point training curves (plus a 10 000-point comparison run).
//
//   npm run bench:render          (node --import tsx bench/render.mjs)
//
// "draw" is the time the dashboard spent redrawing that view in the frame (its own timer);
// "latency" is from the input (message or slider move) to the end of the next frame that drew it.
import { buildWebviewOnce, idle, launchBrowser, openDashboard } from '../test/webview/browser.ts';
import { makeFixture } from '../test/webview/make-fixture.ts';

const LAYERS = 48;
const EXPERTS = 16;
const STEPS = 10_000;
const ROUTER_LINES = 200;
const LIVE_STEPS = 100; // appended one message at a time after the initial snapshot

function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: at(0.5), p95: at(0.95), n: values.length };
}

const rows = [];
function record(what, values, unit = 'ms') {
  const s = summary(values);
  rows.push([what, s.median.toFixed(1), s.p95.toFixed(1), String(s.n), unit]);
}

buildWebviewOnce();
const t0 = performance.now();
const fixture = makeFixture({
  layers: LAYERS,
  experts: EXPERTS,
  steps: STEPS,
  logEvery: 1,
  routerEvery: STEPS / ROUTER_LINES,
  evalEvery: 1000,
  initSteps: STEPS - LIVE_STEPS,
});
const fixtureMs = performance.now() - t0;
const json = JSON.stringify(fixture);
console.log(`fixture: ${LAYERS} layers x ${EXPERTS} experts x 2 targets, ${STEPS} steps, ${ROUTER_LINES} router lines; ` +
  `${(json.length / 1e6).toFixed(1)} MB of JSON, made in ${fixtureMs.toFixed(0)} ms`);

const browser = await launchBrowser();
try {
  const { page, errors } = await openDashboard(browser, 'bench', fixture, 'dark');
  await idle(page);
  const firstPaint = await page.evaluate('performance.now()');
  const stats = () => page.evaluate('JSON.parse(JSON.stringify(window.__lilyDashboard.stats))');
  let s = await stats();
  record('page load to first drawn frame (incl. 10k-point JSON)', [firstPaint]);
  record('first draw: header', [s.lastRenderMs.header]);
  record(`first draw: router heatmaps (2 x ${LAYERS}x${EXPERTS})`, [s.lastRenderMs.router]);

  for (const [tab, view] of [['rank', 'rank'], ['curves', 'curves'], ['experts', 'experts']]) {
    const start = Date.now();
    await page.click(`[data-tab="${tab}"]`);
    await idle(page);
    s = await stats();
    record(`first draw: ${view}`, [s.lastRenderMs[view]]);
    record(`tab switch to ${view} (click to drawn)`, [Date.now() - start]);
  }

  // Replay: move the step slider across the logged steps.
  await page.click('[data-tab="router"]');
  await page.click('[data-control="heatmap-mode"] [data-value="training"]');
  await idle(page);
  const draws = [];
  const latency = [];
  const positions = Array.from({ length: 40 }, (_, i) => Math.floor((i * 193) % (ROUTER_LINES - 4)));
  for (const p of positions) {
    const start = Date.now();
    await page.locator('[data-control="replay-step"]').fill(String(p));
    await idle(page);
    latency.push(Date.now() - start);
    draws.push((await stats()).lastRenderMs.router);
  }
  record('replay slider step: router redraw', draws);
  record('replay slider step: input to drawn', latency);

  // Live appends on the curves tab (10 000-point curves growing), then on the router tab.
  const updates = fixture.updates.filter((m) => m.type === 'append');
  const half = Math.floor(updates.length / 2);
  for (const [tab, view, slice] of [['curves', 'curves', updates.slice(0, half)], ['router', 'router', updates.slice(half)]]) {
    await page.click(`[data-tab="${tab}"]`);
    await idle(page);
    const drawMs = [];
    const lat = [];
    for (const message of slice) {
      const start = Date.now();
      await page.evaluate((m) => window.__lilyHost.send(m), message);
      await idle(page);
      lat.push(Date.now() - start);
      drawMs.push((await stats()).lastRenderMs[view]);
    }
    record(`append one step: ${view} redraw`, drawMs);
    record(`append one step: message to drawn (${view} tab)`, lat);
  }
  if (errors.length) console.log(`page errors: ${errors.join('\n')}`);
} finally {
  await browser.close();
}

const header = ['measurement', 'median', 'p95', 'n', 'unit'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
console.log(line(header));
console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
for (const r of rows) console.log(line(r));
