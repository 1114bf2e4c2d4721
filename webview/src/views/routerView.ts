// Router heatmaps, one per target: rows are layers, columns B experts, a cell the mean routing
// probability. The source is chosen by the mode: the reference set (router_stats.json), one class,
// one token of the example input, or a logged training step replayed with the step slider.
import { el } from '../dom';
import { fmtExact } from '../format';
import { classLabels, classMatrix, entropy, matrixMax, referenceMatrix, tokenMatrix, tokenRouting, trainingMatrix, type RouterStatsTarget } from '../data/routing';
import { renderTokenStrip } from './tokenStrip';
import type { TargetLayout } from '../data/targets';
import type { RunModel } from '../store';
import { createDropdown, createRadioGroup, type Choice } from '../toolkit';
import { HEATMAP_MODES, type HeatmapMode } from '../uiState';
import { ChartCard } from './chartCard';
import type { View, ViewContext } from './context';
import { HeatmapGrid } from './heatmapGrid';
import { renderTable } from './tableView';

interface TargetPanel {
  card: ChartCard;
  grid: HeatmapGrid;
}

interface ShownMatrix {
  rows: number[][];
  domainMax: number;
  /** Entropy per row as reported by the backend (reference mode), else computed from the row. */
  reportedEntropy?: number[];
  tokenEntropy?: number[];
  caption: string;
}

export class RouterView implements View {
  readonly element: HTMLElement;
  private readonly mode: Choice<HeatmapMode> & { setDisabled(v: HeatmapMode, d: boolean): void };
  private readonly classPick: Choice<string>;
  private readonly tokenPick: Choice<string>;
  private readonly slider: HTMLInputElement;
  private readonly sliderLabel: HTMLElement;
  private readonly sliderBox: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly cards: HTMLElement;
  private panels = new Map<string, TargetPanel>();

  constructor(private readonly ctx: ViewContext) {
    this.mode = createRadioGroup('Routing shown', HEATMAP_MODES.map((m) => ({ value: m.id, label: m.label })), ctx.ui.heatmapMode, (mode) => {
      ctx.ui.heatmapMode = mode;
      ctx.saveUi();
      ctx.invalidate(['router']);
    }, 'heatmap-mode');
    this.classPick = createDropdown<string>('Class', [], '', (label) => {
      ctx.ui.classLabel = label;
      ctx.saveUi();
      ctx.invalidate(['router']);
    }, 'class-pick');
    this.tokenPick = createDropdown<string>('Token', [], '0', (index) => {
      ctx.ui.tokenIndex = Number(index);
      ctx.saveUi();
      ctx.invalidate(['router']);
    }, 'token-pick');
    this.slider = el('input', { attrs: { type: 'range', min: 0, max: 0, step: 1, value: 0, 'data-control': 'replay-step', 'aria-label': 'Training step to show' } });
    this.slider.addEventListener('input', () => {
      const index = Number(this.slider.value);
      // At the right end the replay follows new steps as they arrive.
      ctx.ui.replayIndex = index >= Number(this.slider.max) ? null : index;
      ctx.saveUi();
      ctx.invalidate(['router']);
    });
    this.sliderLabel = el('span', { class: 'slider-label', attrs: { 'aria-live': 'polite', 'data-role': 'replay-label' } });
    this.sliderBox = el('label', { class: 'slider-box' }, ['Step ', this.slider, this.sliderLabel]);
    this.notice = el('p', { class: 'notice' });
    this.cards = el('div', { class: 'cards' });
    this.element = el('div', { class: 'view router-view' }, [
      el('div', { class: 'toolbar' }, [this.mode.element, this.classPick.element, this.tokenPick.element, this.sliderBox]),
      this.notice,
      this.cards,
    ]);
  }

  render(): void {
    const run = this.ctx.store.main;
    if (!run) return this.showNotice('Waiting for run data…');
    const stats = run.routerStats;
    const available: Record<HeatmapMode, boolean> = {
      reference: !!stats,
      class: !!stats?.targets.some((t) => classLabels(t).length > 0),
      token: !!stats?.targets.some((t) => t.example),
      training: run.router.length > 0,
    };
    const mode = available[this.ctx.ui.heatmapMode] ? this.ctx.ui.heatmapMode : HEATMAP_MODES.find((m) => available[m.id])?.id;
    if (!mode) {
      this.cards.replaceChildren();
      this.panels.clear();
      return this.showNotice(
        run.status.method === 'lora'
          ? 'LoRA runs have no router: nothing to show here.'
          : 'No routing data yet: router.jsonl gets its first line at the first logged step, router_stats.json at the first evaluation.',
      );
    }
    if (mode !== this.mode.value) this.mode.setOptions(HEATMAP_MODES.map((m) => ({ value: m.id, label: m.label })), mode);
    for (const m of HEATMAP_MODES) this.mode.setDisabled(m.id, !available[m.id]);
    this.syncPickers(run, mode);
    this.showNotice(mode === 'reference' && stats ? `Mean routing probability over ${stats.samples} samples of ${stats.reference} (step ${stats.step}).` : '');

    const targets = run.targets;
    const seen = new Set<string>();
    for (const layout of targets) {
      const shown = this.matrixFor(run, layout, mode);
      if (!shown) continue;
      seen.add(layout.target);
      const panel = this.panelFor(layout, shown.rows[0]?.length ?? layout.numB);
      panel.card.setTitle(`${layout.target}: ${layout.layers.length} layers × ${panel.grid.options.colLabels.length} experts`);
      panel.grid.describe = (row, col, value) => describeCell(layout, shown, row, col, value);
      if (panel.card.tableOn) panel.card.table.replaceChildren(this.table(layout, shown));
      else panel.grid.update(shown.rows, shown.domainMax, this.ctx.theme());
      const statsTarget = run.routerStats?.targets.find((t) => t.target === layout.target);
      const strip = mode === 'token' && statsTarget?.example
        ? [renderTokenStrip(tokenRouting(statsTarget), Number(this.tokenPick.value) || 0, this.ctx.theme(), (index) => {
          this.ctx.ui.tokenIndex = index;
          this.ctx.saveUi();
          this.ctx.invalidate(['router']);
        })]
        : [];
      panel.card.footer.replaceChildren(...strip, el('span', { class: 'caption', text: shown.caption }));
    }
    for (const [name, panel] of this.panels) {
      if (!seen.has(name)) {
        panel.card.element.remove();
        this.panels.delete(name);
      }
    }
  }

  private showNotice(text: string): void {
    this.notice.textContent = text;
    this.notice.hidden = !text;
  }

  private syncPickers(run: RunModel, mode: HeatmapMode): void {
    const stats = run.routerStats;
    this.classPick.element.hidden = mode !== 'class';
    this.tokenPick.element.hidden = mode !== 'token';
    this.sliderBox.hidden = mode !== 'training';
    if (mode === 'class' && stats) {
      const labels = [...new Set(stats.targets.flatMap(classLabels))];
      const chosen = this.ctx.ui.classLabel && labels.includes(this.ctx.ui.classLabel) ? this.ctx.ui.classLabel : labels[0];
      if (chosen !== this.classPick.value || this.classPick.element.childElementCount !== labels.length) {
        this.classPick.setOptions(labels.map((l) => ({ value: l, label: `class: ${l}` })), chosen);
      }
    }
    if (mode === 'token' && stats) {
      const tokens = stats.targets.find((t) => t.example)?.example?.tokens ?? [];
      const index = Math.min(this.ctx.ui.tokenIndex, Math.max(0, tokens.length - 1));
      if (String(index) !== this.tokenPick.value || this.tokenPick.element.childElementCount !== tokens.length) {
        this.tokenPick.setOptions(tokens.map((t, i) => ({ value: String(i), label: `${i}: ${t}` })), String(index));
      }
    }
    if (mode === 'training') {
      const last = run.router.length - 1;
      const index = this.replayIndex(run);
      this.slider.max = String(last);
      this.slider.value = String(index);
      this.slider.setAttribute('aria-valuetext', `step ${run.router[index]?.step}`);
      this.sliderLabel.textContent = `${run.router[index]?.step} (${index + 1} of ${run.router.length} logged${index === last ? ', following the newest' : ''})`;
    }
  }

  private replayIndex(run: RunModel): number {
    const last = run.router.length - 1;
    const wanted = this.ctx.ui.replayIndex;
    return wanted === null ? last : Math.min(wanted, last);
  }

  private matrixFor(run: RunModel, layout: TargetLayout, mode: HeatmapMode): ShownMatrix | undefined {
    const statsTarget: RouterStatsTarget | undefined = run.routerStats?.targets.find((t) => t.target === layout.target);
    switch (mode) {
      case 'reference': {
        if (!statsTarget) return undefined;
        const rows = referenceMatrix(statsTarget);
        return {
          rows,
          domainMax: matrixMax(rows),
          reportedEntropy: statsTarget.per_layer.map((l) => l.entropy),
          tokenEntropy: statsTarget.per_layer.map((l) => l.token_entropy),
          caption: 'Colour: mean routing probability over the reference set.',
        };
      }
      case 'class': {
        if (!statsTarget) return undefined;
        const label = this.classPick.value;
        if (!classLabels(statsTarget).includes(label)) return undefined;
        const rows = classMatrix(statsTarget, label);
        return { rows, domainMax: matrixMax(rows), caption: `Colour: mean routing probability over reference samples of class "${label}".` };
      }
      case 'token': {
        if (!statsTarget?.example) return undefined;
        const index = Number(this.tokenPick.value) || 0;
        const rows = tokenMatrix(statsTarget, index);
        if (!rows) return undefined;
        return { rows, domainMax: matrixMax(rows), caption: `Colour: routing probability of token ${index} ("${statsTarget.example.tokens[index] ?? ''}") of the example input.` };
      }
      case 'training': {
        const index = this.replayIndex(run);
        const line = run.router[index];
        const rows = trainingMatrix(line, layout.target);
        if (!rows) return undefined;
        return {
          rows,
          // One scale for all steps, so colours compare across the replay.
          domainMax: run.routerMax.get(layout.target) ?? matrixMax(rows),
          caption: `Colour: mean routing probability over the training batch at step ${line.step}; the scale is shared by all logged steps.`,
        };
      }
    }
  }

  private panelFor(layout: TargetLayout, numB: number): TargetPanel {
    const rowLabels = layout.layers.map((l) => `L${l.index}`);
    const existing = this.panels.get(layout.target);
    if (existing && existing.grid.fits(rowLabels.length, numB)) return existing;
    const grid = new HeatmapGrid({
      label: `Router probabilities of ${layout.target}: rows are layers, columns are B experts`,
      rowHeader: 'layer',
      rowLabels,
      colLabels: Array.from({ length: numB }, (_, e) => `B${e}`),
    });
    const id = `router:${layout.target}`;
    const card = existing?.card ?? new ChartCard(this.ctx, id, layout.target, () => this.ctx.invalidate(['router']));
    card.element.dataset.target = layout.target;
    card.chart.replaceChildren(grid.element);
    if (!existing) this.cards.append(card.element);
    const panel = { card, grid };
    this.panels.set(layout.target, panel);
    return panel;
  }

  private table(layout: TargetLayout, shown: ShownMatrix): HTMLTableElement {
    const numB = shown.rows[0]?.length ?? 0;
    const headers = ['layer', 'module', 'A group', ...Array.from({ length: numB }, (_, e) => `B${e}`), 'entropy (nats)'];
    const rows = shown.rows.map((row, i) => {
      const layer = layout.layers[i];
      // The same label as the heatmap row (the layer's index within its target).
      return [`L${layer?.index ?? i}`, layer?.module ?? '', layer ? String(layer.a_group) : '', ...row, rowEntropy(shown, i)];
    });
    return renderTable(`Router probabilities of ${layout.target}. ${shown.caption}`, headers, rows);
  }
}

function rowEntropy(shown: ShownMatrix, row: number): number {
  return shown.reportedEntropy?.[row] ?? entropy(shown.rows[row] ?? []);
}

function describeCell(layout: TargetLayout, shown: ShownMatrix, row: number, col: number, value: number): string[] {
  const layer = layout.layers[row];
  const lines = [
    layer?.module ?? `layer ${row}`,
    `layer ${row} · expert B${col}`,
    `p = ${Number.isFinite(value) ? fmtExact(value) : 'no data'}`,
    `entropy ${fmtExact(rowEntropy(shown, row))} nats (max ${fmtExact(Math.log(shown.rows[row]?.length || 1))})`,
  ];
  const tokenEntropy = shown.tokenEntropy?.[row];
  if (tokenEntropy !== undefined) lines.push(`per-token entropy ${fmtExact(tokenEntropy)} nats`);
  if (layer) lines.push(`A group ${layer.a_group}`);
  return lines;
}
