// `lily export` writes models into the run directory, which VS Code watches and reads: saveModel
// must replace model.onnx and its external data file atomically (temp file, fsync, rename). A
// save that fails half-way leaves the previous files as they were, and no temp files behind.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { emptyGraph, floatTensor, type Model, type Tensor } from '../../native-runtime/onnx/ir';
import { loadModel, saveModel } from '../../native-runtime/onnx/proto';
import { tempDir } from '../helpers/tempDir';

/** A tensor whose data cannot be read: saving fails when it gets there (as a full disk would). */
function unreadable(name: string): Tensor {
  const t = { name, dtype: 'float32', dims: [2] } as Tensor;
  Object.defineProperty(t, 'data', { get() { throw new Error(`${name}: cannot read`); } });
  return t;
}

/** Identity(x) + w: one initializer `w` of `n` floats filled with `value`. */
function modelWith(n: number, value: number, extra: Tensor[] = []): Model {
  const g = emptyGraph('g');
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [n] });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: [n] });
  g.initializers.set('w', floatTensor('w', [n], new Float32Array(n).fill(value)));
  for (const t of extra) g.initializers.set(t.name, t);
  g.nodes.push({ name: 'add', opType: 'Add', domain: '', inputs: ['x', 'w'], outputs: ['y'], attrs: {} });
  return { graph: g, opsetImports: [{ domain: '', version: 17 }], irVersion: 8, producerName: 'test', metadata: {} };
}

describe('onnx: saveModel replaces files atomically', () => {
  it('a save that fails after writing external data leaves the previous model and data intact', () => {
    const dir = tempDir('lily-save-');
    const file = path.join(dir, 'model.onnx');
    saveModel(modelWith(4096, 1.5), file, { externalData: true });
    assert.ok(fs.existsSync(`${file}.data`));

    // `w` (16 KiB) goes to the data file first; then `bad` makes the save throw.
    assert.throws(() => saveModel(modelWith(4096, -7, [unreadable('bad')]), file, { externalData: true }), /bad: cannot read/);

    const w = loadModel(file).graph.initializers.get('w')!.data as Float32Array;
    assert.strictEqual(w.length, 4096);
    assert.ok(w.every((v) => v === 1.5), 'the previous weights are still readable through the previous model');
    assert.deepStrictEqual(fs.readdirSync(dir).sort(), ['model.onnx', 'model.onnx.data'], 'no temp files are left');

    // A good save replaces both.
    saveModel(modelWith(4096, 2.5), file, { externalData: true });
    assert.ok((loadModel(file).graph.initializers.get('w')!.data as Float32Array).every((v) => v === 2.5));
    assert.deepStrictEqual(fs.readdirSync(dir).sort(), ['model.onnx', 'model.onnx.data']);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a reader that has the previous files open keeps reading them whole (replaced by rename, not rewritten)', () => {
    const dir = tempDir('lily-save-');
    const file = path.join(dir, 'model.onnx');
    for (const externalData of [false, true]) {
      saveModel(modelWith(4096, 3), file, { externalData });
      const files = externalData ? [file, `${file}.data`] : [file];
      const before = files.map((f) => fs.readFileSync(f));
      const fds = files.map((f) => fs.openSync(f, 'r'));
      saveModel(modelWith(4096, 4), file, { externalData });
      fds.forEach((fd, k) => {
        const seen = Buffer.alloc(before[k].length + 16);
        const n = fs.readSync(fd, seen, 0, seen.length, 0);
        fs.closeSync(fd);
        assert.deepStrictEqual(seen.subarray(0, n), before[k], `${files[k]} changed under an open reader`);
      });
      assert.ok((loadModel(file).graph.initializers.get('w')!.data as Float32Array).every((v) => v === 4));
      fs.rmSync(`${file}.data`, { force: true });
    }
    assert.deepStrictEqual(fs.readdirSync(dir), ['model.onnx'], 'no temp files are left');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
