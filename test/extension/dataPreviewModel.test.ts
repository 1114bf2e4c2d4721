// What "New Adapter Config" detects in the data the user picked: the first rows (read by the
// backend's own scanner), the text and label fields, the label names, pre-tokenized data.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { labelSettings, previewData, readFirstRows, rowSummary } from '../../src/dataPreviewModel';
import { REPO, tempDir } from './fixtures';

describe('data preview for a new config', () => {
  const dir = tempDir('preview');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('detects text, label and the label names in the bundled demo data (as its config names them)', () => {
    const file = path.join(REPO, 'examples', 'sentiment', 'train.jsonl');
    const p = previewData(file, readFirstRows(file, 20));
    assert.strictEqual(p.rows.length, 20);
    assert.strictEqual(p.textField, 'text');
    assert.strictEqual(p.labelField, 'label');
    assert.deepStrictEqual(p.labelValues, ['negative', 'positive']);
    assert.deepStrictEqual(labelSettings(p.rows.map((r) => r.label)), { num_labels: 2, labels: ['negative', 'positive'] });
    assert.strictEqual(p.pretokenized, false);
  });

  it('detects unconventional names in a CSV: the long string field is the text, the few-valued one the label, with names', () => {
    const file = path.join(dir, 'reviews.csv');
    fs.writeFileSync(file, 'id,review_body,stars\n1,"A long and thoughtful review, with a comma",good\n2,Terrible plot and worse acting overall,bad\n3,It was fine I suppose for a rainy day,meh\n4,Would watch again with friends and family,good\n');
    const p = previewData(file, readFirstRows(file));
    assert.deepStrictEqual(p.fields, ['id', 'review_body', 'stars']);
    assert.strictEqual(p.textField, 'review_body');
    assert.strictEqual(p.labelField, 'stars');
    assert.deepStrictEqual(labelSettings(p.rows.map((r) => r.stars)), { num_labels: 3, labels: ['bad', 'good', 'meh'] });
    assert.match(rowSummary(p.rows[0], ['review_body', 'stars'], 40), /^review_body: "A long and thoughtful rev…$/);
  });

  it('labels seen only in the eval file get an id too; integer labels give max+1 classes', () => {
    assert.deepStrictEqual(labelSettings([0, 2, 2, 1, 4]), { num_labels: 5 });
    assert.deepStrictEqual(labelSettings(['pos', 'neg', 'neutral', 'pos']), { num_labels: 3, labels: ['neg', 'neutral', 'pos'] });
    assert.strictEqual(labelSettings([]), undefined);
  });

  it('knows pre-tokenized data needs no tokenizer, and names FILE:LINE for a broken row', () => {
    const tok = path.join(dir, 'tok.jsonl');
    fs.writeFileSync(tok, '{"input_ids":[1,2,3],"label":1}\n{"input_ids":[4,5],"label":0}\n');
    assert.strictEqual(previewData(tok, readFirstRows(tok)).pretokenized, true);
    const bad = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(bad, '{"text":"ok","label":1}\n{"text": oops}\n');
    assert.throws(() => readFirstRows(bad), /bad\.jsonl:2/);
    assert.throws(() => readFirstRows(path.join(dir, 'data.txt')), /cannot tell the data format/);
  });
});
