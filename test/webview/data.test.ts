// The dashboard's pure data code, in Node: smoothing, decimation, routing matrices, layouts,
// the UI-state restore and which views a host message invalidates.
import assert from 'node:assert/strict';
import { decimateMinMax } from '../../webview/src/data/decimate';
import { EmaSeries } from '../../webview/src/data/ema';
import { entropy } from '../../webview/src/data/routing';
import { targetLayouts } from '../../webview/src/data/targets';
import { fmtDevice, fmtExact } from '../../webview/src/format';
import { DashboardStore } from '../../webview/src/store';
import { DEFAULT_UI_STATE, restoreUiState } from '../../webview/src/uiState';
import { lilyParams, makeFixture, rankMeasures, resolveOptions } from './make-fixture';
import { realRuns } from './runSource';

describe('dashboard data', () => {
  it('EMA extended point by point equals the EMA computed at once, debiased', () => {
    const values = [4, 2, 3, 8, 1, 0, 5];
    const whole = new EmaSeries(0.6).extend(values);
    const grown = new EmaSeries(0.6);
    for (let n = 1; n <= values.length; n++) grown.extend(values.slice(0, n));
    assert.deepEqual(grown.values, whole);
    assert.equal(whole[0], 4, 'debiased: the first smoothed value is the first value');
    // Direct definition: s_n = sum_k (1-a) a^(n-k) v_k / (1 - a^(n+1)).
    const a = 0.6;
    const n = values.length - 1;
    const direct = values.reduce((s, v, k) => s + (1 - a) * a ** (n - k) * v, 0) / (1 - a ** (n + 1));
    assert.ok(Math.abs(whole[n] - direct) < 1e-12);
    const none = new EmaSeries(0).extend(values);
    assert.deepEqual(none, values);
  });

  it('min/max decimation keeps extremes and order, and leaves short curves alone', () => {
    const xs = Array.from({ length: 10_000 }, (_, i) => i);
    const ys = xs.map((x) => Math.sin(x / 50) + (x === 4321 ? 10 : 0) + (x === 777 ? -10 : 0));
    const idx = xs.map((_, i) => i);
    const kept = decimateMinMax(idx, xs, ys, 500);
    assert.ok(kept.length <= 2000, `${kept.length} points kept`);
    assert.ok(kept.includes(4321) && kept.includes(777), 'spikes dropped');
    assert.ok(kept.includes(0) && kept.includes(9999), 'ends dropped');
    for (let i = 1; i < kept.length; i++) assert.ok(kept[i] > kept[i - 1], 'not in x order');
    const short = idx.slice(0, 300);
    assert.equal(decimateMinMax(short, xs, ys, 500), short);
  });

  it('entropy is in nats and normalises its input', () => {
    assert.ok(Math.abs(entropy([0.25, 0.25, 0.25, 0.25]) - Math.log(4)) < 1e-12);
    assert.equal(entropy([1, 0, 0]), 0);
    assert.ok(Math.abs(entropy([2, 2]) - Math.log(2)) < 1e-12);
  });

  it('synthetic fixture numbers follow their definitions (params, ranks, entropies)', () => {
    const o = resolveOptions();
    const run = makeFixture().init.run;
    assert.equal(run.status.trainable_params, lilyParams(o));
    const perTarget = Math.ceil(o.layers / o.strideA) * o.r * o.dIn + o.experts * o.r * o.dOut + o.layers * o.r * o.experts;
    assert.equal(run.spectrum!.targets[0].trainable_params, perTarget);
    const m = rankMeasures([4, 2, 0]);
    assert.equal(m.numerical_rank, 2);
    assert.ok(Math.abs(m.stable_rank - (16 + 4) / 16) < 1e-12);
    assert.ok(Math.abs(m.effective_rank - Math.exp(entropy([4, 2]))) < 1e-12);
    for (const t of run.routerStats!.targets) {
      for (const layer of t.per_layer) {
        assert.ok(Math.abs(layer.mean.reduce((a, b) => a + b, 0) - 1) < 1e-9, 'router mean does not sum to 1');
        assert.ok(Math.abs(layer.entropy - entropy(layer.mean)) < 1e-9);
        assert.ok(layer.token_entropy <= Math.log(t.num_B) + 1e-12);
      }
    }
  });

  it('builds target layouts from router.jsonl alone, before any evaluation (real run)', async function () {
    this.timeout(240_000);
    const run = (await realRuns()).lily;
    const layouts = targetLayouts(run.config, undefined, undefined, run.router);
    const first = Object.entries(run.router[0].targets)[0];
    assert.equal(layouts[0].target, first[0]);
    assert.equal(layouts[0].layers.length, first[1].length);
    assert.equal(layouts[0].numB, first[1][0].length);
    // stride_A from the config gives the A groups.
    const adapter = run.config!.adapter;
    assert.equal(adapter.method, 'lily');
    const stride = adapter.stride_A ?? 1;
    assert.deepEqual(layouts[0].layers.map((l) => l.a_group), layouts[0].layers.map((l) => Math.floor(l.index / stride)));
  });

  it('restores saved UI state field by field and ignores garbage', () => {
    assert.deepEqual(restoreUiState(undefined), DEFAULT_UI_STATE);
    const s = restoreUiState({ tab: 'curves', smoothing: 0.5, logScale: true, tables: { 'curves:loss': true }, replayIndex: 3, heatmapMode: 'bogus', tokenIndex: -1 });
    assert.equal(s.tab, 'curves');
    assert.equal(s.smoothing, 0.5);
    assert.equal(s.logScale, true);
    assert.deepEqual(s.tables, { 'curves:loss': true });
    assert.equal(s.replayIndex, 3);
    assert.equal(s.heatmapMode, DEFAULT_UI_STATE.heatmapMode);
    assert.equal(s.tokenIndex, DEFAULT_UI_STATE.tokenIndex);
    assert.equal(restoreUiState({ smoothing: 1.5 }).smoothing, 0);
  });

  it('an append invalidates only the curves and the router replay (synthetic fixture: later messages)', () => {
    const fixture = makeFixture({ initSteps: 50 });
    const store = new DashboardStore();
    assert.deepEqual(store.apply(fixture.init).sort(), ['curves', 'experts', 'header', 'rank', 'router']);
    const append = fixture.updates!.find((m) => m.type === 'append' && m.router.length > 0)!;
    assert.deepEqual(store.apply(append).sort(), ['curves', 'router']);
    const trainBefore = store.main!.train.length;
    const metricsOnly = fixture.updates!.find((m) => m.type === 'append' && m.router.length === 0 && m.metrics.length > 0);
    if (metricsOnly) {
      assert.deepEqual(store.apply(metricsOnly), ['curves']);
      assert.ok(store.main!.train.length > trainBefore);
      assert.equal(store.main!.trainColumns.loss.length, store.main!.train.length);
    }
    assert.deepEqual(store.apply({ type: 'append', runDir: '/elsewhere', metrics: [], router: [] }), []);
    const compareAppend = { type: 'append' as const, runDir: fixture.init.compare!.runDir, metrics: [fixture.init.compare!.metrics[0]], router: [] };
    assert.deepEqual(store.apply(compareAppend), ['curves']);
  });

  it('formats the "exact" value with six significant digits', () => {
    assert.equal(fmtExact(0.0625), '0.0625');
    assert.equal(fmtExact(1 / 3), '0.333333');
    assert.equal(fmtExact(123456789), '123457000');
    assert.equal(fmtExact(0), '0');
  });
});

describe('device label', () => {
  it('does not repeat the device from the backend\'s note', () => {
    assert.equal(fmtDevice('cpu', 'using cpu (cuda: provider not installed; webgpu: no adapter)'), 'cpu · skipped cuda: provider not installed; webgpu: no adapter');
    assert.equal(fmtDevice('cpu', 'using cpu'), 'cpu');
    assert.equal(fmtDevice('cuda', undefined), 'cuda');
    assert.equal(fmtDevice('cpu', 'fell back after an error'), 'cpu · fell back after an error');
  });
});
