// Issue #11 item 4: decoder exports with a KV cache. optimum's default for decoders
// (text-generation-with-past) adds inputs past_key_values.N.key/value and an attention mask over
// past + sequence; the data pipeline used to ask the records for them ("field past_key_values.0.key
// ... is missing from the record"). Training binds them to an empty past, so the with-past export
// of a model must train exactly like its export without the cache. A merged decoder
// (use_cache_branch) is refused with the export to use instead (exit 2).
import * as assert from 'assert';
import * as path from 'path';
import { loadModel } from '../../native-runtime/onnx/proto';
import { assertSameLosses, handModels, thirdPartyModels, trainToy } from './models';

const LM = { task: 'causal-lm', labels: undefined };
const ADAPTER = { target_modules: ['c_attn'], modules_to_save: [] };

describe('third-party ONNX: decoder exports with a KV cache', function () {
  this.timeout(300_000);
  let dirs: Record<string, string>;
  before(() => { dirs = thirdPartyModels(['gpt2-optimum@18', 'gpt2-optimum-past@18']); });

  it("optimum's text-generation-with-past GPT-2 trains with the losses of its text-generation export", async () => {
    const inputs = loadModel(path.join(dirs['gpt2-optimum-past@18'], 'model.onnx')).graph.inputs.map((i) => i.name);
    assert.ok(inputs.includes('past_key_values.0.key') && inputs.includes('past_key_values.1.value'), `inputs: ${inputs}`);
    const plain = await trainToy(dirs['gpt2-optimum@18'], ADAPTER, 3, LM);
    assert.strictEqual(plain.code, 0, plain.stderr);
    const past = await trainToy(dirs['gpt2-optimum-past@18'], ADAPTER, 3, LM);
    assert.strictEqual(past.code, 0, past.stderr);
    assert.strictEqual(plain.losses.length, 3);
    assertSameLosses(past.losses, plain.losses, 'with past vs without');
  });

  it('a merged decoder (use_cache_branch input) exits 2 naming the export to use', async () => {
    const dir = handModels(['use-cache-branch'])['use-cache-branch'];
    const r = await trainToy(dir, { target_modules: ['query'] });
    assert.strictEqual(r.code, 2, r.stderr);
    assert.match(r.stderr, /model\.path: .*use_cache_branch.*--task text-generation OUT` \(not text-generation-with-past\)/);
    assert.doesNotMatch(r.stderr, /onnxruntime/i);
  });
});
