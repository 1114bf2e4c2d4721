// Atomic whole-file writes and crash-tolerant JSON-lines logs.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { appendLine, readJsonIfValid, readJsonl, readJsonlFrom, writeFileAtomic, writeJsonAtomic } from '../../native-runtime/io/atomic';
import { tempDir } from '../helpers/tempDir';

describe('atomic files', () => {
  let dir: string;
  beforeEach(() => { dir = tempDir('lily-atomic-'); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writeFileAtomic replaces the file and leaves no temp file behind', () => {
    const f = path.join(dir, 'status.json');
    writeFileAtomic(f, 'old');
    writeJsonAtomic(f, { state: 'running', step: 3 });
    assert.deepStrictEqual(readJsonIfValid(f), { state: 'running', step: 3 });
    writeFileAtomic(path.join(dir, 'bytes.bin'), new Uint8Array([1, 2, 3]));
    assert.deepStrictEqual([...fs.readFileSync(path.join(dir, 'bytes.bin'))], [1, 2, 3]);
    assert.deepStrictEqual(fs.readdirSync(dir).sort(), ['bytes.bin', 'status.json']);
  });

  it('writeFileAtomic into a missing folder fails without leaving debris', () => {
    assert.throws(() => writeFileAtomic(path.join(dir, 'nope', 'x.json'), '{}'), /ENOENT/);
    assert.deepStrictEqual(fs.readdirSync(dir), []);
  });

  it('readJsonl skips a torn final line and reads a missing file as empty', () => {
    const f = path.join(dir, 'metrics.jsonl');
    assert.deepStrictEqual(readJsonl(f), []);
    appendLine(f, { step: 1, loss: 0.5 });
    appendLine(f, { step: 2, loss: 0.4 });
    fs.appendFileSync(f, '{"step": 3, "lo'); // a crash mid-append
    assert.deepStrictEqual(readJsonl(f), [{ step: 1, loss: 0.5 }, { step: 2, loss: 0.4 }]);
  });

  it('appendLine after a torn line starts a fresh line; the fragment alone is skipped and reported', () => {
    const f = path.join(dir, 'router.jsonl');
    appendLine(f, { step: 1 });
    fs.appendFileSync(f, '{"step": 2, "tar');
    appendLine(f, { step: 3 });
    const bad: number[] = [];
    assert.deepStrictEqual(readJsonl(f, { onBadLine: (n) => bad.push(n) }), [{ step: 1 }, { step: 3 }]);
    assert.deepStrictEqual(bad, [2]);
  });

  it('readJsonlFrom tails complete lines only and resumes from the returned offset', () => {
    const f = path.join(dir, 'metrics.jsonl');
    appendLine(f, { step: 1 });
    fs.appendFileSync(f, '{"step": 2');
    const first = readJsonlFrom(f, 0);
    assert.deepStrictEqual(first.records, [{ step: 1 }]);
    fs.appendFileSync(f, '}\n');
    appendLine(f, { step: 3 });
    const second = readJsonlFrom(f, first.nextOffset);
    assert.deepStrictEqual(second.records, [{ step: 2 }, { step: 3 }]);
    assert.strictEqual(second.nextOffset, fs.statSync(f).size);
    assert.deepStrictEqual(readJsonlFrom(path.join(dir, 'none.jsonl'), 0), { records: [], nextOffset: 0 });
  });

  it('readJsonIfValid returns undefined for a missing or torn file', () => {
    const f = path.join(dir, 'spectrum.json');
    assert.strictEqual(readJsonIfValid(f), undefined);
    fs.writeFileSync(f, '{"step": 1, "targ');
    assert.strictEqual(readJsonIfValid(f), undefined);
  });
});
