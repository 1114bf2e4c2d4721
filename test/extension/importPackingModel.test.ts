// "Import Hugging Face Model" asks for a packed export exactly for the model types `lily import
// --packing` exports (native-runtime/config/packedExports.ts), says why it does not for the others of a task
// packing serves, and passes the answer to `lily import` as --packing.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { PACKED_EXPORTS } from '../../native-runtime/config/packedExports';
import { exportChoiceItems, importCliArgs, packingOffer } from '../../src/importPackingModel';
import { tempDir } from '../helpers/tempDir';

const ARCH: Record<string, string> = { 'sequence-classification': 'ForSequenceClassification', 'causal-lm': 'ForCausalLM' };

function hfFolder(root: string, name: string, config: object): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

describe('import: packed export offer', () => {
  const root = tempDir('lily-import-offer-');
  const noCache = { HF_HUB_CACHE: path.join(root, 'empty-hub') };

  it('offers "Standard export" then "Packed export" for every model type in the CLI\'s list', () => {
    for (const family of PACKED_EXPORTS) {
      for (const modelType of Object.keys(family.modelTypes)) {
        const dir = hfFolder(root, `${modelType}-${family.task}`, { architectures: [`X${ARCH[family.task]}`], model_type: modelType, id2label: { 0: 'neg', 1: 'pos' } });
        const offer = packingOffer(dir, root, noCache);
        assert.ok(offer.offer, `${modelType} (${family.task}): not offered`);
        assert.strictEqual(offer.title, `Export ${path.basename(dir)} (${modelType}, ${family.kind}) for packing?`);
        assert.deepStrictEqual(offer.items.map((i) => [i.label, i.packing]), [['Standard export', false], ['Packed export', true]]);
        assert.match(offer.items[1].description, /data\.packing/);
      }
    }
  });

  it('the packed item says what changes: a classifier\'s also scores each document', () => {
    const [cls, clm] = ['sequence-classification', 'causal-lm'].map((t) => exportChoiceItems(PACKED_EXPORTS.find((f) => f.task === t)!)[1].detail);
    for (const d of [cls, clm]) assert.match(d, /attends only to itself, with its own positions/);
    assert.match(cls, /document_starts/);
    assert.doesNotMatch(clm, /document_starts/);
  });

  it('does not ask for model types without a packed export, and notes why for a task packing serves', () => {
    const distil = packingOffer(hfFolder(root, 'distil', { architectures: ['DistilBertForSequenceClassification'], model_type: 'distilbert', id2label: { 0: 'a', 1: 'b' } }), root, noCache);
    assert.deepStrictEqual(distil, { offer: false, note: 'no packed export offered: model_type "distilbert" has none (sequence classifiers with one: BERT, RoBERTa, ELECTRA)' });
    const gpt2 = packingOffer(hfFolder(root, 'gpt2', { architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' }), root, noCache);
    assert.deepStrictEqual(gpt2, { offer: false, note: 'no packed export offered: model_type "gpt2" has none (causal LMs with one: Llama, Qwen2, Mistral)' });
    // Tasks packing does not serve: nothing to ask, nothing to note.
    const regression = hfFolder(root, 'bert-regression', { architectures: ['BertForSequenceClassification'], model_type: 'bert', num_labels: 1 });
    const tokens = hfFolder(root, 'bert-tokens', { architectures: ['BertForTokenClassification'], model_type: 'bert' });
    const vit = hfFolder(root, 'vit', { architectures: ['ViTForImageClassification'], model_type: 'vit', id2label: { 0: 'a', 1: 'b' } });
    for (const dir of [regression, tokens, vit]) assert.deepStrictEqual(packingOffer(dir, root, noCache), { offer: false }, dir);
    // Unreadable: `lily import` reports it with file and field.
    assert.deepStrictEqual(packingOffer(path.join(root, 'missing'), root, noCache), { offer: false });
    fs.mkdirSync(path.join(root, 'broken'));
    fs.writeFileSync(path.join(root, 'broken', 'config.json'), '{"model_type": ');
    assert.deepStrictEqual(packingOffer(path.join(root, 'broken'), root, noCache), { offer: false });
  });

  it('names a model from the hub cache by its id', () => {
    const hub = path.join(root, 'hub');
    const repo = path.join(hub, 'models--acme--tiny-llama');
    hfFolder(path.join(repo, 'snapshots'), 'abc123', { architectures: ['LlamaForCausalLM'], model_type: 'llama' });
    fs.mkdirSync(path.join(repo, 'refs'), { recursive: true });
    fs.writeFileSync(path.join(repo, 'refs', 'main'), 'abc123');
    const offer = packingOffer('acme/tiny-llama', root, { HF_HUB_CACHE: hub });
    assert.ok(offer.offer);
    assert.strictEqual(offer.title, 'Export acme/tiny-llama (llama, causal LM) for packing?');
  });

  it('passes the answer to lily import as --packing', () => {
    const base = { cli: 'bin/lily.js', source: 'm', python: 'py' };
    assert.deepStrictEqual(importCliArgs(base), ['bin/lily.js', 'import', 'm', '--json', '--no-config', '--python', 'py']);
    assert.deepStrictEqual(importCliArgs({ ...base, out: 'o', force: true, packing: true }).slice(7), ['--out', 'o', '--force', '--packing']);
  });
});
