// The "Compare runs" tab: any number of runs overlaid (training loss and every eval metric) on a
// step, training-time or wall-clock x-axis; a sortable runs table (hyperparameters, trainable
// parameters, final and best eval metrics, time, sweep group); the diff of two runs' resolved
// configs; each chart exported as PNG (drawn here, saved by the host) or its data as CSV.
// The runs come from the host's `compareSet` ("Lily: Compare Runs..." or a multi-selection in
// the Runs view); the numbers and orderings come from data/compare.ts.
import { el } from '../dom';
import {
  chartCsv,
  diffConfigs,
  distinctNames,
  evalMetricKeys,
  exportFileName,
  metricTitle,
  runsTable,
  seriesOf,
  sortRows,
  X_MODES,
  xOf,
  type CellValue,
  type Column,
  type MetricId,
  type XMode,
} from '../data/compare';
import { decimateMinMax } from '../data/decimate';
import { EmaSeries } from '../data/ema';
import { fmtCount, fmtExact, fmtShort } from '../format';
import type { RunModel } from '../store';
import type { ThemeColors } from '../theme';
import { createButton, createRadioGroup } from '../toolkit';
import { ChartCard } from './chartCard';
import { chartToPng, type ExportLegendItem } from './chartExport';
import type { View, ViewContext } from './context';
import { renderLegend } from './legend';
import { chartWidth, drawPlot, Plot } from './plotHelpers';
import { renderTable } from './tableView';

/** Colours after the theme's six chart colours (a categorical palette; dashes tell repeats apart beyond it). */
const EXTRA_COLORS = ['#17becf', '#e377c2', '#8c564b', '#7f7f7f', '#bcbd22', '#2ca02c', '#9467bd', '#ff7f0e'];

export function runColors(theme: ThemeColors, n: number): Array<{ color: string; dashed: boolean }> {
  const base = [theme.blue, theme.orange, theme.green, theme.purple, theme.red, theme.yellow, ...EXTRA_COLORS];
  return Array.from({ length: n }, (_, i) => ({ color: base[i % base.length], dashed: i >= base.length }));
}

export class CompareView implements View {
  readonly element: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly xAxis;
  private readonly tableBox: HTMLElement;
  private readonly diffBox: HTMLElement;
  private readonly cardsBox: HTMLElement;
  private readonly cards = new Map<MetricId, ChartCard>();
  private readonly drawn = new Map<MetricId, string>();
  /** The chart drawn last for each metric and its legend, for the PNG export. */
  private readonly exportable = new Map<MetricId, { svg: SVGSVGElement | undefined; legend: ExportLegendItem[] }>();

  constructor(private readonly ctx: ViewContext) {
    this.xAxis = createRadioGroup<XMode>('X-axis', X_MODES.map((m) => ({ value: m.id, label: m.label })), ctx.ui.compareX, (x) => {
      ctx.ui.compareX = x;
      ctx.saveUi();
      ctx.invalidate(['compare']);
    }, 'compare-x');
    this.notice = el('p', { class: 'notice', attrs: { 'data-role': 'compare-notice' } });
    this.tableBox = el('div', { class: 'table-host compare-table-host', attrs: { 'data-role': 'runs-table' } });
    this.diffBox = el('div', { class: 'card', attrs: { 'data-role': 'config-diff', 'aria-label': 'Config diff' } });
    this.cardsBox = el('div', { class: 'cards curves-grid' });
    this.element = el('div', { class: 'view compare-view' }, [
      el('div', { class: 'toolbar' }, [
        this.xAxis.element,
        createButton('Add or remove runs…', () => ctx.post({ type: 'pickCompareRuns' }), 'compare-pick-runs', true),
      ]),
      this.notice,
      this.tableBox,
      this.cardsBox,
      this.diffBox,
    ]);
  }

  private get runs(): RunModel[] {
    return this.ctx.store.compareSet;
  }

  render(): void {
    const runs = this.runs;
    this.xAxis.setOptions(X_MODES.map((m) => ({ value: m.id, label: m.label })), this.ctx.ui.compareX);
    this.notice.textContent = runs.length
      ? ''
      : 'No runs to compare yet. Run "Lily: Compare Runs..." from the Command Palette, or select several runs in the Lily Runs view (Ctrl/Shift-click) or a sweep and choose "Compare Runs".';
    this.notice.hidden = !this.notice.textContent;
    this.tableBox.hidden = this.diffBox.hidden = this.cardsBox.hidden = runs.length === 0;
    if (!runs.length) return;
    const theme = this.ctx.theme();
    const colors = runColors(theme, runs.length);
    const names = distinctNames(runs);
    this.renderTable(runs, colors, names);
    this.renderDiff(runs, names);
    this.renderCharts(runs, colors, names);
  }

  // ---------------------------------------------------------------------------
  // Runs table

  private renderTable(runs: RunModel[], colors: Array<{ color: string; dashed: boolean }>, names: string[]): void {
    const ui = this.ctx.ui;
    const { columns, rows } = runsTable(runs);
    const sort = ui.compareSort && columns.some((c) => c.id === ui.compareSort!.column) ? ui.compareSort : null;
    const sweeps = new Map(runs.map((r) => [r.runDir, r.sweep]));
    const sorted = sort ? sortRows(rows, sort.column, sort.dir, sweeps) : rows;
    const index = new Map(runs.map((r, i) => [r.runDir, i]));
    const diff = this.diffPicks(runs);

    const table = el('table', { class: 'data-table compare-table' });
    table.append(el('caption', { text: `${runs.length} runs compared. Click a column heading to sort; tick two runs in "diff" to compare their configs.` }));
    const head = el('tr');
    head.append(el('th', { text: 'shown', attrs: { scope: 'col' } }), el('th', { text: 'diff', attrs: { scope: 'col' } }));
    for (const c of columns) {
      const th = el('th', { attrs: { scope: 'col', 'data-column': c.id, 'aria-sort': sort?.column === c.id ? (sort.dir === 'asc' ? 'ascending' : 'descending') : undefined } });
      const button = el('button', { class: 'sort-button', text: c.label + (sort?.column === c.id ? (sort.dir === 'asc' ? ' ▲' : ' ▼') : ''), attrs: { type: 'button', title: c.title, 'data-sort': c.id } });
      button.addEventListener('click', () => this.sortBy(c.id));
      th.append(button);
      head.append(th);
    }
    head.append(el('th', { attrs: { scope: 'col', 'aria-label': 'Remove' } }));
    table.append(el('thead', {}, [head]));
    const body = el('tbody');
    for (const row of sorted) {
      const i = index.get(row.runDir)!;
      const tr = el('tr', { attrs: { 'data-run': row.runDir } });
      const shown = el('input', { attrs: { type: 'checkbox', 'data-control': 'compare-shown', 'aria-label': `Show ${names[i]} in the charts` } });
      shown.checked = !ui.compareHidden.includes(row.runDir);
      shown.addEventListener('change', () => this.setShown(row.runDir, shown.checked));
      const swatch = el('span', { class: `swatch ${colors[i].dashed ? 'swatch-dashed' : 'swatch-line'}`, attrs: { 'aria-hidden': 'true' } });
      swatch.style.borderTopColor = colors[i].color;
      const pick = el('input', { attrs: { type: 'checkbox', 'data-control': 'diff-pick', 'aria-label': `Diff the config of ${names[i]}` } });
      pick.checked = diff.includes(row.runDir);
      pick.addEventListener('change', () => this.setDiff(row.runDir, pick.checked));
      tr.append(el('td', {}, [shown, swatch]), el('td', {}, [pick]));
      for (const c of columns) tr.append(cell(c, c.id === 'name' ? names[i] : row.cells[c.id]));
      const remove = el('button', { class: 'icon-button', text: '✕', attrs: { type: 'button', 'data-control': 'compare-remove', title: 'Remove from the comparison', 'aria-label': `Remove ${names[i]} from the comparison` } });
      remove.addEventListener('click', () => this.ctx.post({ type: 'removeCompareRun', runDir: row.runDir }));
      tr.append(el('td', {}, [remove]));
      body.append(tr);
    }
    table.append(body);
    this.tableBox.replaceChildren(table);
  }

  private sortBy(column: string): void {
    const ui = this.ctx.ui;
    ui.compareSort = ui.compareSort?.column === column ? { column, dir: ui.compareSort.dir === 'asc' ? 'desc' : 'asc' } : { column, dir: 'asc' };
    this.ctx.saveUi();
    this.ctx.invalidate(['compare']);
  }

  private setShown(runDir: string, shown: boolean): void {
    const hidden = this.ctx.ui.compareHidden.filter((d) => d !== runDir);
    if (!shown) hidden.push(runDir);
    this.ctx.ui.compareHidden = hidden;
    this.ctx.saveUi();
    this.ctx.invalidate(['compare']);
  }

  /** The runs ticked for the config diff: the user's ticks still in the set, else the first two runs. */
  private diffPicks(runs: RunModel[]): string[] {
    const dirs = runs.map((r) => r.runDir);
    const picked = this.ctx.ui.compareDiff;
    return picked ? picked.filter((d) => dirs.includes(d)) : dirs.slice(0, 2);
  }

  private setDiff(runDir: string, on: boolean): void {
    const current = this.diffPicks(this.runs);
    // A new tick replaces the older of two; unticking leaves the other one for the next tick.
    this.ctx.ui.compareDiff = on ? [...current.filter((d) => d !== runDir), runDir].slice(-2) : current.filter((d) => d !== runDir);
    this.ctx.saveUi();
    this.ctx.invalidate(['compare']);
  }

  // ---------------------------------------------------------------------------
  // Config diff

  private renderDiff(runs: RunModel[], names: string[]): void {
    const pair = this.diffPicks(runs);
    const title = el('h3', { text: 'Config diff' });
    if (pair.length !== 2) {
      this.diffBox.replaceChildren(title, el('p', { class: 'notice', text: 'Tick two runs in the "diff" column to compare their resolved configs.' }));
      return;
    }
    const [a, b] = pair.map((d) => runs.findIndex((r) => r.runDir === d));
    const { rows, same } = diffConfigs(runs[a].config, runs[b].config);
    const summary = el('p', { class: 'caption', attrs: { 'data-role': 'diff-summary' }, text: `${names[a]} vs ${names[b]}: ${rows.length} field${rows.length === 1 ? '' : 's'} differ, ${same} agree.` });
    const table = renderTable(
      `Fields of the resolved configs (config.json) that differ between ${names[a]} and ${names[b]}.`,
      ['field', names[a], names[b]],
      rows.map((r) => [r.path, r.a ?? '(absent)', r.b ?? '(absent)']),
    );
    table.dataset.role = 'diff-table';
    this.diffBox.replaceChildren(title, summary, table);
  }

  // ---------------------------------------------------------------------------
  // Charts

  private renderCharts(runs: RunModel[], colors: Array<{ color: string; dashed: boolean }>, names: string[]): void {
    const ui = this.ctx.ui;
    const metrics: MetricId[] = ['train:loss', ...evalMetricKeys(runs).map((k): MetricId => `eval:${k}`)];
    for (const id of metrics) {
      if (this.cards.has(id)) continue;
      const card = new ChartCard(this.ctx, `compare:${id}`, metricTitle(id), () => {
        this.drawn.delete(id);
        this.ctx.invalidate(['compare']);
      });
      card.controls.prepend(
        createButton('PNG', () => void this.exportPng(id), 'export-png', true),
        createButton('CSV', () => this.exportCsv(id), 'export-csv', true),
      );
      for (const b of card.controls.querySelectorAll<HTMLElement>('[data-control^="export-"]')) b.dataset.for = id;
      this.cards.set(id, card);
      this.cardsBox.append(card.element);
    }
    for (const [id, card] of this.cards) card.element.hidden = !metrics.includes(id);
    const width = chartWidth(this.cardsBox.querySelector<HTMLElement>('.card:not([hidden]) .chart') ?? this.cardsBox, 480);
    const shown = runs.map((r, i) => ({ run: r, i })).filter((x) => !ui.compareHidden.includes(x.run.runDir));
    for (const id of metrics) {
      const card = this.cards.get(id)!;
      const signature = [
        width, card.tableOn, ui.compareX, ui.logScale, id === 'train:loss' ? ui.smoothing : 0, this.ctx.theme().kind, this.ctx.theme().blue,
        ...shown.map(({ run, i }) => `${i}:${run.runDir}:${run.train.length}:${run.evals.length}:${run.status.state}`),
      ].join('|');
      if (this.drawn.get(id) === signature) continue;
      this.drawn.set(id, signature);
      this.drawChart(card, id, shown, colors, names, width);
    }
  }

  private drawChart(card: ChartCard, id: MetricId, shown: Array<{ run: RunModel; i: number }>, colors: Array<{ color: string; dashed: boolean }>, names: string[], width: number): void {
    const x = this.ctx.ui.compareX;
    const log = this.ctx.ui.logScale;
    const smoothing = id === 'train:loss' ? this.ctx.ui.smoothing : 0;
    const series = shown
      .map(({ run, i }) => {
        const points = seriesOf(run, id).filter((p) => (!log || p.value > 0) && (x === 'step' || Number.isFinite(x === 'time' ? p.time_s : p.wall_ms)));
        const ys = smoothing > 0 ? new EmaSeries(smoothing).extend(points.map((p) => p.value)) : points.map((p) => p.value);
        return { name: names[i], ...colors[i], xs: points.map((p) => xOf(p, x)), ys };
      })
      .filter((s) => s.xs.length > 0);
    card.element.hidden = series.length === 0;
    if (card.tableOn) {
      const header = ['run', 'step', 'time_s', 'value'];
      const rows = shown.flatMap(({ run, i }) => seriesOf(run, id).map((p) => [names[i], p.step, p.time_s, p.value] as const));
      card.table.replaceChildren(renderTable(`${metricTitle(id)}, every compared run.`, header, rows.map((r) => [r[0], r[1], r[2], r[3]])));
      this.exportable.set(id, { svg: undefined, legend: [] });
      return;
    }
    const isEval = id.startsWith('eval:');
    const buckets = Math.max(50, width - 70);
    const marks = series.flatMap((s) => {
      const idx = Array.from({ length: s.ys.length }, (_, k) => k);
      const numericX = s.xs.map((v) => (v instanceof Date ? v.getTime() : v));
      const kept = isEval ? idx : decimateMinMax(idx, numericX, s.ys, buckets);
      const channels = { x: (k: number) => s.xs[k], y: (k: number) => s.ys[k] };
      const line = Plot.line(kept, { ...channels, stroke: s.color, strokeWidth: 1.5, strokeDasharray: s.dashed ? '5,3' : undefined, ariaDescription: `${s.name}: ${metricTitle(id)}` });
      if (!isEval) return [line];
      return [line, Plot.dot(kept, { ...channels, fill: s.color, r: 2.5, ariaDescription: `${s.name}: ${metricTitle(id)} points`, title: (k: number) => `${s.name}\n${fmtShort(s.ys[k])}` })];
    });
    const xLabel = x === 'step' ? 'step' : x === 'time' ? 'training time (s)' : 'wall clock';
    const chart = drawPlot(card.chart, {
      width,
      height: 220,
      marginLeft: 56,
      x: { label: xLabel, grid: true, ...(x === 'wall' ? { type: 'time' as const } : {}) },
      y: { type: log ? 'log' : 'linear', label: metricTitle(id), grid: true, nice: true },
      marks,
    });
    card.chart.dataset.xMode = x;
    const legend = series.map((s) => ({ label: s.name, color: s.color, dashed: s.dashed }));
    this.exportable.set(id, { svg: chart instanceof SVGSVGElement ? chart : chart.querySelector('svg') ?? undefined, legend });
    card.footer.replaceChildren(renderLegend(legend.map((l) => ({ label: l.label, color: l.color, kind: l.dashed ? 'dashed' : 'line' }))));
  }

  /** Draws the chart as it is shown (x-axis, hidden runs, smoothing) into a PNG and asks the host to save it. */
  private async exportPng(id: MetricId): Promise<void> {
    const shown = this.exportable.get(id);
    if (!shown?.svg) {
      this.notice.textContent = 'Turn the table view off to export the chart as PNG.';
      this.notice.hidden = false;
      return;
    }
    const png = await chartToPng(shown.svg, this.ctx.theme(), metricTitle(id), shown.legend);
    this.ctx.post({ type: 'saveFile', kind: 'png', name: exportFileName(id, shown.legend.length, 'png'), data: png.dataUrl });
  }

  /** The chart's series (every run shown, every point, exact values) as CSV for the host to save. */
  private exportCsv(id: MetricId): void {
    const runs = this.runs;
    const names = distinctNames(runs);
    const keep = runs.map((r, i) => ({ r, name: names[i] })).filter((x) => !this.ctx.ui.compareHidden.includes(x.r.runDir));
    this.ctx.post({ type: 'saveFile', kind: 'csv', name: exportFileName(id, keep.length, 'csv'), data: chartCsv(id, keep.map((x) => x.r), keep.map((x) => x.name)) });
  }
}

function cell(column: Column, value: CellValue): HTMLTableCellElement {
  const td = el(column.id === 'name' ? 'th' : 'td', { attrs: { 'data-column': column.id } });
  if (column.id === 'name') td.setAttribute('scope', 'row');
  if (typeof value === 'number') {
    td.className = 'num';
    td.dataset.value = String(value);
    td.title = fmtExact(value);
    td.textContent = column.id === 'trainable_params' || column.id === 'steps' ? fmtCount(value) : fmtShort(value);
  } else {
    td.textContent = value ?? '–';
    if (value !== undefined) td.dataset.value = value;
  }
  return td;
}
