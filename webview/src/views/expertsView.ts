// Expert similarity per target (spectrum.json expert_similarity): cosine similarity between the
// B experts. Values near 1 off the diagonal mean two experts learnt the same projection, so the
// pool is smaller than num_B suggests.
import type { SpectrumReport } from '../../../native-runtime/runFiles';
import { fmtExact } from '../format';
import { ChartCard } from './chartCard';
import type { View, ViewContext } from './context';
import { el } from '../dom';
import { chartWidth, drawPlot, Plot } from './plotHelpers';
import { renderTable } from './tableView';

type SpectrumTarget = SpectrumReport['targets'][number];

interface Cell {
  i: number;
  j: number;
  value: number;
}

export class ExpertsView implements View {
  readonly element: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly cardsBox: HTMLElement;
  private readonly cards = new Map<string, ChartCard>();

  constructor(private readonly ctx: ViewContext) {
    this.notice = el('p', { class: 'notice' });
    this.cardsBox = el('div', { class: 'cards experts-grid' });
    this.element = el('div', { class: 'view experts-view' }, [this.notice, this.cardsBox]);
  }

  render(): void {
    const spectrum = this.ctx.store.main?.spectrum;
    const targets = spectrum?.targets.filter((t) => t.expert_similarity?.length) ?? [];
    this.notice.hidden = false;
    if (!spectrum) this.notice.textContent = 'No spectrum yet: expert similarity is written to spectrum.json at each evaluation.';
    else if (!targets.length) this.notice.textContent = spectrum.method === 'lora' ? 'LoRA has no shared experts.' : 'This spectrum has no expert similarity.';
    else this.notice.textContent = `Cosine similarity between B experts at step ${spectrum.step}. Off-diagonal values near 1 mean redundant experts.`;
    const seen = new Set<string>();
    for (const target of targets) {
      seen.add(target.target);
      let card = this.cards.get(target.target);
      if (!card) {
        card = new ChartCard(this.ctx, `experts:${target.target}`, target.target, () => this.ctx.invalidate(['experts']));
        card.element.dataset.target = target.target;
        this.cards.set(target.target, card);
        this.cardsBox.append(card.element);
      }
      this.draw(card, target);
    }
    for (const [name, card] of this.cards) {
      if (seen.has(name)) continue;
      card.element.remove();
      this.cards.delete(name);
    }
  }

  private draw(card: ChartCard, target: SpectrumTarget): void {
    const matrix = target.expert_similarity ?? [];
    const n = matrix.length;
    card.setTitle(`${target.target}: similarity of ${n} B experts`);
    if (card.tableOn) {
      card.table.replaceChildren(
        renderTable(`Cosine similarity between B experts of ${target.target}.`, ['expert', ...matrix.map((_, j) => `B${j}`)], matrix.map((row, i) => [`B${i}`, ...row])),
      );
      return;
    }
    const theme = this.ctx.theme();
    const cells: Cell[] = matrix.flatMap((row, i) => row.map((value, j) => ({ i, j, value })));
    const labels = matrix.map((_, i) => `B${i}`);
    const size = Math.min(chartWidth(card.chart, 360), 60 + n * 44);
    drawPlot(card.chart, {
      width: size,
      height: size,
      marginLeft: 40,
      marginTop: 30,
      padding: 0.04,
      x: { domain: labels, axis: 'top', label: null },
      y: { domain: labels, label: null },
      color: { type: 'linear', domain: [-1, 0, 1], range: [theme.red, theme.background, theme.blue], clamp: true },
      marks: [
        Plot.cell(cells, { x: (d: Cell) => `B${d.j}`, y: (d: Cell) => `B${d.i}`, fill: 'value', ariaDescription: 'similarity', title: (d: Cell) => `B${d.i} · B${d.j}: ${fmtExact(d.value)}` }),
        n <= 16 ? Plot.text(cells, { x: (d: Cell) => `B${d.j}`, y: (d: Cell) => `B${d.i}`, text: (d: Cell) => d.value.toFixed(2), fill: theme.foreground, fontSize: n > 8 ? 8 : 10 }) : null,
      ],
    });
    // The colour legend: the same three stops as the cells' scale.
    const ramp = el('span', { class: 'legend-ramp', attrs: { 'aria-hidden': 'true' } });
    ramp.style.backgroundImage = `linear-gradient(to right, ${theme.red}, ${theme.background}, ${theme.blue})`;
    card.footer.replaceChildren(
      el('div', { class: 'similarity-legend', attrs: { 'data-role': 'similarity-legend', 'aria-label': 'Colour scale: −1 (opposite) to 1 (same direction)' } }, [
        el('span', { class: 'legend-label', text: '−1 opposite' }), ramp, el('span', { class: 'legend-label', text: '1 same' }),
      ]),
      el('span', { class: 'caption', text: '0 (background colour): unrelated. Values near 1 off the diagonal: redundant experts.' }),
    );
  }
}
