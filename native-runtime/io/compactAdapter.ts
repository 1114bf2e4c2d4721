// `adapter.lily.safetensors`: this project's compact adapter file. Each shared tensor is stored
// once (a PEFT file repeats them per layer, ~20x larger for Lily), in internal names and layouts
// (see adapterWeights.ts), with the settings, sharing structure and modules_to_save mapping in
// `__metadata__`. It round-trips AdapterWeights exactly; the PEFT folder is for the ecosystem.
import type { AdapterSettings, AdapterWeights, SavedTensorSpec } from './adapterWeights';
import { checkAdapterWeights } from './adapterWeights';
import { readSafetensors, toFloat32, writeSafetensors, type TensorInput } from './safetensors';
import type { TargetInfo } from '../runFiles';

export const COMPACT_ADAPTER_FILE = 'adapter.lily.safetensors';
const FORMAT = 'lily-vscode/adapter';
const VERSION = '1';

export function writeCompactAdapter(file: string, w: AdapterWeights): void {
  checkAdapterWeights(w, file);
  const tensors = new Map<string, TensorInput>();
  for (const [name, t] of w.tensors) tensors.set(name, { shape: t.dims, data: t.data });
  writeSafetensors(file, tensors, {
    format: FORMAT,
    version: VERSION,
    settings: JSON.stringify(w.settings),
    targets: JSON.stringify(w.targets),
    saved: JSON.stringify(w.saved),
  });
}

export function readCompactAdapter(file: string): AdapterWeights {
  const { tensors, metadata } = readSafetensors(file);
  if (metadata.format !== FORMAT) {
    throw new Error(`${file}: not a compact Lily adapter (metadata format ${JSON.stringify(metadata.format)}, expected "${FORMAT}"); for a PEFT adapter use its folder`);
  }
  if (metadata.version !== VERSION) throw new Error(`${file}: compact adapter version ${metadata.version} is not supported (expected ${VERSION}); update the extension`);
  const parse = <T>(key: string): T => {
    try { return JSON.parse(metadata[key]) as T; } catch { throw new Error(`${file}: metadata "${key}" is missing or not JSON`); }
  };
  const w: AdapterWeights = {
    settings: parse<AdapterSettings>('settings'),
    targets: parse<TargetInfo[]>('targets'),
    saved: parse<SavedTensorSpec[]>('saved'),
    tensors: new Map([...tensors].map(([name, t]) => [name, { dims: t.shape, data: toFloat32(t, `${file}: tensor "${name}"`) }])),
  };
  checkAdapterWeights(w, file);
  return w;
}
