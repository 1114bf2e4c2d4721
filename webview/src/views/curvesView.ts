// Training curves (metrics.jsonl): loss, learning rate, gradient norm, throughput and each eval
// metric, with a log-scale toggle, EMA smoothing and an optional overlay of a comparison run
// (e.g. LoRA at the same budget). Live appends extend cached columns and smoothed series; long
// curves are min/max-decimated to the chart's pixel width before drawing.
import { el } from '../dom';
import { decimateMinMax } from '../data/decimate';
import { EmaSeries } from '../data/ema';
import { fmtShort } from '../format';
import type { RunModel, TrainColumn } from '../store';
import { createToggle, type Toggle } from '../toolkit';
import { ChartCard } from './chartCard';
import type { View, ViewContext } from './context';
import { renderLegend, type LegendItem } from './legend';
import { chartWidth, drawPlot, Plot } from './plotHelpers';
import { renderTable, type TableCell } from './tableView';

interface CurveSpec {
  id: string;
  title: string;
  /** Column of training lines drawn as a line. */
  train?: Exclude<TrainColumn, 'step'>;
  /** Eval metric drawn as points joined by a line. */
  evalKey?: string;
  /** Whether EMA smoothing applies (noisy per-step values). */
  smooth: boolean;
}

const FIXED_CURVES: readonly CurveSpec[] = [
  { id: 'loss', title: 'Loss', train: 'loss', evalKey: 'loss', smooth: true },
  { id: 'lr', title: 'Learning rate', train: 'lr', smooth: false },
  { id: 'grad_norm', title: 'Gradient norm', train: 'grad_norm', smooth: true },
  { id: 'throughput', title: 'Throughput (samples/s)', train: 'samples_per_s', smooth: false },
];

interface Series {
  label: string;
  color: string;
  xs: readonly number[];
  ys: readonly number[];
  kind: 'line' | 'raw' | 'eval';
  dashed: boolean;
}

export class CurvesView implements View {
  readonly element: HTMLElement;
  private readonly cards = new Map<string, ChartCard>();
  private readonly cardsBox: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly logToggle: Toggle;
  private readonly compareToggle: Toggle;
  private readonly smoothing: HTMLInputElement;
  private readonly smoothingLabel: HTMLElement;
  private readonly emas = new Map<string, EmaSeries>();
  /** Chart id -> signature of the inputs it was last drawn from. */
  private readonly drawn = new Map<string, string>();

  constructor(private readonly ctx: ViewContext) {
    this.logToggle = createToggle('Log scale', ctx.ui.logScale, (on) => this.set({ logScale: on }), 'log-scale');
    this.compareToggle = createToggle('Overlay comparison run', ctx.ui.showCompare, (on) => this.set({ showCompare: on }), 'show-compare');
    this.smoothing = el('input', { attrs: { type: 'range', min: 0, max: 0.99, step: 0.01, value: ctx.ui.smoothing, 'data-control': 'smoothing', 'aria-label': 'Smoothing (EMA weight)' } });
    this.smoothing.addEventListener('input', () => this.set({ smoothing: Number(this.smoothing.value) }));
    this.smoothingLabel = el('span', { class: 'slider-label' });
    this.notice = el('p', { class: 'notice' });
    this.cardsBox = el('div', { class: 'cards curves-grid' });
    this.element = el('div', { class: 'view curves-view' }, [
      el('div', { class: 'toolbar' }, [
        this.logToggle.element,
        el('label', { class: 'slider-box' }, ['Smoothing ', this.smoothing, this.smoothingLabel]),
        this.compareToggle.element,
      ]),
      this.notice,
      this.cardsBox,
    ]);
  }

  private set(change: Partial<Pick<ViewContext['ui'], 'logScale' | 'smoothing' | 'showCompare'>>): void {
    Object.assign(this.ctx.ui, change);
    this.ctx.saveUi();
    this.ctx.invalidate(['curves']);
  }

  render(): void {
    const { main, compare } = this.ctx.store;
    const ui = this.ctx.ui;
    this.logToggle.checked = ui.logScale;
    this.compareToggle.checked = ui.showCompare;
    this.compareToggle.element.hidden = !compare;
    this.smoothing.value = String(ui.smoothing);
    this.smoothingLabel.textContent = ui.smoothing ? ui.smoothing.toFixed(2) : 'off';
    if (!main) {
      this.notice.textContent = 'Waiting for run data…';
      return;
    }
    const runs = compare && ui.showCompare ? [main, compare] : [main];
    this.notice.textContent = main.train.length ? '' : 'No training steps logged yet.';
    this.notice.hidden = !this.notice.textContent;
    const specs = [...FIXED_CURVES, ...evalKeys(runs).filter((k) => k !== 'loss').map((k): CurveSpec => ({ id: `eval:${k}`, title: `Eval ${k}`, evalKey: k, smooth: false }))];
    for (const spec of specs) {
      if (this.cards.has(spec.id)) continue;
      const card = new ChartCard(this.ctx, `curves:${spec.id}`, spec.title, () => {
        this.drawn.delete(spec.id);
        this.ctx.invalidate(['curves']);
      });
      this.cards.set(spec.id, card);
      this.cardsBox.append(card.element);
    }
    // Cards share one grid column width: measure once, before any chart is replaced, so the
    // layout is not forced again for every chart.
    const width = chartWidth(this.cardsBox.querySelector<HTMLElement>('.card:not([hidden]) .chart') ?? this.cardsBox, 480);
    for (const spec of specs) {
      const card = this.cards.get(spec.id)!;
      // Redraw a chart only when its inputs changed: a training line leaves eval charts alone.
      const signature = [
        width,
        card.tableOn,
        ui.logScale,
        spec.smooth ? ui.smoothing : 0,
        this.ctx.theme().kind,
        this.ctx.theme().blue,
        ...runs.map((r) => `${r.runDir}:${spec.train ? r.train.length : 0}:${spec.evalKey ? r.evals.length : 0}`),
      ].join('|');
      if (this.drawn.get(spec.id) === signature) continue;
      this.drawn.set(spec.id, signature);
      this.drawCurve(card, spec, runs, width);
    }
  }

  private drawCurve(card: ChartCard, spec: CurveSpec, runs: RunModel[], width: number): void {
    const theme = this.ctx.theme();
    const colors = [theme.blue, theme.orange];
    const evalColors = [theme.purple, theme.yellow];
    const series: Series[] = [];
    runs.forEach((run, k) => {
      const who = k === 0 ? 'main' : 'compare';
      if (spec.train && run.train.length) {
        const xs = run.trainColumns.step;
        const raw = run.trainColumns[spec.train];
        const alpha = spec.smooth ? this.ctx.ui.smoothing : 0;
        if (alpha > 0) {
          series.push({ label: `${who} train ${spec.id} (raw)`, color: colors[k], xs, ys: raw, kind: 'raw', dashed: k > 0 });
          series.push({ label: `${who} train ${spec.id}`, color: colors[k], xs, ys: this.smoothed(run, spec.train, alpha), kind: 'line', dashed: k > 0 });
        } else {
          series.push({ label: `${who} train ${spec.id}`, color: colors[k], xs, ys: raw, kind: 'line', dashed: k > 0 });
        }
      }
      if (spec.evalKey) {
        const evals = run.evals.filter((e) => Number.isFinite(e.metrics[spec.evalKey!]));
        if (evals.length) {
          series.push({
            label: `${who} eval ${spec.evalKey}`,
            color: evalColors[k],
            xs: evals.map((e) => e.step),
            ys: evals.map((e) => e.metrics[spec.evalKey!]),
            kind: 'eval',
            dashed: k > 0,
          });
        }
      }
    });
    card.element.hidden = series.length === 0;
    if (!series.length) return;
    if (card.tableOn) {
      card.table.replaceChildren(curveTable(spec.title, series.filter((s) => s.kind !== 'raw')));
      return;
    }
    const log = this.ctx.ui.logScale;
    const buckets = Math.max(50, width - 70);
    const marks = series.flatMap((s) => {
      let idx = Array.from({ length: s.ys.length }, (_, i) => i);
      // A log scale cannot show zero or negative values (e.g. lr during warmup from 0).
      if (log) idx = idx.filter((i) => s.ys[i] > 0);
      const drawn = s.kind === 'eval' ? idx : decimateMinMax(idx, s.xs, s.ys, buckets);
      const channels = { x: (i: number) => s.xs[i], y: (i: number) => s.ys[i] };
      const common = { stroke: s.color, ariaDescription: s.label, strokeDasharray: s.dashed ? '5,3' : undefined };
      if (s.kind === 'raw') return [Plot.line(drawn, { ...channels, ...common, strokeOpacity: 0.25 })];
      if (s.kind === 'eval') {
        return [
          Plot.line(drawn, { ...channels, ...common, strokeWidth: 1 }),
          Plot.dot(drawn, { ...channels, fill: s.color, r: 3, ariaDescription: `${s.label} points`, title: (i: number) => `step ${s.xs[i]}: ${fmtShort(s.ys[i])}` }),
        ];
      }
      return [Plot.line(drawn, { ...channels, ...common, strokeWidth: 1.5 })];
    });
    drawPlot(card.chart, {
      width,
      height: 200,
      marginLeft: 56,
      x: { label: 'step', grid: true },
      y: { type: log ? 'log' : 'linear', label: spec.title, grid: true, nice: true },
      marks,
    });
    const legend: LegendItem[] = series
      .filter((s) => s.kind !== 'raw')
      .map((s) => ({ label: legendLabel(s.label, runs), color: s.color, kind: s.kind === 'eval' ? 'dot' : s.dashed ? 'dashed' : 'line' }));
    card.footer.replaceChildren(renderLegend(legend));
  }

  private smoothed(run: RunModel, column: Exclude<TrainColumn, 'step'>, alpha: number): readonly number[] {
    const key = `${run.runDir}|${column}`;
    let ema = this.emas.get(key);
    if (!ema) {
      ema = new EmaSeries(alpha);
      this.emas.set(key, ema);
    }
    ema.setAlpha(alpha, run.trainColumns[column]);
    return ema.extend(run.trainColumns[column]);
  }
}

function evalKeys(runs: RunModel[]): string[] {
  const keys: string[] = [];
  for (const run of runs) for (const e of run.evals) for (const k of Object.keys(e.metrics)) if (!keys.includes(k)) keys.push(k);
  return keys;
}

function legendLabel(label: string, runs: RunModel[]): string {
  const [who, ...rest] = label.split(' ');
  const run = who === 'main' ? runs[0] : runs[1];
  // Two runs of one config share a name: mark the comparison one.
  const name = who === 'compare' && run?.name === runs[0]?.name ? `${run.name} (comparison)` : run?.name ?? who;
  return `${name}: ${rest.join(' ')}`;
}

/** One row per step; one column per series (empty where a series has no value at that step). */
function curveTable(title: string, series: Series[]): HTMLTableElement {
  const byStep = new Map<number, TableCell[]>();
  series.forEach((s, k) => {
    for (let i = 0; i < s.xs.length; i++) {
      let row = byStep.get(s.xs[i]);
      if (!row) {
        row = new Array<TableCell>(series.length + 1).fill(null);
        row[0] = String(s.xs[i]);
        byStep.set(s.xs[i], row);
      }
      row[k + 1] = s.ys[i];
    }
  });
  const rows = [...byStep.entries()].sort((a, b) => a[0] - b[0]).map(([, row]) => row);
  return renderTable(`${title} per step.`, ['step', ...series.map((s) => s.label)], rows);
}
