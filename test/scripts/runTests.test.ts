import { strict as assert } from 'assert';
import * as path from 'path';
import { pathToFileURL } from 'url';

type Counts = { passed: number; failed: number; skipped: number };

describe('scripts/run-tests.mjs: counting each suite for the final total line', () => {
  let countsOf: (text: string) => Counts;
  before(async () => {
    const mod = await import(pathToFileURL(path.join(__dirname, '../../scripts/run-tests.mjs')).href);
    countsOf = mod.countsOf;
  });

  it("reads mocha's summary, colour codes and all", () => {
    assert.deepEqual(countsOf('  ✔ a\n\n\x1b[92m  12 passing\x1b[0m (3s)\n  2 pending\n  1 failing\n'), { passed: 12, failed: 1, skipped: 2 });
  });

  it("prefers the e2e run's closing line over its inner mocha summaries and per-part lines", () => {
    const text = '  3 passing (2s)\n    1 passed, 1 failed in 8 s: a wrong expectation fails\n29 passed, 0 failed\n';
    assert.deepEqual(countsOf(text), { passed: 29, failed: 0, skipped: 0 });
  });

  it('counts nothing in output without a summary (the caller then counts a non-zero exit as a failure)', () => {
    assert.deepEqual(countsOf('Error: something broke\n'), { passed: 0, failed: 0, skipped: 0 });
  });
});
