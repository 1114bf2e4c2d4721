// The per-token view's sentence: every token of the example input, coloured by the B expert it
// is routed to most (mean over the target's layers), paler when routing is close to uniform.
// Clicking a token shows its layer × expert matrix in the heatmap above. Replaces choosing one
// token from a dropdown, which hid how routing varies along the sentence.
import type { TokenRouting } from '../data/routing';
import { el } from '../dom';
import { fmtExact } from '../format';
import { mix, parseRgb, type ThemeColors } from '../theme';

/** One colour per expert, cycling through the theme's accents. */
export function expertColours(theme: ThemeColors, numB: number): string[] {
  const accents = [theme.blue, theme.orange, theme.green, theme.purple, theme.red, theme.yellow];
  return Array.from({ length: numB }, (_, e) => accents[e % accents.length]);
}

export function renderTokenStrip(routing: readonly TokenRouting[], selected: number, theme: ThemeColors, onPick: (index: number) => void): HTMLElement {
  const numB = routing[0]?.mean.length ?? 0;
  const colours = expertColours(theme, numB);
  const background = parseRgb(theme.background);
  const strip = el('div', { class: 'token-strip', attrs: { 'data-role': 'token-strip', role: 'listbox', 'aria-label': 'Tokens of the example input, coloured by routing' } });
  routing.forEach((r, i) => {
    const chip = el('button', {
      class: `token${i === selected ? ' selected' : ''}`,
      text: r.token,
      attrs: {
        role: 'option', 'aria-selected': i === selected ? 'true' : 'false', 'data-index': i, 'data-expert': r.expert,
        title: `${i}: "${r.token}" → B${r.expert} (${r.mean.map((p, e) => `B${e} ${fmtExact(p)}`).join(', ')})`,
      },
    });
    // 25% of the expert's colour for uniform routing, all of it for routing to one expert.
    chip.style.backgroundColor = mix(background, parseRgb(colours[r.expert]), 0.25 + 0.75 * r.strength);
    chip.addEventListener('click', () => onPick(i));
    strip.append(chip);
  });
  const legend = el('div', { class: 'token-legend', attrs: { 'data-role': 'token-legend' } },
    colours.map((c, e) => {
      const swatch = el('span', { class: 'swatch swatch-bar', attrs: { 'aria-hidden': 'true' } });
      swatch.style.backgroundColor = c;
      return el('span', { class: 'token-legend-item' }, [swatch, `B${e}`]);
    }));
  return el('div', { class: 'token-view' }, [strip, legend]);
}
