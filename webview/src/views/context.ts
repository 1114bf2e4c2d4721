// What every view receives: the data, the user's choices and a way to ask for redraws.
import type { WebviewToHost } from '../../../native-runtime/protocol';
import type { DashboardStore, ViewId } from '../store';
import type { ThemeColors } from '../theme';
import type { UiState } from '../uiState';

export interface ViewContext {
  readonly store: DashboardStore;
  readonly ui: UiState;
  /** Persists `ui` through the webview API. */
  saveUi(): void;
  theme(): ThemeColors;
  invalidate(ids: ViewId[]): void;
  post(message: WebviewToHost): void;
}

export interface View {
  readonly element: HTMLElement;
  /** Brings the view up to date with the store and the UI state. */
  render(): void;
}
