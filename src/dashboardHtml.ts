// The dashboard webview's HTML for the panel: the shared template (strict CSP with a nonce,
// resources only from out/webview), the page shown when the bundle is missing, and the nonce.
// No vscode import.
import { randomBytes } from 'crypto';
import { renderDashboardHtml } from '../webview/dashboardHtml';

export interface DashboardHtmlParts {
  /** `webview.cspSource`: the origin VS Code serves `asWebviewUri` resources from. */
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUri: string;
  title: string;
}

/** The panel's page: the one template the plain-browser page uses too (webview/dashboardHtml.ts). */
export function dashboardHtml(p: DashboardHtmlParts): string {
  return renderDashboardHtml(p);
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
