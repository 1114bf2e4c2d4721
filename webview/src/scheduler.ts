// Redraws at most once per animation frame. Messages mark views dirty; the next frame redraws
// the dirty views that are visible and leaves hidden ones dirty until their tab is shown, so a
// burst of `append` messages costs one redraw and a hidden tab costs nothing.

export interface SchedulerStats {
  /** Frames that redrew something. */
  frames: number;
  /** Redraws per view. */
  renders: Record<string, number>;
  /** Milliseconds spent in the last frame's redraws, per view. */
  lastRenderMs: Record<string, number>;
}

export class RenderScheduler<Id extends string> {
  private readonly dirty = new Set<Id>();
  private frameRequested = false;
  private idleWaiters: Array<() => void> = [];
  readonly stats: SchedulerStats = { frames: 0, renders: {}, lastRenderMs: {} };

  constructor(
    private readonly isVisible: (id: Id) => boolean,
    private readonly render: (id: Id) => void,
  ) {}

  invalidate(ids: Iterable<Id>): void {
    for (const id of ids) this.dirty.add(id);
    this.request();
  }

  /** Call when visibility changed (tab switch, resize) so newly visible dirty views draw. */
  request(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => this.flush());
  }

  /** Resolves after the next frame in which nothing visible is left dirty. */
  whenIdle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.request();
    });
  }

  private flush(): void {
    this.frameRequested = false;
    let drew = false;
    for (const id of [...this.dirty]) {
      if (!this.isVisible(id)) continue;
      this.dirty.delete(id);
      const t0 = performance.now();
      try {
        this.render(id);
      } catch (err) {
        console.error(`Lily dashboard: drawing "${id}" failed`, err);
      }
      this.stats.lastRenderMs[id] = performance.now() - t0;
      this.stats.renders[id] = (this.stats.renders[id] ?? 0) + 1;
      drew = true;
    }
    if (drew) this.stats.frames++;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
