// Plain-browser mode: stands in for the VS Code host when `acquireVsCodeApi` is absent. The
// fixture comes from `window.__LILY_FIXTURE__` (set by a script such as fixture.js) or from a
// `<script type="application/json" id="lily-fixture">` element in the page. Host messages are
// delivered as window `message` events, the same path VS Code uses, and tests drive the page
// through `window.__lilyHost` (send a host message, read what the dashboard posted).
import type { HostToWebview, WebviewToHost } from '../../native-runtime/protocol';
import type { DashboardFixture } from '../fixtureTypes';
import type { HostApi } from './hostApi';

export interface FixtureHostHandle {
  /** Delivers a host message to the dashboard. */
  send(message: HostToWebview): void;
  /** Every message the dashboard posted, in order. */
  readonly sent: WebviewToHost[];
  readonly fixture: DashboardFixture | undefined;
  /** Why no fixture was found, when none was. */
  readonly problem: string | undefined;
}

declare global {
  interface Window {
    __LILY_FIXTURE__?: DashboardFixture;
    __lilyHost?: FixtureHostHandle;
  }
}

const STATE_KEY = 'lily.dashboard.state';

export function createFixtureHost(): HostApi {
  const { fixture, problem } = readFixture();
  const sent: WebviewToHost[] = [];
  const send = (message: HostToWebview): void => {
    window.dispatchEvent(new MessageEvent('message', { data: message }));
  };
  window.__lilyHost = { send, sent, fixture, problem };
  document.body.classList.add('lily-standalone');
  applyStandaloneTheme(fixture);

  let memoryState: unknown;
  return {
    standalone: true,
    postMessage(message) {
      sent.push(message);
      if (message.type === 'ready' && fixture) {
        // Answer asynchronously, as a real host does.
        setTimeout(() => {
          send(fixture.init);
          if (fixture.runs) send(fixture.runs);
          if (fixture.autoplayMs && fixture.updates?.length) autoplay(fixture.updates, fixture.autoplayMs, send);
        }, 0);
      }
    },
    getState() {
      try {
        const text = sessionStorage.getItem(STATE_KEY);
        return text ? JSON.parse(text) : memoryState;
      } catch {
        return memoryState;
      }
    },
    setState(state) {
      memoryState = state;
      try {
        sessionStorage.setItem(STATE_KEY, JSON.stringify(state));
      } catch {
        // file:// pages may have no storage; the in-memory copy still serves this page.
      }
    },
  };
}

function readFixture(): { fixture?: DashboardFixture; problem?: string } {
  if (window.__LILY_FIXTURE__) return { fixture: window.__LILY_FIXTURE__ };
  const node = document.getElementById('lily-fixture');
  if (!node) {
    return {
      problem:
        'No run data: this page is not inside VS Code and has no fixture. Generate one with ' +
        '`npx tsx test/webview/make-fixture.ts` (writes out/webview/fixture.js) and reload.',
    };
  }
  try {
    return { fixture: JSON.parse(node.textContent ?? '') as DashboardFixture };
  } catch (err) {
    return { problem: `The fixture in <script id="lily-fixture"> is not valid JSON: ${(err as Error).message}.` };
  }
}

function applyStandaloneTheme(fixture: DashboardFixture | undefined): void {
  const body = document.body;
  if (body.classList.contains('vscode-light') || body.classList.contains('vscode-dark') || body.classList.contains('vscode-high-contrast')) return;
  const fromUrl = new URLSearchParams(location.search).get('theme');
  const theme = fromUrl ?? fixture?.init.theme ?? 'dark';
  const kind = theme === 'light' ? 'vscode-light' : theme === 'high-contrast' ? 'vscode-high-contrast' : 'vscode-dark';
  body.classList.add(kind);
  // VS Code sets both; the toolkit reads the attribute for high-contrast tweaks.
  body.dataset.vscodeThemeKind = kind;
}

function autoplay(updates: HostToWebview[], intervalMs: number, send: (m: HostToWebview) => void): void {
  let next = 0;
  const timer = setInterval(() => {
    if (next >= updates.length) {
      clearInterval(timer);
      return;
    }
    send(updates[next++]);
  }, intervalMs);
}
