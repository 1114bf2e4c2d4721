// The Runs view's change events at a bounded rate (issue 14 item 4, the UI flake): against a
// model of VS Code's tree debounce (a 200 ms timer restarted by every event, leading edge fired),
// a row changing every 30 ms for 18 s is refreshed once when fired directly (what froze the row at
// 0/600) and every ~0.4 s through the throttle. Virtual time: nothing here waits on the clock.
import * as assert from 'assert';
import { ViewRefreshThrottle, VIEW_REFRESH_GAP_MS, type Timers } from '../../src/viewRefreshThrottle';

/** Virtual time with timers run in due order. */
class FakeClock implements Timers {
  private t = 0;
  private seq = 0;
  private timers = new Map<number, { due: number; fn: () => void }>();
  now(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { due: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void { this.timers.delete(h as number); }
  /** Advances to `until`, running every timer that falls due on the way. */
  advance(until: number): void {
    for (;;) {
      let next: [number, { due: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].due <= until && (!next || e[1].due < next[1].due || (e[1].due === next[1].due && e[0] < next[0]))) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].due;
      next[1].fn();
    }
    this.t = until;
  }
}

/**
 * What the extension host does with onDidChangeTreeData (VS Code 1.139): the first event of a
 * burst refreshes at once; each further event restarts a 200 ms timer, and the merged events
 * refresh only when it expires. Counts the refreshes the view gets.
 */
function vscodeTreeDebounce(clock: FakeClock) {
  let timer: unknown;
  let pendingSinceLeading = 0;
  const refreshes: number[] = [];
  return {
    refreshes,
    event(): void {
      if (timer === undefined) refreshes.push(clock.now());
      else pendingSinceLeading++;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = clock.setTimeout(() => {
        timer = undefined;
        if (pendingSinceLeading > 0) refreshes.push(clock.now());
        pendingSinceLeading = 0;
      }, 200);
    },
  };
}

/** A run changing its row every `stepMs` for `durationMs`, feeding `onChange`. */
function fastRun(clock: FakeClock, stepMs: number, durationMs: number, onChange: () => void): void {
  for (let t = 0; t < durationMs; t += stepMs) {
    clock.advance(t);
    onChange();
  }
  clock.advance(durationMs + 2000);
}

describe('extension: Runs view refresh rate (viewRefreshThrottle)', () => {
  it('fired directly, a row changing every 30 ms is refreshed once during an 18 s run (the frozen 0/600)', () => {
    const clock = new FakeClock();
    const view = vscodeTreeDebounce(clock);
    fastRun(clock, 30, 18_000, () => view.event());
    const during = view.refreshes.filter((t) => t < 18_000);
    assert.deepStrictEqual(during, [0], 'the debounce starves the view: only the leading refresh');
  });

  it('through the throttle, the same run is refreshed at least every 0.5 s and its last change arrives', () => {
    const clock = new FakeClock();
    const view = vscodeTreeDebounce(clock);
    const fired: Array<string[] | undefined> = [];
    const throttle = new ViewRefreshThrottle<string>((e) => { fired.push(e); view.event(); }, VIEW_REFRESH_GAP_MS, clock);
    fastRun(clock, 30, 18_000, () => throttle.add('run-1'));
    const during = view.refreshes.filter((t) => t < 18_000);
    assert.ok(during.length >= 18_000 / 500, `${during.length} refreshes in 18 s`);
    const gaps = during.slice(1).map((t, i) => t - during[i]);
    assert.ok(Math.max(...gaps) <= 500, `largest gap between refreshes ${Math.max(...gaps)} ms`);
    assert.ok(fired.length > 0 && fired.every((e) => JSON.stringify(e) === '["run-1"]'), 'each event names the changed row');
    assert.ok(view.refreshes[view.refreshes.length - 1] >= 18_000 - 30, 'the last change of the run is refreshed');
  });

  it('merges changes of one tick into one event, lets "whole tree" win, and fires on a later tick', () => {
    const clock = new FakeClock();
    const fired: Array<string[] | undefined> = [];
    const throttle = new ViewRefreshThrottle<string>((e) => fired.push(e), 400, clock);
    throttle.add('run');
    throttle.add('sweep');
    throttle.add('run');
    assert.strictEqual(fired.length, 0, 'never inside add()');
    clock.advance(0);
    assert.deepStrictEqual(fired, [['run', 'sweep']]);
    throttle.add('run');
    throttle.add(undefined);
    clock.advance(399);
    assert.strictEqual(fired.length, 1, 'not before the gap has passed');
    clock.advance(400);
    assert.deepStrictEqual(fired, [['run', 'sweep'], undefined]);
    // After a quiet period the next change goes out on the next tick again.
    clock.advance(5000);
    throttle.add('other');
    clock.advance(5000);
    assert.strictEqual(fired.length, 3);
    assert.deepStrictEqual(fired[2], ['other']);
  });

  it('fires nothing after dispose', () => {
    const clock = new FakeClock();
    const fired: unknown[] = [];
    const throttle = new ViewRefreshThrottle<string>((e) => fired.push(e), 400, clock);
    throttle.add('run');
    throttle.dispose();
    throttle.add('run');
    clock.advance(10_000);
    assert.deepStrictEqual(fired, []);
  });
});
