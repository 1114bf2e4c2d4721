// A titled card holding one chart, its legend and a "Table view" toggle that swaps the chart
// for an accessible table of the same data. The toggle's state is part of the persisted UI state.
import { el } from '../dom';
import { createToggle, type Toggle } from '../toolkit';
import type { ViewContext } from './context';

export class ChartCard {
  readonly element: HTMLElement;
  /** Chart area (hidden while the table view is on). */
  readonly chart: HTMLElement;
  /** Controls beside the title. */
  readonly controls: HTMLElement;
  /** Text under the chart (legend, notes). */
  readonly footer: HTMLElement;
  readonly table: HTMLElement;
  private readonly titleEl: HTMLElement;
  private readonly toggle: Toggle;

  constructor(
    private readonly ctx: ViewContext,
    readonly id: string,
    title: string,
    onTableToggle: () => void,
  ) {
    this.titleEl = el('h3', { text: title });
    this.controls = el('div', { class: 'card-controls' });
    this.toggle = createToggle('Table view', this.tableOn, (on) => {
      ctx.ui.tables[id] = on;
      ctx.saveUi();
      this.syncVisibility();
      onTableToggle();
    }, 'table-toggle');
    this.toggle.element.dataset.for = id;
    this.controls.append(this.toggle.element);
    this.chart = el('div', { class: 'chart', attrs: { 'data-chart-body': id } });
    this.footer = el('div', { class: 'card-footer' });
    this.table = el('div', { class: 'table-host', attrs: { 'data-table': id } });
    this.element = el('section', { class: 'card', attrs: { 'data-chart': id, 'aria-label': title } }, [
      el('header', { class: 'card-header' }, [this.titleEl, this.controls]),
      this.chart,
      this.footer,
      this.table,
    ]);
    this.syncVisibility();
  }

  get tableOn(): boolean {
    return this.ctx.ui.tables[this.id] === true;
  }

  setTitle(title: string): void {
    this.titleEl.textContent = title;
    this.element.setAttribute('aria-label', title);
  }

  /** Re-reads the persisted toggle (after a state restore) and shows chart or table. */
  syncVisibility(): void {
    this.toggle.checked = this.tableOn;
    this.chart.hidden = this.tableOn;
    this.footer.hidden = this.tableOn;
    this.table.hidden = !this.tableOn;
    if (!this.tableOn) this.table.replaceChildren();
  }
}
