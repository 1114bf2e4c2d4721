// The bundled demo (examples/sentiment, made by scripts/make-demo.py): its files load with the
// libraries the engine uses and fit together (tokenizer ids within the model's vocabulary,
// labels as the config names them), and it stays small.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { Tokenizer } from '@huggingface/tokenizers';
import { validateConfigText } from '../../native-runtime/config/validate';
import { loadModel } from '../../native-runtime/onnx/proto';

const DIR = path.resolve(__dirname, '../../examples/sentiment');

interface Rec { text: string; label: string }

function records(file: string): Rec[] {
  return fs.readFileSync(path.join(DIR, file), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Rec);
}

describe('demo: examples/sentiment', () => {
  const tokJson = JSON.parse(fs.readFileSync(path.join(DIR, 'tokenizer.json'), 'utf8'));
  const tokenizer = new Tokenizer(tokJson, {});
  const vocab = tokJson.model.vocab as Record<string, number>;

  it('is at most 10 MB', () => {
    const total = fs.readdirSync(DIR).reduce((s, f) => s + fs.statSync(path.join(DIR, f)).size, 0);
    assert.ok(total <= 10 * 1024 * 1024, `${total} bytes`);
  });

  it('the config validates against the schema', () => {
    const file = path.join(DIR, 'sentiment.lily.json');
    assert.deepStrictEqual(validateConfigText(fs.readFileSync(file, 'utf8'), file), []);
  });

  it('tokenizer.json loads in @huggingface/tokenizers and adds [CLS] ... [SEP]', () => {
    const e = tokenizer.encode('The movie was NOT good, but the ending was great.');
    assert.deepStrictEqual(e.tokens, ['[CLS]', 'the', 'movie', 'was', 'not', 'good', ',', 'but', 'the', 'ending', 'was', 'great', '.', '[SEP]']);
    assert.deepStrictEqual(tokenizer.encode('zzz').tokens, ['[CLS]', 'z', '##z', '##z', '[SEP]'], 'unknown words are spelled out');
    assert.strictEqual(vocab['[PAD]'], 0);
  });

  it('data: balanced labels, every word in the vocabulary, within 32 tokens', () => {
    for (const [file, n] of [['train.jsonl', 4000], ['eval.jsonl', 500]] as const) {
      const recs = records(file);
      assert.strictEqual(recs.length, n, file);
      const pos = recs.filter((r) => r.label === 'positive').length;
      assert.ok(recs.every((r) => r.label === 'positive' || r.label === 'negative'), file);
      assert.ok(Math.abs(pos / n - 0.5) < 0.05, `${file}: ${pos} positive of ${n}`);
      for (const r of recs.slice(0, 300)) {
        // The texts are whole vocabulary words separated by spaces: one token per word.
        const ids = tokenizer.encode(r.text).ids;
        assert.ok(ids.length <= 32, `${file}: "${r.text}" has ${ids.length} tokens`);
        assert.deepStrictEqual(ids, [vocab['[CLS]'], ...r.text.split(' ').map((w) => vocab[w]), vocab['[SEP]']], `${file}: "${r.text}"`);
      }
      assert.ok(recs.some((r) => / not | never | hardly /.test(` ${r.text} `)), 'negation occurs');
      assert.ok(recs.some((r) => / but /.test(` ${r.text} `)), 'contrast occurs');
    }
  });

  it('model.onnx runs in onnxruntime on tokenized text and has an untrained 2-class classifier', async () => {
    const model = loadModel(path.join(DIR, 'model.onnx'));
    const w = model.graph.initializers.get('classifier.weight');
    assert.ok(w && w.dims.join() === '2,64', 'classifier.weight [2, 64]');
    const emb = model.graph.initializers.get('embeddings.word_embeddings.weight')!;
    assert.strictEqual(emb.dims[0], Object.keys(vocab).length, 'embedding rows = vocabulary size');
    const texts = records('eval.jsonl').slice(0, 4).map((r) => r.text);
    const ids = new BigInt64Array(4 * 32);
    const mask = new BigInt64Array(4 * 32);
    texts.forEach((t, i) => tokenizer.encode(t).ids.forEach((id, k) => { ids[i * 32 + k] = BigInt(id); mask[i * 32 + k] = 1n; }));
    const session = await ort.InferenceSession.create(path.join(DIR, 'model.onnx'), { intraOpNumThreads: 1 });
    const out = await session.run({ input_ids: new ort.Tensor('int64', ids, [4, 32]), attention_mask: new ort.Tensor('int64', mask, [4, 32]) });
    assert.deepStrictEqual(out.logits.dims, [4, 2]);
    const l = out.logits.data as Float32Array;
    assert.ok(l.every((v) => Number.isFinite(v) && Math.abs(v) < 0.5), `an untrained head gives small logits: ${Array.from(l)}`);
    await session.release();
  });
});
