// Debian's Chromium driven by playwright-core (`npx playwright install` cannot download here).
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.LILY_E2E_CHROMIUM || '/usr/bin/chromium';

/** Launches a headless Chromium with a fresh profile (Playwright makes and removes it). */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`e2e: Chromium not found at ${CHROMIUM}; run scripts/setup-system.sh as root (installs Debian's chromium) or set LILY_E2E_CHROMIUM`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Ctrl-C is handled by the harness, which closes the browser itself.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A workbench URL: a folder to open and the test payload (extension dev path, tests path). */
export function workbenchUrl(server, folder, payload) {
  const params = new URLSearchParams();
  params.set('folder', folder);
  if (payload.length > 0) params.set('payload', JSON.stringify(payload));
  return `${server.origin}/?${params.toString()}`;
}
