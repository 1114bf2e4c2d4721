// What the user chose (tab, toggles, sliders), persisted with the webview API's setState so a
// hidden-then-shown panel or a window reload comes back as it was left. Restored values are
// checked field by field: a state saved by an older dashboard must not break a newer one.

export type TabId = 'router' | 'rank' | 'curves' | 'experts';
export const TABS: ReadonlyArray<{ id: TabId; label: string }> = [
  { id: 'router', label: 'Router' },
  { id: 'rank', label: 'Rank of ΔW' },
  { id: 'curves', label: 'Training curves' },
  { id: 'experts', label: 'Expert similarity' },
];

export type HeatmapMode = 'reference' | 'class' | 'token' | 'training';
export const HEATMAP_MODES: ReadonlyArray<{ id: HeatmapMode; label: string }> = [
  { id: 'reference', label: 'Reference set' },
  { id: 'class', label: 'Per class' },
  { id: 'token', label: 'Per token' },
  { id: 'training', label: 'Training replay' },
];

export interface UiState {
  tab: TabId;
  heatmapMode: HeatmapMode;
  classLabel: string | null;
  tokenIndex: number;
  /** Index into router.jsonl lines, or null to follow the newest line as it arrives. */
  replayIndex: number | null;
  logScale: boolean;
  /** EMA weight in [0, 0.99]. */
  smoothing: number;
  showCompare: boolean;
  /** Chart id -> table view on. */
  tables: Record<string, boolean>;
  /** Target -> layer whose singular values are shown. */
  selectedLayer: Record<string, number>;
}

export const DEFAULT_UI_STATE: UiState = {
  tab: 'router',
  heatmapMode: 'reference',
  classLabel: null,
  tokenIndex: 0,
  replayIndex: null,
  logScale: false,
  smoothing: 0,
  showCompare: true,
  tables: {},
  selectedLayer: {},
};

export function restoreUiState(saved: unknown): UiState {
  const state: UiState = { ...DEFAULT_UI_STATE, tables: {}, selectedLayer: {} };
  if (typeof saved !== 'object' || saved === null) return state;
  const s = saved as Record<string, unknown>;
  if (TABS.some((t) => t.id === s.tab)) state.tab = s.tab as TabId;
  if (HEATMAP_MODES.some((m) => m.id === s.heatmapMode)) state.heatmapMode = s.heatmapMode as HeatmapMode;
  if (typeof s.classLabel === 'string') state.classLabel = s.classLabel;
  if (isIndex(s.tokenIndex)) state.tokenIndex = s.tokenIndex;
  if (isIndex(s.replayIndex)) state.replayIndex = s.replayIndex;
  if (typeof s.logScale === 'boolean') state.logScale = s.logScale;
  if (typeof s.smoothing === 'number' && s.smoothing >= 0 && s.smoothing < 1) state.smoothing = s.smoothing;
  if (typeof s.showCompare === 'boolean') state.showCompare = s.showCompare;
  if (isRecordOf(s.tables, (v) => typeof v === 'boolean')) state.tables = { ...(s.tables as Record<string, boolean>) };
  if (isRecordOf(s.selectedLayer, isIndex)) state.selectedLayer = { ...(s.selectedLayer as Record<string, number>) };
  return state;
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function isRecordOf(v: unknown, check: (x: unknown) => boolean): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(check);
}
