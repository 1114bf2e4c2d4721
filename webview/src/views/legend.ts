// A small HTML legend (Plot's own legends inject <style> elements, which the CSP blocks).
import { el } from '../dom';

export interface LegendItem {
  label: string;
  color: string;
  kind: 'bar' | 'line' | 'dashed' | 'dot';
}

export function renderLegend(items: readonly LegendItem[]): HTMLElement {
  const list = el('ul', { class: 'legend', attrs: { 'aria-label': 'Legend' } });
  for (const item of items) {
    const swatch = el('span', { class: `swatch swatch-${item.kind}`, attrs: { 'aria-hidden': 'true' } });
    if (item.kind === 'bar' || item.kind === 'dot') swatch.style.backgroundColor = item.color;
    else swatch.style.borderTopColor = item.color;
    list.append(el('li', {}, [swatch, item.label]));
  }
  return list;
}
