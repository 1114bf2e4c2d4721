// `lily train` on Parquet data written by pyarrow logs the same losses as on the same rows in JSONL.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { readJsonl } from '../../native-runtime/io/atomic';
import type { MetricLine } from '../../native-runtime/runFiles';
import { writeWithPyarrow } from '../helpers/pyarrowWrite';
import { lily, makeWorkspace, sentimentRecords, tinyEncoder } from './workspace';

function losses(runsDir: string): Array<[string, number[]]> {
  const [run] = fs.readdirSync(runsDir);
  return readJsonl<MetricLine>(path.join(runsDir, run, 'metrics.jsonl')).map((l) =>
    l.type === 'train' ? [`train${l.step}`, [l.loss, l.grad_norm]] : [`eval${l.step}`, Object.keys(l.metrics).sort().map((k) => l.metrics[k])]);
}

describe('cli: lily train on Parquet data', function () {
  this.timeout(120000);
  before(() => { tinyEncoder(); });

  it('gives the same train and eval losses as the same rows in JSONL', async () => {
    const fromJsonl = makeWorkspace();
    assert.strictEqual((await lily(['train', fromJsonl.config], fromJsonl.dir)).code, 0);

    const ws = makeWorkspace({ data: { train: 'train.parquet', eval: 'eval.parquet' } });
    writeWithPyarrow({ kind: 'parquet', rows: sentimentRecords(32), out: path.join(ws.dir, 'train.parquet') });
    writeWithPyarrow({ kind: 'parquet', rows: sentimentRecords(8, 1000), out: path.join(ws.dir, 'eval.parquet') });
    const r = await lily(['train', ws.config], ws.dir);
    assert.strictEqual(r.code, 0, r.stderr);
    const got = losses(ws.runsDir);
    assert.ok(got.length >= 5, JSON.stringify(got));
    assert.deepStrictEqual(got, losses(fromJsonl.runsDir));
  });

  it('exits 2 naming the file, row and field of a bad Parquet row', async () => {
    const ws = makeWorkspace({ data: { train: 'train.parquet' } });
    const rows: object[] = sentimentRecords(6);
    rows[4] = { text: 'the film was good .', label: 'maybe' };
    const file = writeWithPyarrow({ kind: 'parquet', rows, out: path.join(ws.dir, 'train.parquet') });
    const r = await lily(['train', ws.config], ws.dir);
    assert.strictEqual(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes(`${file}: row 4: field "label": label "maybe" is not one of ["negative","positive"]`), r.stderr);
    assert.ok(!fs.existsSync(ws.runsDir), 'no run directory for invalid data');
  });
});
