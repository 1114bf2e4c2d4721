// A chart as a PNG: the chart's SVG, made self-contained (theme colours and font written into it,
// a background, the legend drawn below the plot since the page's legend is HTML), drawn onto a
// canvas through an <img> (a data: URL, which the webview's CSP allows for images) and read back
// as a PNG data URL. The host saves it: a webview cannot download files.
import type { ThemeColors } from '../theme';

const SVG_NS = 'http://www.w3.org/2000/svg';

export interface ExportLegendItem {
  label: string;
  color: string;
  dashed?: boolean;
}

export interface PngExport {
  dataUrl: string;
  /** Pixel size of the PNG (the chart's CSS size times `scale`). */
  width: number;
  height: number;
}

const LEGEND_ROW = 18;

/** Renders `svg` (a drawn Plot chart) to a PNG at `scale` device pixels per CSS pixel. */
export async function chartToPng(svg: SVGSVGElement, theme: ThemeColors, title: string, legend: readonly ExportLegendItem[], scale = 2): Promise<PngExport> {
  const box = svg.getBoundingClientRect();
  const width = Math.round(Number(svg.getAttribute('width')) || box.width);
  const plotHeight = Math.round(Number(svg.getAttribute('height')) || box.height);
  const titleHeight = 24;
  const height = titleHeight + plotHeight + legend.length * LEGEND_ROW + (legend.length ? 8 : 0);
  const style = getComputedStyle(svg);

  const out = document.createElementNS(SVG_NS, 'svg');
  out.setAttribute('xmlns', SVG_NS);
  out.setAttribute('width', String(width));
  out.setAttribute('height', String(height));
  out.setAttribute('viewBox', `0 0 ${width} ${height}`);
  // Plot draws text and axes in currentColor, and its font comes from the page's stylesheet.
  out.setAttribute('color', theme.foreground);
  out.setAttribute('font-family', style.fontFamily || 'sans-serif');
  out.setAttribute('font-size', '10');
  out.append(rect(0, 0, width, height, theme.background));
  out.append(text(8, 16, title, theme.foreground, 13, '600'));
  const plot = svg.cloneNode(true) as SVGSVGElement;
  plot.setAttribute('x', '0');
  plot.setAttribute('y', String(titleHeight));
  plot.setAttribute('width', String(width));
  plot.setAttribute('height', String(plotHeight));
  plot.removeAttribute('class');
  plot.removeAttribute('style');
  out.append(plot);
  legend.forEach((item, i) => {
    const y = titleHeight + plotHeight + 8 + i * LEGEND_ROW + LEGEND_ROW / 2;
    const line = document.createElementNS(SVG_NS, 'line');
    for (const [k, v] of Object.entries({ x1: 12, x2: 36, y1: y, y2: y, stroke: item.color, 'stroke-width': 2 })) line.setAttribute(k, String(v));
    if (item.dashed) line.setAttribute('stroke-dasharray', '5,3');
    out.append(line, text(42, y + 4, item.label, theme.foreground, 11));
  });

  const xml = new XMLSerializer().serializeToString(out);
  const img = new Image();
  img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(xml)}`;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2D canvas context: cannot render the PNG');
  ctx.scale(scale, scale);
  ctx.drawImage(img, 0, 0, width, height);
  return { dataUrl: canvas.toDataURL('image/png'), width: canvas.width, height: canvas.height };
}

function rect(x: number, y: number, w: number, h: number, fill: string): SVGRectElement {
  const r = document.createElementNS(SVG_NS, 'rect');
  for (const [k, v] of Object.entries({ x, y, width: w, height: h, fill })) r.setAttribute(k, String(v));
  return r;
}

function text(x: number, y: number, content: string, fill: string, size: number, weight = '400'): SVGTextElement {
  const t = document.createElementNS(SVG_NS, 'text');
  for (const [k, v] of Object.entries({ x, y, fill, 'font-size': size, 'font-weight': weight })) t.setAttribute(k, String(v));
  t.textContent = content;
  return t;
}
