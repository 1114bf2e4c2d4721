// model.weights_dtype through the CLI on a decoder whose weights lie in an external data file
// (as large exports do): `lily train` quantizes them once (reading one weight at a time) and the
// next run takes them from the cache without reading them; the run's eval loss is what
// `lily eval` and the merged export (dequantized base + ΔW) compute on the same rounded base.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../native-runtime/cli';
import type { CliIO } from '../../native-runtime/cli/io';
import { isLazyTensor, loadModel } from '../../native-runtime/onnx/proto';
import { dequantize } from '../../native-runtime/quant/formats';
import { loadOrQuantize, quantizableWeights } from '../../native-runtime/quant/cache';
import { mulberry32 } from '../../native-runtime/adapters/init';
import { VENV_PYTHON } from '../memory/hfDecoder';

const ROOT = path.resolve(__dirname, '../..');

async function lily(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  const io: CliIO = { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, stderrIsTTY: false, columns: 100 };
  const code = await main(args, io, cwd);
  return { code, stdout, stderr };
}


/** transformers' Llama exported with external data by scripts/memory/hf_decoder.py (batch 2 x seq). */
function exportLlama(out: string, seq: number, config?: Record<string, unknown>): void {
  const r = spawnSync(VENV_PYTHON, [path.join(ROOT, 'scripts/memory/hf_decoder.py'), '--arch', 'llama', '--out', out, '--batch', '2', '--seq', String(seq), '--external-data', ...(config ? ['--config', JSON.stringify(config)] : [])], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  assert.equal(r.status, 0, r.stderr);
}

/** `n` JSONL records of `seq` random ids (a seeded stream per call of randomRows). */
function randomRows(seed: number, seq: number): (n: number) => string {
  const rnd = mulberry32(seed);
  return (n) => Array.from({ length: n }, () => JSON.stringify({ input_ids: Array.from({ length: seq }, () => Math.floor(rnd() * 512)), attention_mask: new Array(seq).fill(1) })).join('\n') + '\n';
}
describe('quant/CLI: weights_dtype int4 on an external-data decoder', function () {
  this.timeout(300_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lily-quant-cli-'));
  const S = 8;
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  before(() => {
    exportLlama(path.join(dir, 'm'), S);
    assert.ok(fs.existsSync(path.join(dir, 'm/model.onnx.data')));
    const rows = randomRows(4, S);
    fs.writeFileSync(path.join(dir, 'train.jsonl'), rows(16));
    fs.writeFileSync(path.join(dir, 'eval.jsonl'), rows(4));
    fs.writeFileSync(path.join(dir, 'dec.lily.json'), JSON.stringify({
      model: { path: 'm/model.onnx', task: 'causal-lm', weights_dtype: 'int4' },
      data: { train: 'train.jsonl', eval: 'eval.jsonl', max_length: S },
      adapter: { method: 'lily', target_modules: ['q_proj', 'v_proj'], r: 4, num_B: 2 },
      training: { batch_size: 2, max_steps: 4, eval_every: 4, lr: 0.01, log_every: 1 },
      runtime: { device: 'cpu', threads: 1 },
    }));
  });

  it('the deferred load reads each weight once, then the hash stamp and the cache; a touched data file is read again', () => {
    const file = path.join(dir, 'm/model.onnx');
    const model = loadModel(file, { lazyExternalBytes: 1024 });
    const candidates = quantizableWeights(model.graph);
    assert.ok(candidates.length > 0 && candidates.every((t) => isLazyTensor(t) && t.external), 'weights are left in the data file');
    const first = loadOrQuantize(file, model, 'int8');
    assert.equal(first.fromCache, false);
    // Overwrite one weight's bytes with zeros, keeping the file's size and times: the stamp
    // still matches, so the cached values come back (the float32 values were not read again).
    const t = candidates[0];
    const data = `${dir}/m/model.onnx.data`;
    const st = fs.statSync(data);
    const fd = fs.openSync(data, 'r+');
    fs.writeSync(fd, Buffer.alloc(t.external!.length), 0, t.external!.length, t.external!.offset);
    fs.closeSync(fd);
    fs.utimesSync(data, st.atime, st.mtime);
    const second = loadOrQuantize(file, loadModel(file, { lazyExternalBytes: 1024 }), 'int8');
    assert.equal(second.fromCache, true);
    assert.deepEqual(dequantize(second.weights.get(t.name)!), dequantize(first.weights.get(t.name)!));
    // A new modification time: read, hashed and quantized again (the zeros now show).
    fs.utimesSync(data, new Date(), new Date(Date.now() + 5000));
    const third = loadOrQuantize(file, loadModel(file, { lazyExternalBytes: 1024 }), 'int8');
    assert.equal(third.fromCache, false);
    assert.notEqual(third.hash, first.hash);
    assert.ok(dequantize(third.weights.get(t.name)!).every((v) => v === 0));
  });

  it('train quantizes once and caches; a second run reuses the cache; eval and the merged export use the same rounded base', async () => {
    const a = await lily(['train', 'dec.lily.json', '--run-dir', path.join(dir, 'run1')], dir);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout + a.stderr, /Frozen weights in int4: \d+ matrices, .* \(quantized now, cached at .*\.lily-cache/);
    const b = await lily(['train', 'dec.lily.json', '--run-dir', path.join(dir, 'run2')], dir);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout + b.stderr, /Frozen weights in int4: .*\(from the cache/);
    const lines = (run: string) => fs.readFileSync(path.join(dir, run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const losses = (run: string) => lines(run).filter((m) => m.type === 'train').map((m) => m.loss);
    assert.equal(losses('run1').length, 4);
    assert.deepEqual(losses('run2'), losses('run1'), 'the cached weights train the same run');
    const evalLine = lines('run1').filter((m) => m.type === 'eval').pop().metrics;
    const ev = await lily(['eval', path.join(dir, 'run1'), '--json'], dir);
    assert.equal(ev.code, 0, ev.stderr);
    const evLoss = JSON.parse(ev.stdout.trim().split('\n').pop()!).metrics.loss as number;
    assert.ok(Math.abs(evLoss - evalLine.loss) <= 1e-5 * Math.abs(evLoss), `lily eval ${evLoss} vs the run's ${evalLine.loss}`);
    const ex = await lily(['export', path.join(dir, 'run1'), '--format', 'merged-onnx', '--json'], dir);
    assert.equal(ex.code, 0, ex.stderr);
    const res = JSON.parse(ex.stdout.trim().split('\n').pop()!);
    assert.ok(res.metricDelta && Math.abs(res.metricDelta.loss) < 0.05 * Math.abs(evLoss), `merged vs dynamic: ${JSON.stringify(res.metricDelta)}`);
  });
});

describe('quant/CLI: a decoder with tied embeddings (the head reads the table: train/tiedHead.ts)', function () {
  this.timeout(300_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lily-quant-tied-'));
  const S = 8;
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  before(() => {
    exportLlama(path.join(dir, 'm'), S, { tie_word_embeddings: true });
    const rows = randomRows(6, S);
    fs.writeFileSync(path.join(dir, 'train.jsonl'), rows(8));
    fs.writeFileSync(path.join(dir, 'eval.jsonl'), rows(4));
    for (const dtype of ['float32', 'int4']) {
      fs.writeFileSync(path.join(dir, `${dtype}.lily.json`), JSON.stringify({
        model: { path: 'm/model.onnx', task: 'causal-lm', weights_dtype: dtype },
        data: { train: 'train.jsonl', eval: 'eval.jsonl', max_length: S },
        adapter: { method: 'lily', target_modules: ['q_proj', 'v_proj'], r: 4, num_B: 2 },
        training: { batch_size: 2, max_steps: 2, eval_every: 2, lr: 0.01, log_every: 1 },
        runtime: { device: 'cpu', threads: 1 },
      }));
    }
  });

  for (const dtype of ['float32', 'int4']) {
    it(`${dtype}: train reads the table as the head (quantized with int4); lily eval and the merged export compute the run's eval loss`, async () => {
      const run = path.join(dir, `run-${dtype}`);
      const a = await lily(['train', `${dtype}.lily.json`, '--run-dir', run], dir);
      assert.equal(a.code, 0, a.stderr);
      assert.match(a.stdout + a.stderr, /The output head \S+ equals the embedding table model\.model\.embed_tokens\.weight/);
      if (dtype === 'int4') assert.match(a.stdout + a.stderr, /Frozen weights in int4/);
      const evalLine = fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((m) => m.type === 'eval').pop().metrics;
      const ev = await lily(['eval', run, '--json'], dir);
      assert.equal(ev.code, 0, ev.stderr);
      const evLoss = JSON.parse(ev.stdout.trim().split('\n').pop()!).metrics.loss as number;
      assert.ok(Math.abs(evLoss - evalLine.loss) <= 1e-5 * Math.abs(evLoss), `lily eval ${evLoss} vs the run's ${evalLine.loss}`);
      const ex = await lily(['export', run, '--format', 'merged-onnx', '--json'], dir);
      assert.equal(ex.code, 0, ex.stderr);
      const res = JSON.parse(ex.stdout.trim().split('\n').pop()!);
      assert.ok(res.metricDelta && Math.abs(res.metricDelta.loss) < 0.05 * Math.abs(evLoss), `merged vs dynamic: ${JSON.stringify(res.metricDelta)}`);
    });
  }
});
