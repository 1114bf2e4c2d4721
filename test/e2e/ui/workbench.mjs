// Driving the VS Code workbench as a user does, with Playwright: the command palette (F1),
// Quick Open (Ctrl+P), the activity bar, the status bar, notifications, and webviews (which
// render in nested iframes: `iframe.webview`, then its `#active-frame`). Selectors are the
// workbench's own DOM classes and ARIA labels, which VS Code keeps stable for its smoke tests.

const QUICK_INPUT = '.quick-input-widget';

export class Workbench {
  /** @param {import('playwright-core').Page} page */
  constructor(page, artifacts, print) {
    this.page = page;
    this.artifacts = artifacts;
    this.print = print;
    this.shots = 0;
  }

  /** Waits until the workbench has rendered the explorer, editor area and status bar. */
  async ready(timeoutMs = 90_000) {
    await this.page.waitForSelector('.monaco-workbench .part.statusbar', { timeout: timeoutMs });
    await this.page.waitForSelector('.monaco-workbench .part.activitybar', { timeout: timeoutMs });
  }

  /** Saves `NN-name.png` under the artifacts folder; returns its path. */
  async screenshot(name) {
    this.shots++;
    const file = `${this.artifacts}/${String(this.shots).padStart(2, '0')}-${name}.png`;
    await this.page.screenshot({ path: file });
    return file;
  }

  async focusWorkbench() {
    // A click on the status bar gives the page keyboard focus without opening anything.
    await this.page.locator('.part.statusbar').click({ position: { x: 2, y: 2 } });
  }

  /**
   * Opens the command palette with F1, types `title` and runs the command whose label is
   * exactly `title` (waiting for it to be the highlighted row, so Enter cannot run a longer
   * title that merely starts the same way).
   */
  async runCommand(title, timeoutMs = 30_000) {
    await this.focusWorkbench();
    await this.page.keyboard.press('F1');
    const input = this.page.locator(`${QUICK_INPUT} input`);
    await input.waitFor({ state: 'visible', timeout: timeoutMs });
    await input.fill(`>${title}`);
    await this.page.waitForFunction(
      ([sel, want]) => {
        const el = document.querySelector(sel);
        return !!el && el.textContent.replace(/\s+/g, ' ').trim() === want;
      },
      [`${QUICK_INPUT} .monaco-list-row.focused .label-name`, title],
      { timeout: timeoutMs },
    ).catch(async (err) => {
      const rows = await this.page.locator(`${QUICK_INPUT} .monaco-list-row .label-name`).allTextContents();
      throw new Error(`the command palette offers no command titled "${title}" (rows: ${rows.join(' | ') || 'none'}): ${err.message}`);
    });
    await this.page.keyboard.press('Enter');
  }

  /** Quick Open (Ctrl+P): opens a workspace file by name. */
  async openFile(fileName, timeoutMs = 30_000) {
    await this.focusWorkbench();
    await this.page.keyboard.press('Control+P');
    const input = this.page.locator(`${QUICK_INPUT} input`);
    await input.waitFor({ state: 'visible', timeout: timeoutMs });
    await input.fill(fileName);
    await this.page.locator(`${QUICK_INPUT} .monaco-list-row.focused`).filter({ hasText: fileName }).waitFor({ timeout: timeoutMs });
    await this.page.keyboard.press('Enter');
    await this.page.locator('.tabs-container .tab').filter({ hasText: fileName }).first().waitFor({ timeout: timeoutMs });
  }

  /** Clicks the activity bar item whose label starts with `name` (e.g. the Lily view container). */
  async openViewContainer(name, timeoutMs = 30_000) {
    const item = this.page.locator(`.part.activitybar .action-item a[aria-label^="${name}"], .part.activitybar .action-item[aria-label^="${name}"]`).first();
    await item.waitFor({ timeout: timeoutMs });
    const expanded = await this.page.locator(`.part.sidebar .composite.title h2`).filter({ hasText: new RegExp(`^${name}`, 'i') }).count();
    if (!expanded) await item.click();
    await this.page.locator('.part.sidebar .composite.title h2').filter({ hasText: new RegExp(`^${name}`, 'i') }).waitFor({ timeout: timeoutMs });
  }

  /** Texts of the rows of the tree in the side bar (label + description). */
  async sideBarRows() {
    return this.page.locator('.part.sidebar .monaco-list-row').evaluateAll((rows) =>
      rows.map((r) => r.textContent.replace(/\s+/g, ' ').trim()));
  }

  /** Texts and ARIA labels of the status bar items. */
  async statusBarItems() {
    return this.page.locator('.part.statusbar .statusbar-item').evaluateAll((items) =>
      items.map((i) => `${i.textContent.replace(/\s+/g, ' ').trim()} ${i.getAttribute('aria-label') ?? ''}`.trim()));
  }

  /** Messages of the visible notification toasts (headless, the workbench often shows none). */
  async notifications() {
    return this.page.locator('.notifications-toasts .notification-list-item-message').evaluateAll((items) =>
      items.map((t) => t.textContent.replace(/\s+/g, ' ').trim()));
  }

  /** Messages in the notification center (every notification of the session), read and closed again. */
  async notificationCenter() {
    await this.runCommand('Notifications: Show Notifications');
    const items = this.page.locator('.notifications-center .notification-list-item-message');
    await this.page.locator('.notifications-center').waitFor({ timeout: 10_000 });
    const messages = await items.evaluateAll((els) => els.map((t) => t.textContent.replace(/\s+/g, ' ').trim()));
    await this.page.keyboard.press('Escape');
    return messages;
  }

  /**
   * The content frame of the webview whose panel title matches `title`: the outer
   * `iframe.webview` (the host's), then its inner `#active-frame` (the extension's HTML).
   */
  async webviewFrame(timeoutMs = 60_000) {
    const outer = this.page.locator('iframe.webview.ready, iframe.webview').first();
    await outer.waitFor({ state: 'attached', timeout: timeoutMs });
    const outerFrame = await (await outer.elementHandle()).contentFrame();
    if (!outerFrame) throw new Error('the webview iframe has no content frame');
    const inner = outerFrame.locator('#active-frame');
    await inner.waitFor({ state: 'attached', timeout: timeoutMs });
    const frame = await (await inner.elementHandle()).contentFrame();
    if (!frame) throw new Error('the webview has no #active-frame content');
    return frame;
  }
}

/** Polls `probe` until it returns something other than undefined; fails naming `what`. */
export async function waitFor(what, probe, timeoutMs = 30_000, intervalMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      if (err?.fatal) throw err;
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** An error that stops waitFor at once (e.g. the run failed: waiting longer cannot help). */
export function fatal(message) {
  const err = new Error(message);
  err.fatal = true;
  return err;
}
