import * as assert from 'assert';
import * as fs from 'fs';
import { readRange, scanRecords } from '../../native-runtime/train/data/scan';
import { tempDir, writeFile } from './fixtures';

describe('data/scan', () => {
  const dir = tempDir();

  it('splits JSONL lines, skipping blank lines, CR and a BOM, with byte ranges and line numbers', () => {
    const text = '\ufeff{"a":1}\r\n\n{"a":2}\n   \n{"a":3}';
    const file = writeFile(dir, 'a.jsonl', text);
    const recs = [...scanRecords(file, 'jsonl')];
    assert.deepStrictEqual(recs.map((r) => r.line), [1, 3, 5]);
    assert.deepStrictEqual(recs.map((r) => r.bytes.toString()), ['{"a":1}', '{"a":2}', '{"a":3}']);
    const fd = fs.openSync(file, 'r');
    try {
      for (const r of recs) assert.strictEqual(readRange(fd, r.start, r.end).toString(), r.bytes.toString());
    } finally {
      fs.closeSync(fd);
    }
  });

  it('keeps CSV records whose quoted fields span lines, and counts lines inside them', () => {
    const file = writeFile(dir, 'a.csv', 'text,label\n"hello\nworld, ""quoted""",pos\nplain,neg\n');
    const recs = [...scanRecords(file, 'csv')];
    assert.deepStrictEqual(recs.map((r) => r.line), [1, 2, 4]);
    assert.strictEqual(recs[1].bytes.toString(), '"hello\nworld, ""quoted""",pos');
  });

  it('streams records that cross the 1 MiB read chunk', () => {
    const lines: string[] = [];
    for (let i = 0; i < 30000; i++) lines.push(JSON.stringify({ text: `record number ${i} `.repeat(3), label: i % 2 }));
    const file = writeFile(dir, 'big.jsonl', lines.join('\n') + '\n');
    assert.ok(fs.statSync(file).size > 2 * (1 << 20));
    let n = 0;
    const fd = fs.openSync(file, 'r');
    try {
      for (const r of scanRecords(file, 'jsonl')) {
        assert.strictEqual(r.bytes.toString(), lines[n]);
        assert.strictEqual(r.line, n + 1);
        if (n % 997 === 0) assert.strictEqual(readRange(fd, r.start, r.end).toString(), lines[n]);
        n++;
      }
    } finally {
      fs.closeSync(fd);
    }
    assert.strictEqual(n, lines.length);
  });
});
