// The terminal progress line: step/total, loss, throughput, ETA. On a TTY it redraws in place
// (carriage return + clear line); otherwise it prints a plain line at most every few seconds so
// CI logs stay short.
import type { CliIO } from './io';

export interface ProgressState {
  step: number;
  total: number;
  epoch: number;
  loss: number;
  samplesPerSec: number;
  etaSeconds: number;
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

export function progressText(p: ProgressState, width: number): string {
  const info = ` ${p.step}/${p.total} loss ${p.loss.toFixed(4)} ${p.samplesPerSec.toFixed(1)} samples/s ETA ${formatDuration(p.etaSeconds)}`;
  const barWidth = Math.max(10, Math.min(40, width - info.length - 3));
  const filled = p.total > 0 ? Math.min(barWidth, Math.round((p.step / p.total) * barWidth)) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]${info}`;
}

export class ProgressBar {
  private lastPlain = 0;
  private drawn = false;

  constructor(private readonly io: CliIO, private readonly plainIntervalMs = 5000) {}

  update(p: ProgressState): void {
    const text = progressText(p, this.io.columns);
    if (this.io.stderrIsTTY) {
      this.io.stderr(`\r\x1b[2K${text}`);
      this.drawn = true;
      return;
    }
    const now = Date.now();
    if (now - this.lastPlain >= this.plainIntervalMs || p.step === p.total) {
      this.lastPlain = now;
      this.io.stderr(text + '\n');
    }
  }

  /** Ends the in-place line so that following logs start on a fresh line. */
  clear(): void {
    if (this.drawn) this.io.stderr('\n');
    this.drawn = false;
  }
}
