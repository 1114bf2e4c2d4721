// Observable Plot, adapted to the webview's CSP. Plot adds a <style> element to each chart;
// a CSP without 'unsafe-inline' would block it (and report a violation), so it is removed
// before the chart enters the document and dashboard.css carries the same rules.
// Marks are named with the constant `ariaDescription` (on the mark's <g>): Plot's `ariaLabel`
// option is a per-datum channel, so a constant string there would be read as a field name.
import * as Plot from '@observablehq/plot';

export { Plot };

export type PlotElement = (SVGSVGElement | HTMLElement) & Plot.Plot;

export function drawPlot(container: HTMLElement, options: Plot.PlotOptions): PlotElement {
  const chart = Plot.plot({ className: 'lily-plot', ...options }) as PlotElement;
  for (const style of chart.querySelectorAll('style')) style.remove();
  container.replaceChildren(chart);
  return chart;
}

/** Usable chart width: the container's, or a sensible default while it is not laid out. */
export function chartWidth(container: HTMLElement, fallback = 640): number {
  const width = container.clientWidth || container.parentElement?.clientWidth || 0;
  return Math.max(240, Math.floor(width || fallback));
}

/** Every k-th value, so band axes of 48 layers stay readable. */
export function thinTicks<T>(values: readonly T[], max: number): T[] {
  const step = Math.max(1, Math.ceil(values.length / max));
  return values.filter((_, i) => i % step === 0);
}
