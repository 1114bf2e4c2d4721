// What the plain-browser mode reads instead of a VS Code host: the messages a host would post.
// Pure types, shared by the webview's fixture host and test/webview/make-fixture.ts.
import type { HostToWebview } from '../native-runtime/protocol';

export type InitMessage = Extract<HostToWebview, { type: 'init' }>;

export interface DashboardFixture {
  /** Posted in answer to the webview's `ready`. */
  init: InitMessage;
  /** Optional `runs` list for the run pickers. */
  runs?: Extract<HostToWebview, { type: 'runs' }>;
  /** Later messages (append/status/routerStats/spectrum), played when `autoplayMs` is set. */
  updates?: HostToWebview[];
  /** Milliseconds between played updates (plain-browser demo of a live run); off when absent. */
  autoplayMs?: number;
}
