// Columnar datasets: Parquet files and Arrow IPC stream files as Hugging Face `datasets`
// writes them (`save_to_disk`: a folder of `data-0000K-of-0000N.arrow` shards with
// `state.json` and `dataset_info.json`; `to_parquet`: one `.parquet` file).
//
// Readers (see ARCHITECTURE.md, "Parquet and Arrow data"): `apache-arrow` (the Arrow project's
// own JS implementation) reads IPC streams; `parquet-wasm` (Rust's `parquet` crate compiled to
// WebAssembly, with snappy, gzip, brotli, zstd and lz4) decodes Parquet into Arrow. Both decode
// synchronously, which the data pipeline needs: the trainer asks for a step's batch from a
// synchronous loop. The table stays in Arrow's columnar form (strings as UTF-8 bytes, numbers
// in typed arrays); one row becomes a plain JS object only when a batch asks for it.
import * as fs from 'fs';
import * as path from 'path';
import { DataError, markRowAddressed } from './errors';

// Loaded on first use: the Parquet decoder is a WebAssembly module the JSONL path never needs.
type Arrow = typeof import('apache-arrow');
let arrowModule: Arrow | undefined;
function arrow(): Arrow {
  arrowModule ??= require('apache-arrow') as Arrow;
  return arrowModule;
}

type ArrowTable = import('apache-arrow').Table;

export type ColumnarFormat = 'parquet' | 'arrow';

export interface ColumnarTable {
  readonly numRows: number;
  readonly columns: string[];
  /** Row `i` (0-based) as a plain object: integers as numbers, lists as arrays. */
  row(i: number): Record<string, unknown>;
  /** `ClassLabel` names per field, from the Hugging Face features metadata (a `Sequence` of ClassLabel too). */
  classLabels: Map<string, string[]>;
}

/** The Arrow IPC shards of a `save_to_disk` folder (state.json order), or the file itself. */
export function arrowShards(p: string): string[] {
  if (!fs.statSync(p).isDirectory()) return [p];
  if (fs.existsSync(path.join(p, 'dataset_dict.json'))) {
    const splits = fs.readdirSync(p).filter((d) => fs.existsSync(path.join(p, d, 'state.json')));
    throw new DataError(p, undefined, undefined,
      `is a DatasetDict folder (dataset_dict.json); point data.train / data.eval at one split folder: ${splits.map((s) => path.join(p, s)).join(', ') || '(no split folders found)'}`);
  }
  const state = path.join(p, 'state.json');
  if (fs.existsSync(state)) {
    let files: unknown;
    try {
      files = (JSON.parse(fs.readFileSync(state, 'utf8')) as { _data_files?: unknown })._data_files;
    } catch (e) {
      throw new DataError(state, undefined, undefined, `invalid JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(files) || files.length === 0) throw new DataError(state, undefined, '_data_files', 'expected a list of {"filename": ...} entries, as datasets.save_to_disk writes');
    return files.map((f, i) => {
      const name = (f as { filename?: unknown }).filename;
      if (typeof name !== 'string') throw new DataError(state, undefined, `_data_files[${i}].filename`, 'expected a file name');
      return path.join(p, name);
    });
  }
  const shards = fs.readdirSync(p).filter((f) => f.endsWith('.arrow')).sort().map((f) => path.join(p, f));
  if (shards.length === 0) throw new DataError(p, undefined, undefined, 'folder holds no .arrow files and no state.json; expected a folder written by datasets.save_to_disk');
  return shards;
}

function readIpc(file: string): ArrowTable {
  const bytes = fs.readFileSync(file);
  try {
    return arrow().tableFromIPC(bytes);
  } catch (e) {
    throw new DataError(file, undefined, undefined, `not a readable Arrow IPC file (${(e as Error).message}); expected an Arrow stream or file, e.g. a shard written by datasets.save_to_disk`);
  }
}

function readParquet(file: string): ArrowTable {
  // parquet-wasm's Node build instantiates its WebAssembly module synchronously on require.
  // (The type import names the file: the project's `moduleResolution: node` ignores `exports`.)
  const pw = require('parquet-wasm/node') as typeof import('parquet-wasm/node/parquet_wasm');
  const bytes = fs.readFileSync(file);
  try {
    const wasmTable = pw.readParquet(bytes);
    return arrow().tableFromIPC(wasmTable.intoIPCStream());
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new DataError(file, undefined, undefined, `not a readable Parquet file (${msg})`);
  }
}

/** Converts an Arrow value (BigInt, Vector, struct row, typed array) into plain JSON-like JS. */
function plain(v: unknown): unknown {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'object') return v;
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number | bigint>, (x) => plain(x));
  const a = arrow();
  if (v instanceof a.Vector) return Array.from(v as Iterable<unknown>, (x) => plain(x));
  if (Array.isArray(v)) return v.map(plain);
  const obj = (typeof (v as { toJSON?: unknown }).toJSON === 'function' ? (v as { toJSON(): unknown }).toJSON() : v) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(obj)) out[k] = plain(x);
  return out;
}

interface HfFeature { _type?: string; names?: unknown; feature?: HfFeature }

function classLabelsOf(features: unknown): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!features || typeof features !== 'object') return out;
  for (const [field, f] of Object.entries(features as Record<string, HfFeature>)) {
    // A ClassLabel, or a Sequence/list of them (token classification tags).
    const inner = f?._type === 'ClassLabel' ? f : f?.feature?._type === 'ClassLabel' ? f.feature : Array.isArray(f) && (f[0] as HfFeature)?._type === 'ClassLabel' ? f[0] as HfFeature : undefined;
    if (inner && Array.isArray(inner.names) && inner.names.every((n) => typeof n === 'string')) out.set(field, inner.names as string[]);
  }
  return out;
}

/** Features from the schema's `huggingface` metadata (datasets writes it into Parquet and Arrow files). */
function featuresFromSchema(table: ArrowTable): unknown {
  const raw = table.schema.metadata.get('huggingface');
  if (!raw) return undefined;
  try {
    return (JSON.parse(raw) as { info?: { features?: unknown } }).info?.features;
  } catch {
    return undefined;
  }
}

function featuresFromInfo(folder: string): unknown {
  const info = path.join(folder, 'dataset_info.json');
  if (!fs.existsSync(info)) return undefined;
  try {
    return (JSON.parse(fs.readFileSync(info, 'utf8')) as { features?: unknown }).features;
  } catch {
    return undefined;
  }
}

/** Opens a Parquet file, an Arrow IPC file, or a `save_to_disk` folder. */
export function openColumnar(file: string, format: ColumnarFormat): ColumnarTable {
  if (!fs.existsSync(file)) throw new DataError(file, undefined, undefined, 'file not found');
  markRowAddressed(file);
  let table: ArrowTable;
  let features: unknown;
  if (format === 'parquet') {
    if (fs.statSync(file).isDirectory()) throw new DataError(file, undefined, undefined, 'is a folder; data.format "parquet" reads one .parquet file (for a datasets.save_to_disk folder use "arrow")');
    table = readParquet(file);
    features = featuresFromSchema(table);
  } else {
    const shards = arrowShards(file);
    const tables = shards.map(readIpc);
    table = tables.length === 1 ? tables[0] : tables[0].concat(...tables.slice(1));
    features = featuresFromSchema(tables[0]) ?? (fs.statSync(file).isDirectory() ? featuresFromInfo(file) : featuresFromInfo(path.dirname(file)));
  }
  const columns = table.schema.fields.map((f) => f.name);
  const vectors = columns.map((c) => table.getChild(c)!);
  return {
    numRows: table.numRows,
    columns,
    classLabels: classLabelsOf(features),
    row(i: number): Record<string, unknown> {
      const rec: Record<string, unknown> = {};
      columns.forEach((c, k) => {
        const v = plain(vectors[k].get(i));
        if (v !== undefined) rec[c] = v;
      });
      return rec;
    },
  };
}
