// Oracle models exported once per test process and shared by the adapter, step and parity
// suites (an export takes about a second of torch per model). Removed when the process exits.
import * as fs from 'fs';
import * as path from 'path';
import type { Model } from '../../native-runtime/onnx/ir';
import { loadModel } from '../../native-runtime/onnx/proto';
import { exportOracleModel } from '../oracle/oracleFiles';

export type OracleKind = 'encoder' | 'decoder' | 'vit';

export interface ExportedModel {
  dir: string;
  onnx: string;
  manifest: { kind: OracleKind; inputs: string[]; config: Record<string, number | boolean>; linear_modules: Array<[string, number, number]> };
  /** A fresh parse of model.onnx (callers may edit it). */
  load(): Model;
}

const cache = new Map<OracleKind, ExportedModel>();
let cleanupRegistered = false;

export function exportedModel(kind: OracleKind): ExportedModel {
  let m = cache.get(kind);
  if (m) return m;
  const dir = exportOracleModel(kind, { seed: 3 });
  const onnx = path.join(dir, 'model.onnx');
  m = {
    dir,
    onnx,
    manifest: JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')),
    load: () => loadModel(onnx),
  };
  cache.set(kind, m);
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    process.on('exit', () => {
      for (const e of cache.values()) fs.rmSync(e.dir, { recursive: true, force: true });
    });
  }
  return m;
}
