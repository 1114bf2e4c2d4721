// What the host posts for the dashboard's "Compare runs" tab: the compared runs' status, config,
// metric lines and sweep.json on `compareSet`, then per run only new metric lines and a changed
// status (`compareUpdate`). Router lines and inspection results are not read: the tab does not
// draw them, and a comparison of 20 runs must stay cheap. No vscode import: tested in Node.
import * as fs from 'fs';
import * as path from 'path';
import { readJsonIfValid } from '../native-runtime/io/atomic';
import { readRunStatus } from '../native-runtime/io/runDir';
import type { LilyConfig } from '../native-runtime/config/types';
import type { CompareRunSnapshot, HostToWebview } from '../native-runtime/protocol';
import { RUN_FILES, type MetricLine, type RunStatus } from '../native-runtime/runFiles';
import { JsonlTail } from './jsonlTail';
import { readSweepMember } from './runRecords';

class ComparedRunFeed {
  private readonly metrics: JsonlTail<MetricLine>;
  private statusText = '';
  state: RunStatus['state'] | undefined;

  constructor(readonly runDir: string) {
    this.metrics = new JsonlTail(path.join(runDir, RUN_FILES.metrics));
  }

  snapshot(): CompareRunSnapshot {
    const status = readRunStatus(this.runDir);
    const metrics = this.metrics.readNewFromStart();
    this.statusText = JSON.stringify(status);
    this.state = status.state;
    const sweep = readSweepMember(this.runDir);
    return {
      runDir: this.runDir,
      status,
      config: readJsonIfValid<LilyConfig>(path.join(this.runDir, RUN_FILES.config)),
      metrics,
      ...(sweep ? { sweep } : {}),
    };
  }

  poll(): HostToWebview | undefined {
    const metrics = this.metrics.readNew();
    let status: RunStatus | undefined;
    if (fs.existsSync(path.join(this.runDir, RUN_FILES.status))) {
      const now = readRunStatus(this.runDir);
      const text = JSON.stringify(now);
      if (text !== this.statusText) {
        this.statusText = text;
        this.state = now.state;
        status = now;
      }
    }
    if (!metrics.length && !status) return undefined;
    return { type: 'compareUpdate', runDir: this.runDir, metrics, ...(status ? { status } : {}) };
  }
}

export class CompareFeed {
  private readonly runs: ComparedRunFeed[];

  /** `runDirs` in the order the user picked them; repeats are dropped. */
  constructor(runDirs: readonly string[]) {
    this.runs = [...new Set(runDirs)].map((d) => new ComparedRunFeed(d));
  }

  get runDirs(): string[] {
    return this.runs.map((r) => r.runDir);
  }

  /** Whether a compared run is still training (the panel keeps polling while one is). */
  get anyRunning(): boolean {
    return this.runs.some((r) => r.state === 'running');
  }

  /** The whole set; what poll() sends after it is relative to it. */
  snapshot(focus: boolean): HostToWebview {
    return { type: 'compareSet', runs: this.runs.map((r) => r.snapshot()), ...(focus ? { focus: true } : {}) };
  }

  poll(): HostToWebview[] {
    return this.runs.map((r) => r.poll()).filter((m): m is HostToWebview => m !== undefined);
  }

  /** Drops one run; false when it was not compared. */
  remove(runDir: string): boolean {
    const i = this.runs.findIndex((r) => r.runDir === runDir);
    if (i < 0) return false;
    this.runs.splice(i, 1);
    return true;
  }
}
