// The dashboard webview's HTML: a strict Content Security Policy (no inline script or style
// except the one script carrying the nonce; resources only from the extension's out/webview
// folder), the bundled script and stylesheet by their webview URIs. No vscode import.
import { randomBytes } from 'crypto';

export interface DashboardHtmlParts {
  /** `webview.cspSource`: the origin VS Code serves `asWebviewUri` resources from. */
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUri: string;
  title: string;
}

export function dashboardHtml(p: DashboardHtmlParts): string {
  const csp = [
    "default-src 'none'",
    `img-src ${p.cspSource} data:`,
    `font-src ${p.cspSource}`,
    `style-src ${p.cspSource}`,
    `script-src 'nonce-${p.nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeAttr(p.styleUri)}">
<title>${escapeText(p.title)}</title>
</head>
<body>
<div id="root"></div>
<script nonce="${p.nonce}" src="${escapeAttr(p.scriptUri)}"></script>
</body>
</html>`;
}

/** Shown instead of the dashboard when its bundle has not been built. */
export function missingBundleHtml(missing: string[], cspSource: string): string {
  const list = missing.map((m) => `<li><code>${escapeText(m)}</code></li>`).join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline' ${cspSource}">
<style>body{font-family:var(--vscode-font-family);color:var(--vscode-foreground);padding:1em 2em}code{font-family:var(--vscode-editor-font-family)}</style>
<title>Lily dashboard</title>
</head>
<body>
<h2>The Lily dashboard is not built</h2>
<p>These files are missing:</p><ul>${list}</ul>
<p>Build it with <code>npm run build</code> (or <code>node scripts/build-webview.mjs</code>) in the extension's folder, then reopen the dashboard.</p>
</body>
</html>`;
}

/** 32 characters from [A-Za-z0-9], from a cryptographic source (a guessable nonce defeats the CSP). */
export function makeNonce(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(32);
  let s = '';
  for (const b of bytes) s += chars[b % chars.length];
  return s;
}

function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeAttr(s: string): string {
  return escapeText(s).replace(/"/g, '&quot;');
}
