// Parsed ONNX models, kept while their file is unchanged: listTargets, validateConfig and
// budget run on every keystroke-save of a config and must not re-read a 500 MB model each time.
import * as fs from 'fs';
import * as path from 'path';
import type { Model } from '../onnx/ir';
import { loadModel } from '../onnx/proto';

interface Entry { mtimeMs: number; size: number; model: Model }

export class ModelCache {
  private readonly entries = new Map<string, Entry>();

  /** Models are large: keep only the few most recently used. */
  constructor(private readonly capacity = 2) {}

  get(file: string): Model {
    const abs = path.resolve(file);
    let st: fs.Stats;
    try {
      st = fs.statSync(abs);
    } catch {
      throw new Error(`model file not found: ${abs}; check the path (it is relative to the config file)`);
    }
    const hit = this.entries.get(abs);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) {
      this.entries.delete(abs);
      this.entries.set(abs, hit);
      return hit.model;
    }
    const model = loadModel(abs);
    this.entries.delete(abs);
    this.entries.set(abs, { mtimeMs: st.mtimeMs, size: st.size, model });
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    return model;
  }
}
