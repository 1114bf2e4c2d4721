// When a crashed backend may be restarted. Modelled on vscode-languageclient's default error
// handler: restart freely, but if it crashes `maxRestarts` times within `windowMs`, something is
// deterministically wrong (a bad install, a model that kills the process on load), so stop and
// tell the user instead of looping forever. No vscode import: tested in plain Node.

export type CrashDecision = { action: 'restart'; attempt: number } | { action: 'stop'; crashes: number; windowMs: number };

export class RestartPolicy {
  private crashes: number[] = [];

  constructor(
    readonly maxRestarts = 4,
    readonly windowMs = 3 * 60 * 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a crash and says whether to restart. */
  onCrash(): CrashDecision {
    const t = this.now();
    this.crashes = this.crashes.filter((c) => t - c < this.windowMs);
    this.crashes.push(t);
    if (this.crashes.length > this.maxRestarts) {
      return { action: 'stop', crashes: this.crashes.length, windowMs: this.windowMs };
    }
    return { action: 'restart', attempt: this.crashes.length };
  }

  /** Forgets past crashes (after the user restarts the backend by hand). */
  reset(): void {
    this.crashes = [];
  }
}
