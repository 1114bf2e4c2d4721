// The dashboard's entry point: wires the host connection, the store, the views and the frame
// scheduler. Protocol: post `ready`, receive `init`, then incremental messages.
import { connectHost } from './hostApi';
import { el } from './dom';
import { RenderScheduler, type SchedulerStats } from './scheduler';
import { ALL_VIEWS, DashboardStore, isHostMessage, type ViewId } from './store';
import { readTheme, themeKind, watchTheme, type ThemeColors } from './theme';
import { createTabs, registerToolkit } from './toolkit';
import { restoreUiState, TABS, type TabId } from './uiState';
import type { View, ViewContext } from './views/context';
import { CompareView } from './views/compareView';
import { CurvesView } from './views/curvesView';
import { ExpertsView } from './views/expertsView';
import { HeaderView } from './views/headerView';
import { RankView } from './views/rankView';
import { RouterView } from './views/routerView';

/** Handle for tests and the render benchmark (read-only use). */
export interface DashboardHandle {
  stats: SchedulerStats;
  whenIdle(): Promise<void>;
  store: DashboardStore;
}

declare global {
  interface Window {
    __lilyDashboard?: DashboardHandle;
  }
}

function start(): void {
  // Host first: in the plain-browser mode it sets the theme class the toolkit reads on registration.
  const host = connectHost();
  registerToolkit();
  const ui = restoreUiState(host.getState());
  const store = new DashboardStore();
  let theme: ThemeColors | undefined;

  // `#app` in dashboardHtml.ts's page; `#root` in the extension's own template (src/dashboardHtml.ts).
  const app = document.getElementById('app') ?? document.getElementById('root') ?? document.body.appendChild(el('div', { attrs: { id: 'app' } }));
  const standaloneProblem = window.__lilyHost?.problem;
  if (standaloneProblem) {
    app.replaceChildren(el('p', { class: 'notice error', text: standaloneProblem }));
    return;
  }

  const ctx: ViewContext = {
    store,
    ui,
    // runDir rides along so VS Code's panel serializer can reopen the same run after a reload.
    // compareRunDirs likewise brings back the Compare runs tab's set.
    saveUi: () => host.setState({ ...ui, runDir: store.main?.runDir, compareRunDirs: store.compareSet.map((r) => r.runDir) }),
    theme: () => (theme ??= readTheme()),
    invalidate: (ids) => scheduler.invalidate(ids),
    post: (message) => host.postMessage(message),
  };
  const views: Record<ViewId, View> = {
    header: new HeaderView(ctx),
    router: new RouterView(ctx),
    rank: new RankView(ctx),
    curves: new CurvesView(ctx),
    experts: new ExpertsView(ctx),
    compare: new CompareView(ctx),
  };
  const tabs = createTabs<TabId>(TABS, ui.tab, (tab) => {
    ui.tab = tab;
    ctx.saveUi();
    scheduler.request();
  });
  for (const tab of TABS) tabs.panel(tab.id).append(views[tab.id].element);
  app.replaceChildren(views.header.element, tabs.element);

  const scheduler = new RenderScheduler<ViewId>(
    (id) => id === 'header' || id === tabs.active,
    (id) => views[id].render(),
  );

  window.addEventListener('message', (event: MessageEvent) => {
    if (!isHostMessage(event.data)) return;
    const message = event.data;
    if (message.type === 'init' && message.theme && !hasThemeClass()) {
      // Outside VS Code nobody sets the theme class; inside, VS Code's class wins.
      document.body.classList.add(message.theme === 'light' ? 'vscode-light' : message.theme === 'high-contrast' ? 'vscode-high-contrast' : 'vscode-dark');
    }
    scheduler.invalidate(store.apply(message));
    if (message.type === 'compareSet' && message.focus) {
      // "Compare Runs" asked for a new set: show it, every run drawn, its first two diffed.
      ui.compareHidden = [];
      ui.compareDiff = null;
      if (tabs.active !== 'compare') {
        ui.tab = 'compare';
        tabs.setActive('compare');
      }
      scheduler.invalidate(['compare']);
    }
    if (message.type === 'init' || message.type === 'compareSet') ctx.saveUi();
  });
  watchTheme(() => {
    theme = undefined;
    scheduler.invalidate(ALL_VIEWS);
  });
  // Charts are drawn at the container's width: redraw on resize (the router grid is CSS-sized).
  let lastWidth = 0;
  new ResizeObserver((entries) => {
    const width = Math.round(entries[0]?.contentRect.width ?? 0);
    if (Math.abs(width - lastWidth) < 8) return;
    lastWidth = width;
    scheduler.invalidate(['rank', 'curves', 'experts', 'compare']);
  }).observe(app);

  window.__lilyDashboard = { stats: scheduler.stats, whenIdle: () => scheduler.whenIdle(), store };
  document.body.dataset.themeKind = themeKind();
  host.postMessage({ type: 'ready' });
}

function hasThemeClass(): boolean {
  const c = document.body.classList;
  return c.contains('vscode-light') || c.contains('vscode-dark') || c.contains('vscode-high-contrast');
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
