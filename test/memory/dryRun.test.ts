// `lily train --dry-run` and the refusal of a run whose memory estimate does not fit, through
// the real CLI on the bundled demo (examples/sentiment). LILY_MEMORY_LIMIT_MB stands in for a
// small machine.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tempDir } from '../helpers/tempDir';

const ROOT = path.resolve(__dirname, '../..');
const CONFIG = path.join(ROOT, 'examples/sentiment/sentiment.lily.json');

function lily(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['-r', 'tsx/cjs', path.join(ROOT, 'test/cli/runCli.ts'), ...args], {
    encoding: 'utf8', cwd: ROOT, env: { ...process.env, ...env },
  });
}

describe('memory: lily train --dry-run and the memory check', function () {
  this.timeout(120_000);

  it('--dry-run prints every part of the estimate, says it fits, exits 0 and writes no run', () => {
    const dir = tempDir('lily-dry-');
    const r = lily(['train', CONFIG, '--dry-run', '--run-dir', path.join(dir, 'run')]);
    assert.equal(r.status, 0, r.stderr);
    for (const part of ['weights', 'activations', 'logits', 'adapter', 'optimizer', 'graphs', 'runtime', 'total', 'available']) {
      assert.match(r.stdout, new RegExp(`^  ${part} +\\d+ MB`, 'm'), `${part} row in:\n${r.stdout}`);
    }
    assert.match(r.stdout, /^fits$/m);
    assert.deepEqual(fs.readdirSync(dir), [], 'a dry run creates nothing');
    const j = lily(['train', CONFIG, '--dry-run', '--json']);
    const plan = JSON.parse(j.stdout.trim().split('\n').pop()!);
    assert.equal(plan.event, 'memory');
    const e = plan.estimate;
    assert.equal(e.total, e.weights + e.activations + e.logits + e.adapter + e.optimizer + e.graphs + e.runtime);
    // padding max_length: one length, so the train and eval graphs of that length only.
    assert.ok(e.weights > 0 && e.activations > 0 && e.adapter > 0 && e.optimizer > 0 && e.graphs > 0, JSON.stringify(e));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('over the available memory: train refuses with exit 2 before creating the run, naming options that fit', () => {
    const dir = tempDir('lily-refuse-');
    const j = JSON.parse(lily(['train', CONFIG, '--dry-run', '--json']).stdout.trim().split('\n').pop()!);
    // Between the fixed parts and the total: a smaller batch fits, this one does not.
    const fixed = j.estimate.total - j.estimate.activations - j.estimate.logits;
    const limitMB = String(Math.ceil((fixed + j.estimate.activations * 0.3) / 0.9 / 2 ** 20));
    const dry = lily(['train', CONFIG, '--dry-run'], { LILY_MEMORY_LIMIT_MB: limitMB });
    assert.equal(dry.status, 2, dry.stdout + dry.stderr);
    assert.match(dry.stdout, /does not fit/);
    const run = path.join(dir, 'run');
    const r = lily(['train', CONFIG, '--max-steps', '1', '--run-dir', run], { LILY_MEMORY_LIMIT_MB: limitMB });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /sentiment\.lily\.json: the run needs about \d+ MB \(weights \d+ MB, activations \d+ MB, logits/);
    const m = /training\.batch_size (\d+) \(now (\d+)\) would fit/.exec(r.stderr);
    assert.ok(m, r.stderr);
    assert.ok(Number(m[1]) >= 1 && Number(m[1]) < Number(m[2]));
    assert.ok(!fs.existsSync(run), 'nothing was created');
    const forced = lily(['train', CONFIG, '--max-steps', '1', '--run-dir', run, '--ignore-memory-estimate'], { LILY_MEMORY_LIMIT_MB: limitMB });
    assert.equal(forced.status, 0, forced.stderr);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('includes gradient checkpointing: with it off the dry run also gives the checkpointed estimate, which a config with it on gets', () => {
    const off = JSON.parse(lily(['train', CONFIG, '--dry-run', '--json']).stdout.trim().split('\n').pop()!);
    assert.equal(off.gradientCheckpointing, false);
    assert.ok(off.withCheckpointing, 'the checkpointed estimate is given');
    assert.ok(off.withCheckpointing.activations < off.estimate.activations, `activations ${off.withCheckpointing.activations} with vs ${off.estimate.activations} without`);
    // Only the recomputation's few scalar constants add to the weights.
    assert.ok(Math.abs(off.withCheckpointing.weights - off.estimate.weights) < 65536, `weights ${off.withCheckpointing.weights} vs ${off.estimate.weights}`);
    const text = lily(['train', CONFIG, '--dry-run']).stdout;
    assert.match(text, /gradient checkpointing off/);
    assert.match(text, /^with training\.gradient_checkpointing true: total \d+ MB \(activations \d+ MB instead of \d+ MB/m);
    // The same config with checkpointing on (paths made absolute in a copy).
    const dir = tempDir('lily-ckpt-');
    const cfg = JSON.parse(fs.readFileSync(CONFIG, 'utf8'));
    const demo = path.dirname(CONFIG);
    for (const k of ['path', 'tokenizer'] as const) cfg.model[k] = path.join(demo, cfg.model[k]);
    for (const k of ['train', 'eval'] as const) cfg.data[k] = path.join(demo, cfg.data[k]);
    cfg.training.gradient_checkpointing = true;
    const file = path.join(dir, 'ckpt.lily.json');
    fs.writeFileSync(file, JSON.stringify(cfg));
    const on = JSON.parse(lily(['train', file, '--dry-run', '--json']).stdout.trim().split('\n').pop()!);
    assert.equal(on.gradientCheckpointing, true);
    assert.equal(on.withCheckpointing, undefined);
    assert.deepEqual(on.estimate, off.withCheckpointing);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('several lengths (buckets, longest): estimated at max_length, plus each further length\'s graph', () => {
    const dir = tempDir('lily-buckets-dry-');
    const cfg = JSON.parse(fs.readFileSync(CONFIG, 'utf8'));
    const demo = path.dirname(CONFIG);
    for (const k of ['path', 'tokenizer'] as const) cfg.model[k] = path.join(demo, cfg.model[k]);
    for (const k of ['train', 'eval'] as const) cfg.data[k] = path.join(demo, cfg.data[k]);
    const plan = (padding: string) => {
      const file = path.join(dir, `${padding}.lily.json`);
      fs.writeFileSync(file, JSON.stringify({ ...cfg, data: { ...cfg.data, padding } }));
      const r = lily(['train', file, '--dry-run', '--json']);
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout.trim().split('\n').pop()!);
    };
    const full = plan('max_length'), buckets = plan('buckets'), longest = plan('longest');
    // The demo's first batch is shorter than max_length 32: the estimate is still for 32.
    for (const p of [full, buckets, longest]) assert.deepEqual(p.inputShapes.input_ids, [cfg.training.batch_size, cfg.data.max_length]);
    assert.equal(buckets.estimate.activations, full.estimate.activations);
    assert.equal(buckets.estimate.logits, full.estimate.logits);
    // Default buckets at max_length 32: 16, 24, 32 (two graphs beyond the first); longest: a
    // graph for every length up to 32 (31 beyond the first), the same bytes each, on top of
    // the first length's graphs that every run has.
    assert.ok(full.estimate.graphs > 0);
    assert.ok(buckets.estimate.graphs > full.estimate.graphs);
    assert.ok(Math.abs((longest.estimate.graphs - full.estimate.graphs) * 2 - (buckets.estimate.graphs - full.estimate.graphs) * 31) <= 31, `graphs: full ${full.estimate.graphs}, buckets ${buckets.estimate.graphs}, longest ${longest.estimate.graphs}`);
    for (const p of [buckets, longest]) {
      const e = p.estimate;
      assert.equal(e.total, e.weights + e.activations + e.logits + e.adapter + e.optimizer + e.graphs + e.runtime);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
