// What `lily import` reads without Python: where the hub cache is (as huggingface_hub finds it),
// the task an architecture implies, labels from id2label, and the parameter count that sizes the
// memory check (exact, from safetensors headers).
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chooseTask, exportMemory, hubCacheDir, labelsOf, parameterCount } from '../../native-runtime/cli/hfModel';
import { InputError } from '../../native-runtime/errors';
import { writeSafetensors } from '../../native-runtime/io/safetensors';
import { tempDir } from '../helpers/tempDir';

describe('cli: Hugging Face model folders (hfModel)', () => {
  it('finds the hub cache as huggingface_hub does: HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME or ~/.cache', () => {
    assert.strictEqual(hubCacheDir({ HF_HUB_CACHE: '/a/hub', HF_HOME: '/b' }), '/a/hub');
    assert.strictEqual(hubCacheDir({ HF_HOME: '/b' }), '/b/hub');
    assert.strictEqual(hubCacheDir({ XDG_CACHE_HOME: '/x' }), '/x/huggingface/hub');
    assert.strictEqual(hubCacheDir({}), path.join(os.homedir(), '.cache', 'huggingface', 'hub'));
  });

  it('chooses the task from architectures (regression from problem_type or a single label; --task wins)', () => {
    const f = 'config.json';
    assert.deepStrictEqual(chooseTask({ architectures: ['RobertaForSequenceClassification'], id2label: { 0: 'a', 1: 'b' } }, f),
      { architecture: 'RobertaForSequenceClassification', task: 'sequence-classification', optimumTask: 'text-classification' });
    assert.strictEqual(chooseTask({ architectures: ['BertForSequenceClassification'], problem_type: 'regression' }, f).task, 'regression');
    assert.strictEqual(chooseTask({ architectures: ['BertForSequenceClassification'], id2label: { 0: 'LABEL_0' } }, f).task, 'regression');
    assert.strictEqual(chooseTask({ architectures: ['DistilBertForTokenClassification'] }, f).optimumTask, 'token-classification');
    assert.deepStrictEqual(chooseTask({ architectures: ['GPT2LMHeadModel'] }, f).optimumTask, 'text-generation', 'no -with-past: no KV cache');
    assert.strictEqual(chooseTask({ architectures: ['Qwen2ForCausalLM'] }, f).task, 'causal-lm');
    assert.strictEqual(chooseTask({ architectures: ['BertForMaskedLM'] }, f, 'causal-lm').task, 'causal-lm');
    assert.deepStrictEqual(chooseTask({ architectures: ['ViTForImageClassification'], id2label: { 0: 'cat', 1: 'dog' } }, f),
      { architecture: 'ViTForImageClassification', task: 'sequence-classification', optimumTask: 'image-classification' });
    assert.throws(() => chooseTask({ model_type: 'bert' }, f), (e: unknown) => e instanceof InputError && /field "architectures": missing.*pass --task/.test(e.message));
    assert.throws(() => chooseTask({ architectures: ['T5ForConditionalGeneration'] }, f), /T5ForConditionalGeneration has no head Lily can train/);
  });

  it('takes labels from id2label in id order, dropping transformers\' LABEL_i placeholders', () => {
    assert.deepStrictEqual(labelsOf({ id2label: { 1: 'pos', 0: 'neg', 2: 'mixed' } }), { numLabels: 3, labels: ['neg', 'pos', 'mixed'] });
    assert.deepStrictEqual(labelsOf({ id2label: { 0: 'LABEL_0', 1: 'LABEL_1' } }), { numLabels: 2 });
    assert.deepStrictEqual(labelsOf({ num_labels: 4 }), { numLabels: 4 });
  });

  it('counts parameters from safetensors headers (not file sizes) and sizes the export memory from them', () => {
    const dir = tempDir('lily-hf-params-');
    writeSafetensors(path.join(dir, 'model-00001-of-00002.safetensors'), { a: { dtype: 'F32', shape: [3, 4], data: new Float32Array(12) } });
    writeSafetensors(path.join(dir, 'model-00002-of-00002.safetensors'), { b: { dtype: 'F32', shape: [5], data: new Float32Array(5) } });
    assert.strictEqual(parameterCount(dir), 17);
    assert.strictEqual(exportMemory(dir).needed, 17 * 4 * 2 + 1024 ** 3);
  });
});
