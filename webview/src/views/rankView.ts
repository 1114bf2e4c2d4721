// Rank of ΔW per layer (spectrum.json): bars of numerical and effective rank per layer, with the
// rank bound r and the LoRA rank at the same parameter budget as rule lines, which is the
// paper's argument in one picture. Clicking a layer (or picking it in the list) shows its
// singular values on a log scale.
import type { AdapterLayerInfo, LayerSpectrum, SpectrumReport } from '../../../native-runtime/runFiles';
import { el } from '../dom';
import { fmtCount, fmtExact } from '../format';
import { createDropdown, type Choice } from '../toolkit';
import { ChartCard } from './chartCard';
import type { View, ViewContext } from './context';
import { renderLegend } from './legend';
import { chartWidth, drawPlot, Plot, thinTicks, type PlotElement } from './plotHelpers';
import { renderTable } from './tableView';

type SpectrumTarget = SpectrumReport['targets'][number];
/** runFiles.ts types a spectrum target's layers as TargetInfo & {layers: LayerSpectrum[]}: both shapes. */
type SpectrumLayer = AdapterLayerInfo & LayerSpectrum;

interface LayerRow {
  index: number;
  module: string;
  a_group: number;
  numerical: number;
  effective: number;
  stable: number;
}

interface TargetPanel {
  card: ChartCard;
  spectrumCard: ChartCard;
  layerPick: Choice<string>;
}

export class RankView implements View {
  readonly element: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly cards: HTMLElement;
  private readonly panels = new Map<string, TargetPanel>();

  constructor(private readonly ctx: ViewContext) {
    this.notice = el('p', { class: 'notice' });
    this.cards = el('div', { class: 'cards' });
    this.element = el('div', { class: 'view rank-view' }, [this.notice, this.cards]);
  }

  render(): void {
    const spectrum = this.ctx.store.main?.spectrum;
    if (!spectrum) {
      this.notice.textContent = 'No spectrum yet: spectrum.json is written at each evaluation.';
      this.notice.hidden = false;
      return;
    }
    this.notice.textContent = `Singular values of ΔW per layer at step ${spectrum.step} (${spectrum.method}). Numerical rank counts σ above a tolerance; effective rank is exp(entropy of σ/Σσ).`;
    this.notice.hidden = false;
    const seen = new Set<string>();
    for (const target of spectrum.targets) {
      seen.add(target.target);
      const panel = this.panelFor(target);
      this.drawTarget(panel, target);
    }
    for (const [name, panel] of this.panels) {
      if (seen.has(name)) continue;
      panel.card.element.remove();
      panel.spectrumCard.element.remove();
      this.panels.delete(name);
    }
  }

  private selected(target: SpectrumTarget): number {
    const index = this.ctx.ui.selectedLayer[target.target] ?? 0;
    return Math.min(index, Math.max(0, target.layers.length - 1));
  }

  private select(target: string, index: number): void {
    this.ctx.ui.selectedLayer[target] = index;
    this.ctx.saveUi();
    this.ctx.invalidate(['rank']);
  }

  private panelFor(target: SpectrumTarget): TargetPanel {
    const existing = this.panels.get(target.target);
    if (existing) return existing;
    const card = new ChartCard(this.ctx, `rank:${target.target}`, target.target, () => this.ctx.invalidate(['rank']));
    card.element.dataset.target = target.target;
    const layerPick = createDropdown<string>(`Layer of ${target.target} whose spectrum is shown`, [], '0', (v) => this.select(target.target, Number(v)), 'layer-pick');
    card.controls.prepend(layerPick.element);
    const spectrumCard = new ChartCard(this.ctx, `spectrum:${target.target}`, 'Singular values', () => this.ctx.invalidate(['rank']));
    spectrumCard.element.classList.add('sub-card');
    spectrumCard.element.dataset.target = target.target;
    this.cards.append(card.element, spectrumCard.element);
    const panel = { card, spectrumCard, layerPick };
    this.panels.set(target.target, panel);
    return panel;
  }

  private drawTarget(panel: TargetPanel, target: SpectrumTarget): void {
    const compared = this.comparedRanks(target);
    const rows: LayerRow[] = (target.layers as SpectrumLayer[]).map((l, index) => ({
      index,
      module: l.module,
      a_group: l.a_group,
      numerical: l.numerical_rank,
      effective: l.effective_rank,
      stable: l.stable_rank,
    }));
    const selected = this.selected(target);
    const options = rows.map((r) => ({ value: String(r.index), label: `L${r.index}: ${r.module}` }));
    if (panel.layerPick.value !== String(selected) || panel.layerPick.element.childElementCount !== options.length) {
      panel.layerPick.setOptions(options, String(selected));
    }
    panel.card.setTitle(`${target.target}: rank of ΔW per layer (r = ${target.r}, ${fmtCount(target.trainable_params)} trainable parameters)`);
    if (panel.card.tableOn) {
      panel.card.table.replaceChildren(
        renderTable(
          `Rank of ΔW per layer for ${target.target}. Bound r = ${target.r}; LoRA rank at the same budget = ${target.lora_rank_at_budget}.`,
          ['layer', 'module', 'A group', 'numerical rank', 'effective rank', 'stable rank', ...(compared.length ? [`${compared[0].name} numerical rank`, `${compared[0].name} effective rank`] : [])],
          rows.map((r) => [`L${r.index}`, r.module, String(r.a_group), r.numerical, r.effective, r.stable, ...(compared.length ? [compared[r.index]?.numerical ?? NaN, compared[r.index]?.effective ?? NaN] : [])]),
        ),
      );
    } else {
      this.drawBars(panel, target, rows, selected);
    }
    this.drawSpectrum(panel, target, selected);
  }

  /**
   * In comparison mode: the compared run's measured ranks for the same target, by layer index
   * (the LoRA run trained at the same budget), so both methods' ranks sit side by side.
   */
  private comparedRanks(target: SpectrumTarget): Array<{ index: number; numerical: number; effective: number; name: string }> {
    const other = this.ctx.store.compare;
    const t = other?.spectrum?.targets.find((x) => x.target === target.target);
    if (!other || !t) return [];
    return (t.layers as SpectrumLayer[]).map((l, index) => ({ index, numerical: l.numerical_rank, effective: l.effective_rank, name: `${other.name} (${other.status.method})` }));
  }

  private drawBars(panel: TargetPanel, target: SpectrumTarget, rows: LayerRow[], selected: number): void {
    const theme = this.ctx.theme();
    const compared = this.comparedRanks(target).filter((c) => c.index < rows.length);
    const width = chartWidth(panel.card.chart);
    const marginLeft = 40;
    const marginRight = 120;
    const band = (width - marginLeft - marginRight) / Math.max(1, rows.length);
    const top = Math.max(target.r, target.lora_rank_at_budget, ...rows.map((r) => r.numerical), ...compared.map((c) => c.numerical)) * 1.08;
    const indices = rows.map((r) => r.index);
    const chart: PlotElement = drawPlot(panel.card.chart, {
      width,
      height: 260,
      marginLeft,
      marginRight,
      x: { type: 'band', domain: indices, label: 'layer', ticks: thinTicks(indices, 24), padding: 0.15 },
      y: { domain: [0, top], label: 'rank', grid: true },
      marks: [
        Plot.barY(rows, { x: 'index', y: 'numerical', fill: theme.blue, fillOpacity: 0.45, ariaDescription: 'numerical rank', title: (d: LayerRow) => `L${d.index} ${d.module}\nnumerical rank ${d.numerical}` }),
        Plot.barY(rows, { x: 'index', y: 'effective', fill: theme.orange, insetLeft: Math.max(0.5, band * 0.22), insetRight: Math.max(0.5, band * 0.22), ariaDescription: 'effective rank', title: (d: LayerRow) => `L${d.index} ${d.module}\neffective rank ${fmtExact(d.effective)}\nstable rank ${fmtExact(d.stable)}` }),
        Plot.barY([rows[selected]].filter(Boolean), { x: 'index', y: 'numerical', fill: 'none', stroke: theme.foreground, strokeWidth: 1.5, ariaDescription: 'selected layer' }),
        Plot.ruleY([target.r], { stroke: theme.red, strokeDasharray: '5,3', strokeWidth: 1.5, ariaDescription: 'bound r' }),
        Plot.text([target.r], { y: (d: number) => d, frameAnchor: 'right', dx: 4, textAnchor: 'start', text: () => `bound r = ${target.r}`, fill: theme.red }),
        Plot.ruleY([target.lora_rank_at_budget], { stroke: theme.green, strokeWidth: 1.5, ariaDescription: 'LoRA rank at the same budget' }),
        Plot.text([target.lora_rank_at_budget], { y: (d: number) => d, frameAnchor: 'right', dx: 4, dy: target.lora_rank_at_budget === target.r ? 12 : 0, textAnchor: 'start', text: () => `LoRA rank ${target.lora_rank_at_budget}`, fill: theme.green }),
        compared.length ? Plot.tickY(compared, { x: 'index', y: 'numerical', stroke: theme.purple, strokeWidth: 3, ariaDescription: 'compared run numerical rank', title: (d: { index: number; numerical: number; effective: number; name: string }) => `L${d.index} ${d.name}\nnumerical rank ${d.numerical}\neffective rank ${fmtExact(d.effective)}` }) : null,
        Plot.ruleY([0]),
      ],
    });
    chart.classList.add('clickable');
    chart.addEventListener('click', (event) => {
      const layer = layerAt(chart, event as MouseEvent, indices);
      if (layer !== undefined) this.select(target.target, layer);
    });
    panel.card.footer.replaceChildren(
      renderLegend([
        { label: 'numerical rank', color: theme.blue, kind: 'bar' },
        { label: 'effective rank', color: theme.orange, kind: 'bar' },
        { label: `bound r (${target.r})`, color: theme.red, kind: 'dashed' },
        { label: `LoRA rank at the same budget (${target.lora_rank_at_budget})`, color: theme.green, kind: 'line' },
        ...(compared.length ? [{ label: `${compared[0].name}: measured numerical rank`, color: theme.purple, kind: 'line' as const }] : []),
      ]),
      el('span', { class: 'caption', text: 'Click a layer to see its singular values.' }),
    );
  }

  private drawSpectrum(panel: TargetPanel, target: SpectrumTarget, selected: number): void {
    const layer = target.layers[selected];
    const card = panel.spectrumCard;
    if (!layer) {
      card.chart.replaceChildren();
      return;
    }
    card.setTitle(`Singular values of ΔW, layer L${selected} (${layer.module})`);
    card.element.dataset.layer = String(selected);
    const points = layer.singular_values.map((s, i) => ({ i: i + 1, s }));
    if (card.tableOn) {
      card.table.replaceChildren(renderTable(`Singular values of ΔW for ${layer.module}, descending.`, ['index', 'singular value'], points.map((p) => [String(p.i), p.s])));
      return;
    }
    const theme = this.ctx.theme();
    const positive = points.filter((p) => p.s > 0);
    const zeros = points.length - positive.length;
    drawPlot(card.chart, {
      width: chartWidth(card.chart),
      height: 220,
      marginLeft: 56,
      x: { label: 'index i', domain: [1, Math.max(2, points.length)] },
      y: { type: 'log', label: 'σᵢ', grid: true, tickFormat: '~g' },
      marks: [
        Plot.line(positive, { x: 'i', y: 's', stroke: theme.blue, ariaDescription: 'singular values' }),
        Plot.dot(positive, { x: 'i', y: 's', fill: theme.blue, r: 2, title: (d: { i: number; s: number }) => `σ${d.i} = ${fmtExact(d.s)}` }),
        Plot.ruleX([layer.effective_rank], { stroke: theme.orange, strokeDasharray: '4,3', ariaDescription: 'effective rank' }),
      ],
    });
    card.footer.replaceChildren(
      el('span', {
        class: 'caption',
        text: `Numerical rank ${layer.numerical_rank}, effective rank ${fmtExact(layer.effective_rank)} (dashed), stable rank ${fmtExact(layer.stable_rank)}.` +
          (zeros ? ` ${zeros} of ${points.length} singular values are zero and cannot show on a log scale.` : ''),
      }),
    );
  }
}

/** The layer under a click, from the band x scale (works anywhere in a layer's column). */
function layerAt(chart: PlotElement, event: MouseEvent, indices: readonly number[]): number | undefined {
  const svg = chart instanceof SVGSVGElement ? chart : chart.querySelector('svg');
  if (!svg) return undefined;
  const scale = chart.scale('x');
  if (!scale?.apply || scale.bandwidth === undefined) return undefined;
  const rect = svg.getBoundingClientRect();
  const viewWidth = svg.viewBox.baseVal?.width || rect.width;
  const x = ((event.clientX - rect.left) * viewWidth) / rect.width;
  const step = scale.step ?? scale.bandwidth;
  for (const index of indices) {
    const start = scale.apply(index) as number;
    const pad = (step - scale.bandwidth) / 2;
    if (x >= start - pad && x < start + scale.bandwidth + pad) return index;
  }
  return undefined;
}
