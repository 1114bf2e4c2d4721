// The "table view" of every chart: an HTML table of the same numbers, for screen readers,
// keyboard users and anyone who wants to read or copy exact values.
import { el } from '../dom';
import { fmtExact } from '../format';

export type TableCell = string | number | null | undefined;

export function renderTable(caption: string, headers: readonly string[], rows: ReadonlyArray<readonly TableCell[]>): HTMLTableElement {
  const table = el('table', { class: 'data-table' });
  table.append(el('caption', { text: caption }));
  const headRow = el('tr');
  for (const h of headers) headRow.append(el('th', { text: h, attrs: { scope: 'col' } }));
  table.append(el('thead', {}, [headRow]));
  const body = el('tbody');
  // Build rows as one fragment: tables of 10 000 training steps stay quick to show.
  const fragment = document.createDocumentFragment();
  for (const row of rows) {
    const tr = document.createElement('tr');
    row.forEach((cell, i) => {
      const td = document.createElement(i === 0 ? 'th' : 'td');
      if (i === 0) td.setAttribute('scope', 'row');
      if (typeof cell === 'number') {
        td.textContent = fmtExact(cell);
        td.className = 'num';
      } else {
        td.textContent = cell ?? '';
      }
      tr.append(td);
    });
    fragment.append(tr);
  }
  body.append(fragment);
  table.append(body);
  return table;
}
