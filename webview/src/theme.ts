// Colours come from VS Code's theme variables so light, dark and high-contrast themes all work.
// Charts need concrete colours (to interpolate a heatmap ramp, and because Plot writes SVG
// presentation attributes), so each variable is resolved through a probe element's computed
// colour. VS Code switches themes by changing the body's class: `watchTheme` reports that.

export interface Rgb {
  r: number;
  g: number;
  b: number;
}

export interface ThemeColors {
  kind: 'light' | 'dark' | 'high-contrast';
  foreground: string;
  background: string;
  muted: string;
  border: string;
  /** Main run, comparison run, eval points, rule lines and a few more. */
  blue: string;
  orange: string;
  green: string;
  purple: string;
  red: string;
  yellow: string;
  /** Heatmap ramp ends: background -> accent. */
  heatLow: Rgb;
  heatHigh: Rgb;
}

const FALLBACK = {
  foreground: '#cccccc',
  background: '#1e1e1e',
  blue: '#3794ff',
  orange: '#d18616',
  green: '#89d185',
  purple: '#b180d7',
  red: '#f14c4c',
  yellow: '#cca700',
};

export function readTheme(): ThemeColors {
  const probe = document.createElement('span');
  probe.className = 'lily-color-probe';
  document.body.append(probe);
  const resolve = (variable: string, fallback: string): string => {
    probe.style.color = fallback;
    probe.style.color = `var(${variable}, ${fallback})`;
    return getComputedStyle(probe).color;
  };
  const foreground = resolve('--vscode-editor-foreground', FALLBACK.foreground);
  const background = resolve('--vscode-editor-background', FALLBACK.background);
  const theme: ThemeColors = {
    kind: themeKind(),
    foreground,
    background,
    muted: resolve('--vscode-descriptionForeground', foreground),
    border: resolve('--vscode-panel-border', resolve('--vscode-contrastBorder', foreground)),
    blue: resolve('--vscode-charts-blue', FALLBACK.blue),
    orange: resolve('--vscode-charts-orange', FALLBACK.orange),
    green: resolve('--vscode-charts-green', FALLBACK.green),
    purple: resolve('--vscode-charts-purple', FALLBACK.purple),
    red: resolve('--vscode-charts-red', FALLBACK.red),
    yellow: resolve('--vscode-charts-yellow', FALLBACK.yellow),
    heatLow: parseRgb(background),
    heatHigh: parseRgb(resolve('--vscode-charts-blue', FALLBACK.blue)),
  };
  probe.remove();
  return theme;
}

export function themeKind(): ThemeColors['kind'] {
  const cls = document.body.classList;
  if (cls.contains('vscode-high-contrast') || cls.contains('vscode-high-contrast-light')) return 'high-contrast';
  if (cls.contains('vscode-light')) return 'light';
  return 'dark';
}

/** Calls `onChange` when VS Code (or the plain-browser page) switches the theme. */
export function watchTheme(onChange: () => void): void {
  let last = document.body.className;
  new MutationObserver(() => {
    if (document.body.className === last) return;
    last = document.body.className;
    onChange();
  }).observe(document.body, { attributes: true, attributeFilter: ['class'] });
}

export function parseRgb(color: string): Rgb {
  const m = /rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)/.exec(color);
  if (!m) return { r: 128, g: 128, b: 128 };
  return { r: Number(m[1]), g: Number(m[2]), b: Number(m[3]) };
}

/** Linear sRGB mix: t = 0 gives `low`, t = 1 gives `high`. */
export function mix(low: Rgb, high: Rgb, t: number): string {
  const k = Math.min(1, Math.max(0, t));
  const ch = (a: number, b: number) => Math.round(a + (b - a) * k);
  return `rgb(${ch(low.r, high.r)}, ${ch(low.g, high.g)}, ${ch(low.b, high.b)})`;
}
