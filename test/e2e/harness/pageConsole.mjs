// The workbench page's console: all of it to an artifact file, what concerns the extension to
// stdout, and everything through the watchdog. Why filter: the workbench itself logs dozens of
// harmless offline errors (marketplace, GitHub auth, service worker) that would bury ours.
import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * @param {import('playwright-core').Page} page
 * @param {{ label: string, artifacts: string, extensionRoot: string, extensionId?: string, watchdog: import('./watchdog.mjs').Watchdog, print: (line: string) => void }} opts
 */
export function attachConsole(page, { label, artifacts, extensionRoot, extensionId, watchdog, print }) {
  const file = path.join(artifacts, `${label}-console.log`);
  writeFileSync(file, '');
  const ours = (text) => text.includes(path.join(extensionRoot, 'out') + path.sep) || (extensionId ? text.includes(extensionId) : false);
  page.on('console', (msg) => {
    const text = msg.text().replace(/%c/g, '');
    appendFileSync(file, `[${msg.type()}] ${text}\n`);
    if (ours(text) && (msg.type() === 'error' || msg.type() === 'warning')) print(`[workbench ${msg.type()}] ${text.slice(0, 2000)}`);
    watchdog.inspect(text, 'workbench console');
  });
  page.on('pageerror', (err) => {
    appendFileSync(file, `[pageerror] ${err.stack ?? err.message}\n`);
    watchdog.inspect(`Uncaught ${err.stack ?? err.message}`, 'workbench page');
  });
  return file;
}
