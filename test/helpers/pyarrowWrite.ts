// Writes test datasets with the real pyarrow (the project venv), in the layouts Hugging Face
// `datasets` produces: a Parquet file (pyarrow's defaults: snappy compression) and a
// `save_to_disk` folder (Arrow IPC stream shards `data-0000K-of-0000N.arrow`, `state.json`,
// `dataset_info.json`). `features` is the datasets features JSON (e.g. a ClassLabel); like
// datasets, it is stored in the schema's `huggingface` metadata as well.
import { spawnSync } from 'child_process';
import * as path from 'path';

export const VENV_PYTHON = path.resolve(__dirname, '../../.venv/bin/python');

const WRITER = String.raw`
import json, os, sys
import pyarrow as pa, pyarrow.parquet as pq
a = json.load(sys.stdin)
table = pa.Table.from_pylist(a['rows'])
if a.get('features') is not None:
    table = table.replace_schema_metadata({'huggingface': json.dumps({'info': {'features': a['features']}})})
if a['kind'] == 'parquet':
    pq.write_table(table, a['out'])
else:
    os.makedirs(a['out'], exist_ok=True)
    n = a['shards']
    per = -(-table.num_rows // n)
    files = []
    for k in range(n):
        name = 'data-%05d-of-%05d.arrow' % (k, n)
        with pa.OSFile(os.path.join(a['out'], name), 'wb') as f:
            w = pa.ipc.new_stream(f, table.schema)
            w.write_table(table.slice(k * per, per), max_chunksize=3)
            w.close()
        files.append({'filename': name})
    json.dump({'_data_files': files, '_fingerprint': 'test', '_format_type': None, '_split': 'train'}, open(os.path.join(a['out'], 'state.json'), 'w'))
    json.dump({'features': a.get('features') or {}}, open(os.path.join(a['out'], 'dataset_info.json'), 'w'))
`;

export interface PyarrowWrite {
  kind: 'parquet' | 'arrow-folder';
  rows: object[];
  out: string;
  features?: object;
  shards?: number;
}

export function writeWithPyarrow(w: PyarrowWrite): string {
  const r = spawnSync(VENV_PYTHON, ['-c', WRITER], { input: JSON.stringify({ shards: 1, ...w }), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pyarrow writer failed (exit ${r.status}): ${r.stderr}`);
  return w.out;
}
