// The dashboard page. One template for both homes: the VS Code panel (src/dashboardPanel.ts
// passes webview URIs and its cspSource) and the plain-browser page that
// scripts/build-webview.mjs writes to out/webview/index.html. No DOM use here: the extension
// host imports this file too.
//
// The CSP allows only nonce'd scripts and styles and the stylesheet from `cspSource`: no
// 'unsafe-inline' (everything is in dashboard.css; the code sets styles through CSSOM, which CSP
// permits), no network. The fixture, when given, is inert JSON (`type="application/json"` never executes).

export interface DashboardHtmlOptions {
  /** `webview.cspSource` in VS Code; e.g. `file:` for a local page. */
  cspSource: string;
  /** A fresh random value per page load (at least 128 bits, base64 or hex). */
  nonce: string;
  scriptUri: string;
  styleUri: string;
  /** Extra scripts loaded before the dashboard (e.g. fixture.js in the plain-browser page). */
  preScripts?: string[];
  /** Fixture JSON for the plain-browser mode (serialised DashboardFixture). */
  fixtureJson?: string;
  title?: string;
}

export function renderDashboardHtml(o: DashboardHtmlOptions): string {
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${o.nonce}'`,
    // The nonce lets the toolkit's one feature-detection <style> (FAST reads the nonce from the
    // csp-nonce meta below) apply; everything else comes from the stylesheet.
    `style-src ${o.cspSource} 'nonce-${o.nonce}'`,
    `img-src ${o.cspSource} data:`,
    `font-src ${o.cspSource}`,
  ].join('; ');
  const pre = (o.preScripts ?? []).map((src) => `    <script nonce="${o.nonce}" src="${escapeAttr(src)}"></script>\n`).join('');
  // `<` escaped so the JSON cannot close its script element.
  const fixture = o.fixtureJson ? `    <script type="application/json" id="lily-fixture">${o.fixtureJson.replace(/</g, '\\u003c')}</script>\n` : '';
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <meta http-equiv="Content-Security-Policy" content="${escapeAttr(csp)}">
    <meta property="csp-nonce" content="${escapeAttr(o.nonce)}">
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
    <link rel="stylesheet" href="${escapeAttr(o.styleUri)}">
    <title>${escapeText(o.title ?? 'Lily dashboard')}</title>
  </head>
  <body>
    <div id="app"></div>
${fixture}${pre}    <script nonce="${o.nonce}" src="${escapeAttr(o.scriptUri)}"></script>
  </body>
</html>
`;
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}
