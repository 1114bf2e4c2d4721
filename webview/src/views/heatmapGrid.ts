// A heatmap as a CSS grid of focusable cells rather than a chart: at 48 layers x 16 experts
// (768 cells) replaying training steps live, updating each cell's colour in place is far
// cheaper than rebuilding an SVG. Cells are ARIA grid cells with a roving tabindex (arrow keys,
// Home/End); hovering or focusing a cell shows its details in one shared tooltip.
import { el } from '../dom';
import { fmtShort } from '../format';
import { mix, type ThemeColors } from '../theme';

/** Widest a cell grows (px): wider says nothing more. */
const MAX_CELL_WIDTH = 140;

/** Cell height for a cell width: half as tall as wide, within [12, 36] px (dense grids [10, 18]). */
export function cellHeight(cellWidth: number, rows: number): number {
  const [lo, hi] = rows > 24 ? [10, 18] : [12, 36];
  return Math.round(Math.max(lo, Math.min(hi, cellWidth / 2)));
}

export interface HeatmapGridOptions {
  label: string;
  rowHeader: string;
  rowLabels: readonly string[];
  colLabels: readonly string[];
}

/** Tooltip lines for one cell; set by the owner, which knows what the numbers mean. */
export type DescribeCell = (row: number, col: number, value: number) => string[];

export class HeatmapGrid {
  readonly element: HTMLElement;
  private readonly cells: HTMLElement[][] = [];
  private readonly tooltip: HTMLElement;
  private readonly legendLow: HTMLElement;
  private readonly legendHigh: HTMLElement;
  private readonly legendRamp: HTMLElement;
  private values: number[][] = [];
  private focused: [number, number] = [0, 0];
  private tooltipCell: [number, number] | undefined;
  describe: DescribeCell = (row, col, value) => [`row ${row}, column ${col}: ${value}`];

  constructor(readonly options: HeatmapGridOptions) {
    const rows = options.rowLabels.length;
    const cols = options.colLabels.length;
    const grid = el('div', { class: 'heatmap-grid', attrs: { role: 'grid', 'aria-label': options.label, 'aria-rowcount': rows + 1, 'aria-colcount': cols + 1 } });
    if (rows > 24) grid.classList.add('dense');
    // Cells share the panel's width (a 3-expert heatmap was 3 tiny cells in a wide panel), up to
    // a readable maximum; their height follows their width (see fitToWidth).
    grid.style.gridTemplateColumns = `max-content repeat(${cols}, minmax(12px, 1fr))`;
    grid.style.maxWidth = `${Math.max(360, cols * MAX_CELL_WIDTH + 160)}px`;
    const header = el('div', { class: 'heatmap-row', attrs: { role: 'row' } }, [
      el('div', { class: 'corner', text: options.rowHeader, attrs: { role: 'columnheader' } }),
      ...options.colLabels.map((label) => el('div', { class: 'col-label', text: label, attrs: { role: 'columnheader' } })),
    ]);
    grid.append(header);
    const fragment = document.createDocumentFragment();
    for (let r = 0; r < rows; r++) {
      const rowCells: HTMLElement[] = [];
      const row = el('div', { class: 'heatmap-row', attrs: { role: 'row' } }, [
        el('div', { class: 'row-label', text: options.rowLabels[r], attrs: { role: 'rowheader' } }),
      ]);
      for (let c = 0; c < cols; c++) {
        const cell = el('div', { class: 'cell', attrs: { role: 'gridcell', tabindex: r === 0 && c === 0 ? 0 : -1, 'data-row': r, 'data-col': c } });
        rowCells.push(cell);
        row.append(cell);
      }
      this.cells.push(rowCells);
      fragment.append(row);
    }
    grid.append(fragment);

    this.tooltip = el('div', { class: 'heatmap-tooltip', attrs: { role: 'tooltip' } });
    this.tooltip.hidden = true;
    this.tooltip.id = `tip-${Math.random().toString(36).slice(2)}`;
    this.legendLow = el('span', { class: 'legend-label' });
    this.legendHigh = el('span', { class: 'legend-label' });
    this.legendRamp = el('span', { class: 'legend-ramp', attrs: { 'aria-hidden': 'true' } });
    const legend = el('div', { class: 'heatmap-legend', attrs: { 'aria-label': 'Colour scale' } }, [
      this.legendLow,
      this.legendRamp,
      this.legendHigh,
    ]);
    this.element = el('div', { class: 'heatmap' }, [grid, this.tooltip, legend]);

    grid.addEventListener('mouseover', (e) => {
      const pos = this.cellOf(e.target);
      if (pos) this.showTooltip(pos[0], pos[1]);
    });
    grid.addEventListener('mouseleave', () => this.hideTooltip());
    grid.addEventListener('focusin', (e) => {
      const pos = this.cellOf(e.target);
      if (pos) {
        this.setFocus(pos[0], pos[1], false);
        this.showTooltip(pos[0], pos[1]);
      }
    });
    grid.addEventListener('focusout', () => this.hideTooltip());
    grid.addEventListener('keydown', (e) => this.onKey(e));
    // Follow the panel's width as the user resizes it.
    if (typeof ResizeObserver !== 'undefined') new ResizeObserver(() => this.fitToWidth()).observe(grid);
  }

  /** Sets the cells' height from their current width. */
  fitToWidth(): void {
    const first = this.cells[0]?.[0];
    if (!first) return;
    const width = first.getBoundingClientRect().width;
    if (width > 0) this.element.style.setProperty('--cell-h', `${cellHeight(width, this.cells.length)}px`);
  }

  /** Same shape as the one this grid was built for? (Else the owner builds a new grid.) */
  fits(rows: number, cols: number): boolean {
    return rows === this.options.rowLabels.length && cols === this.options.colLabels.length;
  }

  /** Recolours the cells in place; values outside [0, domainMax] are clamped, NaN means no data. */
  update(values: number[][], domainMax: number, theme: ThemeColors): void {
    this.values = values;
    const max = domainMax > 0 ? domainMax : 1;
    for (let r = 0; r < this.cells.length; r++) {
      const rowValues = values[r] ?? [];
      const rowCells = this.cells[r];
      for (let c = 0; c < rowCells.length; c++) {
        const v = rowValues[c];
        const cell = rowCells[c];
        const has = typeof v === 'number' && Number.isFinite(v);
        cell.style.backgroundColor = has ? mix(theme.heatLow, theme.heatHigh, v / max) : '';
        cell.classList.toggle('empty', !has);
        cell.dataset.value = has ? String(v) : '';
        cell.setAttribute('aria-label', `${this.options.rowLabels[r]}, ${this.options.colLabels[c]}: ${has ? fmtShort(v) : 'no data'}`);
      }
    }
    this.legendLow.textContent = '0';
    this.legendHigh.textContent = fmtShort(max);
    this.legendRamp.style.backgroundImage = `linear-gradient(to right, ${mix(theme.heatLow, theme.heatHigh, 0)}, ${mix(theme.heatLow, theme.heatHigh, 1)})`;
    if (this.tooltipCell) this.showTooltip(...this.tooltipCell);
  }

  private cellOf(target: EventTarget | null): [number, number] | undefined {
    if (!(target instanceof HTMLElement) || !target.classList.contains('cell')) return undefined;
    return [Number(target.dataset.row), Number(target.dataset.col)];
  }

  private showTooltip(row: number, col: number): void {
    const cell = this.cells[row]?.[col];
    if (!cell) return;
    this.tooltipCell = [row, col];
    const value = this.values[row]?.[col] ?? NaN;
    this.tooltip.replaceChildren(...this.describe(row, col, value).map((line) => el('div', { text: line })));
    this.tooltip.hidden = false;
    cell.setAttribute('aria-describedby', this.tooltip.id);
    // Place beside the cell, inside the heatmap box.
    const box = this.element.getBoundingClientRect();
    const rect = cell.getBoundingClientRect();
    const left = Math.min(rect.right - box.left + 6, Math.max(0, box.width - 260));
    this.tooltip.style.left = `${Math.max(0, left)}px`;
    this.tooltip.style.top = `${rect.bottom - box.top + 4}px`;
  }

  private hideTooltip(): void {
    if (this.tooltipCell) this.cells[this.tooltipCell[0]]?.[this.tooltipCell[1]]?.removeAttribute('aria-describedby');
    this.tooltipCell = undefined;
    this.tooltip.hidden = true;
  }

  private setFocus(row: number, col: number, move: boolean): void {
    const [r0, c0] = this.focused;
    this.cells[r0]?.[c0]?.setAttribute('tabindex', '-1');
    this.focused = [row, col];
    const cell = this.cells[row][col];
    cell.setAttribute('tabindex', '0');
    if (move) cell.focus();
  }

  private onKey(e: KeyboardEvent): void {
    const pos = this.cellOf(e.target);
    if (!pos) return;
    const rows = this.cells.length;
    const cols = this.cells[0]?.length ?? 0;
    let [r, c] = pos;
    switch (e.key) {
      case 'ArrowUp': r = Math.max(0, r - 1); break;
      case 'ArrowDown': r = Math.min(rows - 1, r + 1); break;
      case 'ArrowLeft': c = Math.max(0, c - 1); break;
      case 'ArrowRight': c = Math.min(cols - 1, c + 1); break;
      case 'Home': c = 0; if (e.ctrlKey) r = 0; break;
      case 'End': c = cols - 1; if (e.ctrlKey) r = rows - 1; break;
      case 'Escape': this.hideTooltip(); return;
      default: return;
    }
    e.preventDefault();
    this.setFocus(r, c, true);
  }
}
