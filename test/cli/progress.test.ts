import * as assert from 'assert';
import { formatDuration, ProgressBar, progressText } from '../../native-runtime/cli/progress';

describe('cli: progress line', () => {
  it('formats step/total, loss, throughput and ETA', () => {
    assert.strictEqual(formatDuration(5), '5s');
    assert.strictEqual(formatDuration(125), '2m05s');
    assert.strictEqual(formatDuration(3 * 3600 + 61), '3h01m');
    assert.strictEqual(formatDuration(NaN), '?');
    const t = progressText({ step: 5, total: 10, epoch: 0.5, loss: 0.123456, samplesPerSec: 42.25, etaSeconds: 65 }, 100);
    assert.match(t, /^\[#+\.+\] 5\/10 loss 0\.1235 42\.3 samples\/s ETA 1m05s$/);
    const bar = /^\[([#.]+)\]/.exec(t)![1];
    assert.strictEqual(bar.split('#').length - 1, bar.length / 2);
  });

  it('redraws in place on a TTY and prints throttled plain lines otherwise', () => {
    const tty: string[] = [];
    const p = new ProgressBar({ stdout: () => undefined, stderr: (s) => { tty.push(s); }, stderrIsTTY: true, columns: 80 });
    p.update({ step: 1, total: 3, epoch: 0, loss: 1, samplesPerSec: 1, etaSeconds: 2 });
    p.update({ step: 2, total: 3, epoch: 0, loss: 1, samplesPerSec: 1, etaSeconds: 1 });
    p.clear();
    assert.ok(tty[0].startsWith('\r\x1b[2K') && tty[1].startsWith('\r\x1b[2K'));
    assert.strictEqual(tty[2], '\n');
    const plain: string[] = [];
    const q = new ProgressBar({ stdout: () => undefined, stderr: (s) => { plain.push(s); }, stderrIsTTY: false, columns: 80 }, 60000);
    for (let s = 1; s <= 3; s++) q.update({ step: s, total: 3, epoch: 0, loss: 1, samplesPerSec: 1, etaSeconds: 0 });
    assert.strictEqual(plain.length, 2, 'first and last step only');
    assert.ok(plain.every((l) => l.endsWith('\n') && !l.includes('\r')));
  });
});
