// scripts/memory/stream_decoder.py writes decoders too large to build in memory (the bench's
// Llama-7B-shaped row) by repeating the blocks of a two-layer export. Checked on a small Llama
// against a direct export of the same model by transformers (test/memory/stream_decoder_check.py):
// the same graph, the same logits as transformers' forward with the generated weights, and the
// same linear layers found by the engine.
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { findLinearLayers } from '../../native-runtime/adapters/targets';
import { loadModel } from '../../native-runtime/onnx/proto';
import { VENV_PYTHON } from './hfDecoder';
import { tempDir } from '../helpers/tempDir';

const ROOT = path.resolve(__dirname, '../..');

describe('memory: stream_decoder.py (decoders generated block by block)', function () {
  this.timeout(300_000);
  let dir = '';
  let check: {
    nodes: [number, number]; same_edges: boolean; loaded: number; not_loaded: string[]; unexpected: string[];
    max_logit_diff: number; max_logit: number; parameters: [number, number]; weight_std: number;
  };

  before(() => {
    dir = tempDir('lily-stream-decoder-');
    const r = spawnSync(VENV_PYTHON, [path.join(ROOT, 'test/memory/stream_decoder_check.py'), 'llama', '4', dir], {
      encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' },
    });
    assert.equal(r.status, 0, r.stderr);
    check = JSON.parse(r.stdout.trim().split('\n').pop()!);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a four-layer Llama generated from its two-layer twin has the graph of a direct export', () => {
    assert.equal(check.nodes[0], check.nodes[1]);
    assert.ok(check.same_edges, 'producer -> consumer edges differ from the direct export');
    assert.deepEqual(check.parameters, [check.parameters[1], check.parameters[1]]);
  });

  it('computes what transformers computes with the generated weights', () => {
    assert.deepEqual(check.not_loaded, [], 'every weight of the model class found in the ONNX file');
    assert.deepEqual(check.unexpected, []);
    assert.equal(check.loaded, 1 + 4 * 7 + 1, 'embedding, 7 matrices per block, head');
    assert.ok(check.max_logit > 0.1, `logits are not trivial (${check.max_logit})`);
    assert.ok(check.max_logit_diff < 1e-5 * Math.max(1, check.max_logit), `logits differ by ${check.max_logit_diff}`);
    assert.ok(Math.abs(check.weight_std - 0.05) < 0.005, `random weights drawn with std 0.05, got ${check.weight_std}`);
  });

  it('the engine finds the same linear layers, with the same module names, as in the direct export', () => {
    const layers = (sub: string) => findLinearLayers(loadModel(path.join(dir, sub, 'model.onnx'))).map((l) => `${l.module} ${l.d_in}x${l.d_out}`);
    const generated = layers('generated');
    assert.deepEqual(generated, layers('direct'));
    assert.ok(generated.includes('model.model.layers.3.self_attn.q_proj 64x64'), generated.join('\n'));
  });
});
