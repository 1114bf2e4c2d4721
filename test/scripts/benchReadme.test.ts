// `npm run bench`'s README block: only the text between the markers is replaced, and each goal
// line says met/missed from the rows themselves (bench/lib/table.mjs, bench/lib/readme.mjs).
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';

type Fn = (...args: unknown[]) => string;
let updateReadme: (file: string, report: object) => void;
let formatGoals: Fn, formatTable: Fn;

function benchRow(over: Record<string, unknown>) {
  return {
    row: 'cls-256x4', variant: 'buckets', padding: 'buckets 32/64/96/128', task: 'sequence-classification', model: { hidden_size: 256, num_hidden_layers: 4, intermediate_size: 1024, vocab_size: 30522 }, trainable_params: 1000,
    ours_ms: 100, peer_ms: 300, ours_cpu_ms: 190, peer_cpu_ms: 600, ours_real_tokens_per_s: 900, peer_real_tokens_per_s: 300, throughput_ratio: 3,
    ours_padding_fraction: 0.3, peer_padding_fraction: 0.25, ours_peak_rss_mb: 400, peer_peak_rss_mb: 600,
    first_loss: { ours_same_padding: 0.69, peer: 0.69 }, eval_loss: { ours: 0.68, peer: 0.68, gap: 1e-7, moved: 1e-3 },
    first_step_ms: 900, first_step_cpu_ms: 800, first_step_done_ms: 1500, first_step_breakdown_ms: { load: 100, build: 300, session: 500 }, extra_graphs: [],
    ...over,
  };
}

const report = (rows: object[], failed: object[] = []) => ({
  generated_at: '2026-12-06T05:00:00Z', duration_s: 600, command: 'node bench/run.mjs --readme',
  machine: { cpu_model: 'cpu', cpu_flags: [], cores: 2, memory_gb: 24, threads: 2, node: 'v20', onnxruntime_node: '1.30', torch: '2.13' },
  settings: { rounds: 5, compile: false }, load_average: { start: [0.1, 0.2, 0.3], end: [0.4, 0.5, 0.6], max_1min: 0.7 }, rows, failed,
});

describe('bench README block', () => {
  before(async () => {
    const lib = (name: string) => import(pathToFileURL(path.join(__dirname, '../../bench/lib', name)).href);
    ({ updateReadme } = await lib('readme.mjs'));
    ({ formatGoals, formatTable } = await lib('table.mjs'));
  });

  it('replaces only the text between the markers', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lily-bench-readme-'));
    try {
      const file = path.join(dir, 'README.md');
      fs.writeFileSync(file, 'before\n<!-- bench:results:start -->\nold table\n<!-- bench:results:end -->\nafter\n');
      updateReadme(file, report([benchRow({})]));
      const text = fs.readFileSync(file, 'utf8');
      assert.ok(text.startsWith('before\n<!-- bench:results:start -->\n'));
      assert.ok(text.endsWith('<!-- bench:results:end -->\nafter\n'));
      assert.ok(!text.includes('old table'));
      assert.match(text, /\| cls-256x4 \| buckets 32\/64\/96\/128 \| 100\.0 \| 300\.0 \|/);
      assert.match(text, /highest 1-minute value seen between rounds 0\.7/);
      fs.writeFileSync(file, 'no markers\n');
      assert.throws(() => updateReadme(file, report([benchRow({})])), /no <!-- bench:results:start -->/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says which goals are missed, from the rows', () => {
    const ok = formatGoals(report([benchRow({})]));
    assert.match(ok, /throughput ≥ 1\.5x the peer's at width ≥ 256\*\*, each size's fastest configuration with the default runtime settings \(`pack_weights: true` left out\): met at every size \(cls-256x4 3\.00x \(buckets 32\/64\/96\/128\)\)/);
    assert.match(ok, /Peak RSS no higher than the peer's\*\* \(whole process, training and two evals\): met in every row/);
    assert.match(ok, /First step within 3 s at the largest size\*\* \(cls-256x4[^)]*\): met, at most 900 ms/);
    const bad = formatGoals(report([benchRow({ throughput_ratio: 1.2, ours_peak_rss_mb: 700, first_step_ms: 3500 })]));
    assert.match(bad, /: missed at cls-256x4 \(cls-256x4 1\.20x \(buckets 32\/64\/96\/128\)\)\. Every row: cls-256x4 buckets 32\/64\/96\/128 1\.20x\./);
    assert.match(bad, /missed in cls-256x4 buckets 32\/64\/96\/128 \(700 vs 600 MB\)/);
    assert.match(bad, /: missed, at most 3500 ms/);
  });

  it('judges each size by its fastest variant, pack_weights true (opt-in) left out', () => {
    const rows = [
      benchRow({ throughput_ratio: 1.2 }),
      benchRow({ variant: 'packing', padding: 'packing', throughput_ratio: 1.4 }),
      benchRow({ variant: 'packing+packed', padding: 'packing, pack_weights true', throughput_ratio: 1.6 }),
      benchRow({ row: 'clm-512', variant: 'packing', padding: 'packing', task: 'causal-lm', model: { hidden_size: 512, num_hidden_layers: 8, intermediate_size: 1408, vocab_size: 32000 }, throughput_ratio: 1.55 }),
    ];
    const goals = formatGoals(report(rows));
    assert.match(goals, /fastest configuration with the default runtime settings \(`pack_weights: true` left out\): missed at cls-256x4 \(cls-256x4 1\.40x \(packing\); clm-512 1\.55x \(packing\)\)/);
    assert.match(goals, /Every row: .*cls-256x4 packing, pack_weights true 1\.60x/);
  });

  it('lists a failed row in the table', () => {
    const t = formatTable(report([benchRow({})], [{ row: 'clm-1024', error: 'worker exited | killed' }]));
    assert.match(t, /\| clm-1024 \| \*\*failed\*\*: worker exited \/ killed \|/);
  });
});
