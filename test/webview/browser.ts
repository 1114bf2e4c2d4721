// Headless Chromium for the dashboard tests and the render benchmark: Debian's /usr/bin/chromium
// driven by playwright-core, a fresh profile per launch, and pages written next to the
// screenshots under test-artifacts/webview/ that load the built bundle from out/webview/.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { renderDashboardHtml } from '../../webview/dashboardHtml';
import type { DashboardFixture } from '../../webview/fixtureTypes';

// From __filename: under tsx's ESM loader (bench/render.mjs) __dirname is not this folder.
export const REPO_ROOT = resolve(dirname(__filename), '..', '..');
export const WEBVIEW_OUT = join(REPO_ROOT, 'out', 'webview');
export const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'webview');
export const CHROMIUM = process.env.LILY_CHROMIUM ?? '/usr/bin/chromium';

let built = false;

/** Runs scripts/build-webview.mjs once per test process (about a second). */
export function buildWebviewOnce(): void {
  if (built) return;
  const build = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-webview.mjs')], { encoding: 'utf8' });
  assert.equal(build.status, 0, `scripts/build-webview.mjs failed:\n${build.stdout}\n${build.stderr}`);
  built = true;
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set LILY_CHROMIUM to its path.`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'lily-webview-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1200, height: 900 },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface DashboardPage {
  page: Page;
  /** Every URL the page requested. */
  requests: string[];
  /** Console errors and uncaught exceptions. */
  errors: string[];
  /** The page's file path. */
  file: string;
  /** Content-Security-Policy violations the page reported. */
  cspViolations(): Promise<string[]>;
}

/** Writes a dashboard page with `fixture` embedded and opens it; resolves once the first frame drew. */
export async function openDashboard(browser: Browser, name: string, fixture: DashboardFixture, theme: 'light' | 'dark' | 'high-contrast' = 'dark'): Promise<DashboardPage> {
  const dir = join(ARTIFACTS, 'pages');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.html`);
  const nonce = randomBytes(16).toString('base64');
  writeFileSync(
    file,
    renderDashboardHtml({
      cspSource: 'file:',
      nonce,
      scriptUri: pathToFileURL(join(WEBVIEW_OUT, 'dashboard.js')).href,
      styleUri: pathToFileURL(join(WEBVIEW_OUT, 'dashboard.css')).href,
      fixtureJson: JSON.stringify(fixture),
    }),
  );
  return openFile(browser, file, theme);
}

/** Opens an existing dashboard page (e.g. the built out/webview/index.html). */
export async function openFile(browser: Browser, file: string, theme: 'light' | 'dark' | 'high-contrast' = 'dark'): Promise<DashboardPage> {
  const page = await browser.context.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.addInitScript(`
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber + ':' + e.columnNumber + ' ' + e.sample));
  `);
  await page.goto(`${pathToFileURL(file).href}?theme=${theme}`);
  await page.waitForFunction('window.__lilyDashboard && window.__lilyDashboard.stats.frames > 0');
  return {
    page,
    requests,
    errors,
    file,
    cspViolations: () => page.evaluate('window.__cspViolations') as Promise<string[]>,
  };
}

/** Waits until the dashboard has drawn everything pending. */
export async function idle(page: Page): Promise<void> {
  await page.evaluate('window.__lilyDashboard.whenIdle()');
}
