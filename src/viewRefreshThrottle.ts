// Change events for a VS Code tree view, at a bounded rate. VS Code's extension host debounces a
// TreeDataProvider's onDidChangeTreeData with a 200 ms timer that restarts on every event (leading
// edge fired, trailing edge only once events stop: extHostTreeViews, Event.debounce(..., 200,
// true) in VS Code 1.139). A run at ~30 steps/s changes its row every ~30 ms, so after the
// first refresh the view saw nothing until the run ended: the Runs row stayed at 0/600 for a whole
// 18 s run and showed completion 0.6 s after it (issue 14 item 4; reproduced in the UI scenario by
// firing every 50 ms). Here the changes are merged and fired as one event at most once per
// `minGapMs` (> 200 ms), so every event we fire lands on an expired timer and refreshes at once.
// No vscode import: tested in plain Node with a fake clock.

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_TIMERS: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Longer than VS Code's 200 ms tree debounce, with room for timer jitter on a busy machine. */
export const VIEW_REFRESH_GAP_MS = 400;

export class ViewRefreshThrottle<T> {
  /** Elements changed since the last fire; `all` when the whole tree must be re-read. */
  private pending = new Set<T>();
  private all = false;
  private timer: unknown;
  private lastFire = -Infinity;
  private disposed = false;

  constructor(
    /** Receives the changed elements, or undefined for the whole tree. */
    private readonly fire: (elements: T[] | undefined) => void,
    private readonly minGapMs = VIEW_REFRESH_GAP_MS,
    private readonly timers: Timers = REAL_TIMERS,
  ) {}

  /** Marks an element (undefined: the whole tree) as changed. Fires on a later tick, never inside this call. */
  add(element: T | undefined): void {
    if (this.disposed) return;
    if (element === undefined) this.all = true;
    else this.pending.add(element);
    if (this.timer !== undefined) return;
    // Changes made in the same tick (a run's row and its sweep's) go out as one event.
    const wait = Math.max(0, this.lastFire + this.minGapMs - this.timers.now());
    this.timer = this.timers.setTimeout(() => this.flush(), wait);
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private flush(): void {
    this.timer = undefined;
    if (this.disposed) return;
    const elements = this.all ? undefined : [...this.pending];
    this.pending = new Set();
    this.all = false;
    this.lastFire = this.timers.now();
    this.fire(elements);
  }
}
