// The memory estimate (memoryEstimate.ts, what `lily train --dry-run` prints and what refuses a
// run) against the peak resident memory of real training steps: a transformers Qwen2 decoder
// (random weights) trained by the memory bench's stepWorker in its own process (onnxruntime,
// chunked loss, with and without gradient checkpointing), and the bundled demo trained by the
// real CLI. An estimate below the measured peak tells a user a run fits that then runs out of
// memory, so it may not undershoot by more than 5%; nor overshoot by more than 15%.
import { strict as assert } from 'assert';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { exportHfDecoder } from './hfDecoder';
import { tempDir } from '../helpers/tempDir';

const ROOT = path.resolve(__dirname, '../..');
const UNDER = 0.95;
const OVER = 1.15;
// VmHWM is Linux's (/proc); elsewhere these tests have nothing to measure.
const linux = fs.existsSync('/proc/self/status');

function assertClose(estimateMB: number, peakMB: number, what: string): void {
  assert.ok(estimateMB >= UNDER * peakMB, `${what}: estimate ${estimateMB} MB is more than ${Math.round((1 - UNDER) * 100)}% below the measured peak ${peakMB} MB`);
  assert.ok(estimateMB <= OVER * peakMB, `${what}: estimate ${estimateMB} MB is more than ${Math.round((OVER - 1) * 100)}% above the measured peak ${peakMB} MB`);
}

describe('memory: the estimate against measured peaks of real steps', function () {
  this.timeout(300_000);
  before(function () {
    if (!linux) this.skip();
  });

  // 0.01B parameters, vocab 8k: activations and the loss are about half of the peak.
  const CONFIG = { vocab_size: 8000, hidden_size: 256, intermediate_size: 1024, num_hidden_layers: 2, num_attention_heads: 8, num_key_value_heads: 2 };
  for (const checkpointing of [false, true]) {
    it(`Qwen2 decoder 8x128, Lily on q/v, chunked loss${checkpointing ? ', gradient checkpointing' : ''}: estimate within -5%/+15% of VmHWM`, () => {
      const dir = exportHfDecoder('qwen2', [8, 128], CONFIG);
      const options = JSON.stringify({ shareFrozenWeights: true, gradientCheckpointing: checkpointing });
      const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/memory/stepWorker.ts'), dir, '--batch', '8', '--seq', '128', '--steps', '2', '--threads', '2', '--options', options], { encoding: 'utf8', cwd: ROOT });
      assert.equal(r.status, 0, r.stderr);
      const row = JSON.parse(r.stdout.trim().split('\n').pop()!) as { peak_rss_mb: number; estimate_mb: Record<string, number> };
      const e = row.estimate_mb;
      assert.ok(e.activations > 0 && e.graphs > 0 && e.weights > 0, JSON.stringify(e));
      assertClose(e.total, row.peak_rss_mb, `stepWorker ${options}`);
    });
  }

  it('the demo through `lily train` (bin/lily.js: train + eval sessions, data pipeline): the dry run\'s estimate within -5%/+15% of the run\'s VmHWM', async () => {
    const lily = path.join(ROOT, 'bin/lily.js');
    if (!fs.existsSync(path.join(ROOT, 'out/native-runtime/cli.js'))) throw new Error('out/native-runtime/cli.js is missing: run `npm run build` before this test (it measures the built CLI users run)');
    const config = path.join(ROOT, 'examples/sentiment/sentiment.lily.json');
    const dry = spawnSync(process.execPath, [lily, 'train', config, '--dry-run', '--json'], { encoding: 'utf8', cwd: ROOT });
    assert.equal(dry.status, 0, dry.stderr);
    const estimate = JSON.parse(dry.stdout.trim().split('\n').pop()!).estimate as Record<string, number>;
    const dir = tempDir('lily-measured-');
    const peakKB = await peakOf(process.execPath, [lily, 'train', config, '--max-steps', '3', '--run-dir', path.join(dir, 'run')]);
    assertClose(Math.round(estimate.total / 2 ** 20), Math.round(peakKB / 1024), 'lily train examples/sentiment');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

/** Runs a command to its end, reading its VmHWM (monotonic) every 10 ms while it lives; the last reading. */
function peakOf(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let peak = 0;
    child.stderr.on('data', (c) => { stderr += c; });
    const read = () => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]));
      } catch {
        // exited between two readings
      }
    };
    const timer = setInterval(read, 10);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      if (code !== 0) reject(new Error(`${args.join(' ')} exited with ${code}:\n${stderr}`));
      else resolve(peak);
    });
  });
}
