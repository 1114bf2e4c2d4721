// data.max_length beyond the model's position table (issue 13, item 3). On the oracle's encoder
// (64 positions) a longer max_length failed with exit 1 and onnxruntime's `specialize: ... Node
// (/embeddings/Add) ... Incompatible dimensions`; on the GPT-like decoder, `Gather ... indices
// element out of data bounds`. Now: exit 2 naming data.max_length and the limit; an unset
// max_length becomes min(128, limit), and the run says so.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { loadModel } from '../../native-runtime/onnx/proto';
import { positionLimit } from '../../native-runtime/onnx/positionLimit';
import { lily, makeWorkspace, oracleModel, tinyEncoder } from '../cli/workspace';
import { recordBadInput } from './ledger';

const decoder = () => oracleModel('decoder', {});
const lmSettings = { model: { task: 'causal-lm' as const, labels: undefined }, adapter: { target_modules: ['q_proj', 'v_proj'], modules_to_save: [] } };

describe('reliability: data.max_length vs the model\'s positions', function () {
  this.timeout(120000);

  it('reads the limit from the position-embedding table of both oracle models', () => {
    assert.deepStrictEqual(positionLimit(loadModel(path.join(tinyEncoder(), 'model.onnx'))), { maxPositions: 64, table: 'embeddings.position_embeddings.weight' });
    const dec = positionLimit(loadModel(path.join(decoder(), 'model.onnx')));
    assert.ok(dec && dec.maxPositions > 0 && /pos|wpe/i.test(dec.table), JSON.stringify(dec));
  });

  for (const maxLength of [65, 512]) {
    it(`encoder, max_length ${maxLength}: exit 2 naming data.max_length and 64, no run directory`, async () => {
      const ws = makeWorkspace({ data: { max_length: maxLength }, training: { max_steps: 1 } });
      const r = await lily(['train', ws.config], ws.dir);
      assert.strictEqual(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`tiny\\.lily\\.json: data\\.max_length: ${maxLength} is longer than the model takes: .*model\\.onnx has 64 positions \\(embeddings\\.position_embeddings\\.weight\\); set data\\.max_length to at most 64`));
      assert.doesNotMatch(r.stderr, /onnxruntime|ShapeInferenceError|Incompatible dimensions|out of data bounds/);
      assert.ok(!fs.existsSync(ws.runsDir), 'invalid input leaves no run directory');
      recordBadInput('config', `data.max_length ${maxLength} on a 64-position encoder`, 'exit 2 naming the field and limit');
    });
  }

  it('decoder, max_length one past its table: exit 2 instead of Gather out of bounds', async () => {
    const limit = positionLimit(loadModel(path.join(decoder(), 'model.onnx')))!.maxPositions;
    const ws = makeWorkspace({ ...lmSettings, data: { max_length: limit + 1 }, training: { max_steps: 1 } }, { modelDir: decoder() });
    const r = await lily(['train', ws.config], ws.dir);
    assert.strictEqual(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`data\\.max_length: ${limit + 1} is longer than the model takes: .* has ${limit} positions`));
    // The limit itself is usable: the table was read right.
    const ok = makeWorkspace({ ...lmSettings, data: { max_length: limit }, training: { max_steps: 1, eval_every: 1 } }, { modelDir: decoder() });
    const done = await lily(['train', ok.config], ok.dir);
    assert.strictEqual(done.code, 0, done.stderr);
    recordBadInput('config', 'data.max_length one past the decoder\'s positions', 'exit 2 naming the field and limit');
  });

  it('max_length exactly the limit trains; unset, it defaults to min(128, 64) = 64 and says so', async () => {
    const exact = makeWorkspace({ data: { max_length: 64 }, training: { max_steps: 1, eval_every: 1 } });
    assert.strictEqual((await lily(['train', exact.config], exact.dir)).code, 0);

    const ws = makeWorkspace({ training: { max_steps: 1, eval_every: 1 } });
    const cfg = JSON.parse(fs.readFileSync(ws.config, 'utf8'));
    delete cfg.data.max_length;
    fs.writeFileSync(ws.config, JSON.stringify(cfg));
    const runDir = path.join(ws.dir, 'run');
    const r = await lily(['train', ws.config, '--run-dir', runDir], ws.dir);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /data\.max_length is not set: using 64, the model's number of positions \(embeddings\.position_embeddings\.weight\), instead of the default 128/);
    assert.strictEqual(JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')).data.max_length, 64, 'the run records what it used');
  });
});
