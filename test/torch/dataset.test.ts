// The torch backend's tokenized data: written in chunks straight to its place in the file (the
// same bytes as writing it whole), read memory-mapped by the Python trainer row by row, kept in a
// cache under output.dir that the run directory only names (dataset.json), not copied per run.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { loadConfig } from '../../native-runtime/config/validate';
import { encodeSafetensors, type SafetensorsData, type TensorInput } from '../../native-runtime/io/safetensors';
import { torchModelInputs, writeTokenizedData } from '../../native-runtime/torch/dataset';
import { collate } from '../../native-runtime/train/data/batch';
import { openData } from '../../native-runtime/train/data/pipeline';
import { parityRuns, PYTHON, torchFixture, writeConfig } from './fixture';
import { tempDir } from '../helpers/tempDir';

describe('torch backend: tokenized data', function () {
  this.timeout(600_000);

  it('writes chunk by chunk the same bytes as the whole set at once, and Python reads the rows back', () => {
    const file = writeConfig('dataset-write', 'torch');
    const cfg = loadConfig(file, undefined, { cwd: torchFixture() });
    const modelInputs = torchModelInputs(undefined, JSON.parse(fs.readFileSync(path.join(torchFixture(), 'hf', 'config.json'), 'utf8')));
    const data = openData(cfg, { modelInputs });
    const dir = tempDir('lily-dataset-');
    try {
      const ds = data.train;
      assert.strictEqual(ds.size, 64);
      const examples = Array.from({ length: ds.size }, (_, i) => ds.example(i, data.scheme));
      const whole = new Map<string, TensorInput>();
      for (const [name, t] of Object.entries(collate(examples, modelInputs, data.scheme).tensors)) whole.set(name, { shape: t.dims as number[], data: t.data as SafetensorsData });
      whole.set('tokens', { shape: [ds.size], data: BigInt64Array.from(examples.map((e) => BigInt(e.tokens))) });
      const expected = Buffer.from(encodeSafetensors(whole, { inputs: JSON.stringify(modelInputs.map((m) => m.name)) }));
      for (const chunk of [5, 64, 1024]) {
        const out = path.join(dir, `train-${chunk}.safetensors`);
        writeTokenizedData(out, ds, data.scheme, modelInputs, chunk);
        assert.ok(fs.readFileSync(out).equals(expected), `chunks of ${chunk}: the file differs from the whole-set encoding`);
      }
      // The trainer's reader (memory-mapped) gives the rows of any index list.
      const indices = [63, 0, 17, 5, 5];
      const code = `import json,sys\nsys.path.insert(0, ${JSON.stringify(path.resolve(__dirname, '../../native-runtime/torch'))})\nfrom lily_torch.data import TokenizedData\n` +
        `d = TokenizedData(${JSON.stringify(path.join(dir, 'train-5.safetensors'))})\nb = d.batch(${JSON.stringify(indices)})\n` +
        `print(json.dumps({"size": d.size, "inputs": {k: v.tolist() for k, v in b["inputs"].items()}, "labels": b["labels"].tolist(), "tokens": b["tokens"]}))`;
      const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8' });
      assert.strictEqual(r.status, 0, r.stderr);
      const py = JSON.parse(r.stdout) as { size: number; inputs: Record<string, number[][]>; labels: number[]; tokens: number };
      assert.strictEqual(py.size, 64);
      for (const m of modelInputs) {
        const t = whole.get(m.name)!;
        const width = t.shape[1];
        assert.deepStrictEqual(py.inputs[m.name], indices.map((i) => Array.from(t.data.slice(i * width, (i + 1) * width) as BigInt64Array, Number)), m.name);
      }
      assert.deepStrictEqual(py.labels, indices.map((i) => Number((whole.get('labels')!.data as BigInt64Array)[i])));
      assert.strictEqual(py.tokens, indices.reduce((s, i) => s + examples[i].tokens, 0));
    } finally {
      data.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a run names its tokenized data in dataset.json (a cache under output.dir) instead of holding a copy', () => {
    const { torchRun } = parityRuns();
    assert.ok(!fs.existsSync(path.join(torchRun, 'dataset')), `${torchRun} holds a dataset/ copy`);
    const ref = JSON.parse(fs.readFileSync(path.join(torchRun, 'dataset.json'), 'utf8')) as { train: string; eval?: string };
    const outputDir = (JSON.parse(fs.readFileSync(path.join(torchRun, 'config.json'), 'utf8')) as { output: { dir: string } }).output.dir;
    for (const f of [ref.train, ref.eval!]) {
      assert.ok(f.startsWith(path.join(outputDir, '.datasets') + path.sep), f);
      assert.ok(fs.existsSync(f), f);
    }
  });
});
