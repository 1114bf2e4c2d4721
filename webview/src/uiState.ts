// What the user chose (tab, toggles, sliders), persisted with the webview API's setState so a
// hidden-then-shown panel or a window reload comes back as it was left. Restored values are
// checked field by field: a state saved by an older dashboard must not break a newer one.

export type TabId = 'router' | 'rank' | 'curves' | 'experts' | 'compare';
export const TABS: ReadonlyArray<{ id: TabId; label: string }> = [
  { id: 'router', label: 'Router' },
  { id: 'rank', label: 'Rank of ΔW' },
  { id: 'curves', label: 'Training curves' },
  { id: 'experts', label: 'Expert similarity' },
  { id: 'compare', label: 'Compare runs' },
];

export type CompareXAxis = 'step' | 'time' | 'wall';

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
  /** Compare runs tab: x-axis, sorted column and direction, hidden runs, the two runs whose configs are diffed. */
  compareX: CompareXAxis;
  compareSort: { column: string; dir: 'asc' | 'desc' } | null;
  compareHidden: string[];
  /** null: the first two runs. */
  compareDiff: string[] | null;
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
  compareX: 'step',
  compareSort: null,
  compareHidden: [],
  compareDiff: null,
};

export function restoreUiState(saved: unknown): UiState {
  const state: UiState = { ...DEFAULT_UI_STATE, tables: {}, selectedLayer: {}, compareHidden: [] };
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
  if (s.compareX === 'step' || s.compareX === 'time' || s.compareX === 'wall') state.compareX = s.compareX;
  const sort = s.compareSort as { column?: unknown; dir?: unknown } | null | undefined;
  if (sort && typeof sort.column === 'string' && (sort.dir === 'asc' || sort.dir === 'desc')) state.compareSort = { column: sort.column, dir: sort.dir };
  if (Array.isArray(s.compareHidden) && s.compareHidden.every((d) => typeof d === 'string')) state.compareHidden = [...(s.compareHidden as string[])];
  if (Array.isArray(s.compareDiff) && s.compareDiff.length <= 2 && s.compareDiff.every((d) => typeof d === 'string')) state.compareDiff = [...(s.compareDiff as string[])];
  return state;
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function isRecordOf(v: unknown, check: (x: unknown) => boolean): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(check);
}
