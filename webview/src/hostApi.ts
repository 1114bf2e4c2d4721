// The one place that talks to the host. Inside VS Code this wraps `acquireVsCodeApi()` (callable
// once per page); in a plain browser it falls back to the fixture host, which answers `ready`
// with fixture data, so the same bundle runs in both.
import type { WebviewToHost } from '../../native-runtime/protocol';
import { createFixtureHost } from './fixtureHost';

export interface HostApi {
  postMessage(message: WebviewToHost): void;
  getState(): unknown;
  setState(state: unknown): void;
  /** True in the plain-browser mode (no VS Code around). */
  readonly standalone: boolean;
}

interface VsCodeWebviewApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare global {
  // Provided by VS Code inside webviews only.
  // eslint-disable-next-line no-var
  var acquireVsCodeApi: (() => VsCodeWebviewApi) | undefined;
}

export function connectHost(): HostApi {
  if (typeof globalThis.acquireVsCodeApi === 'function') {
    const api = globalThis.acquireVsCodeApi();
    return {
      postMessage: (message) => api.postMessage(message),
      getState: () => api.getState(),
      setState: (state) => api.setState(state),
      standalone: false,
    };
  }
  return createFixtureHost();
}
