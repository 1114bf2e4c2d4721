// Loading the user's model for a command, with errors that count as invalid input (exit 2):
// a missing, truncated or non-ONNX file names the file and what to do.
import * as fs from 'fs';
import * as path from 'path';
import type { Model } from '../onnx/ir';
import { loadModel } from '../onnx/proto';
import { InputError } from '../errors';

export function loadUserModel(file: string, field?: { config: string; name: string }): Model {
  const abs = path.resolve(file);
  const where = field ? `${field.config}: ${field.name}: ` : '';
  if (!fs.existsSync(abs)) throw new InputError(`${where}model file not found: ${abs}; check the path`);
  try {
    const model = loadModel(abs);
    if (model.graph.nodes.length === 0) throw new Error('the graph has no nodes');
    return model;
  } catch (e) {
    const msg = (e as Error).message.replace(`${abs}: `, '');
    throw new InputError(`${where}${abs}: cannot load the ONNX model (${msg}). The file may be truncated or not an ONNX model: re-export it (torch.onnx.export, opset 17) or copy it again`);
  }
}

/** Classes in the model's logits output ([batch, C] or [batch, seq, C]), when the shape says so. */
export function logitsClasses(model: Model, outputName?: string): number | undefined {
  const out = outputName ? model.graph.outputs.find((o) => o.name === outputName) : model.graph.outputs[0];
  const last = out?.shape?.[out.shape.length - 1];
  return typeof last === 'number' ? last : undefined;
}
