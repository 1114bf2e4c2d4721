// PEFT adapters onto the ONNX model: a round trip (write the PEFT folder, import it onto the model,
// identical outputs), files whose module paths differ from the ONNX names by a leading path (as
// from a HF task wrapper, or from a bare encoder), and files with a disagreeing shared copy, which
// must be reported with the module whose copy differs.
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import type { AdapterSection } from '../../native-runtime/config/types';
import { layerTensorNames, type AdapterWeights } from '../../native-runtime/io/adapterWeights';
import { PEFT_FILES, writePeftAdapter } from '../../native-runtime/io/peft';
import { readSafetensors, writeSafetensors } from '../../native-runtime/io/safetensors';
import { buildInferenceModel } from '../../native-runtime/inspect/adaptedModel';
import { alignModulePaths, importPeftAdapter, peftInitialValues } from '../../native-runtime/inspect/peftImport';
import type { Model } from '../../native-runtime/onnx/ir';
import { modelToBytes } from '../../native-runtime/onnx/proto';
import { prepareTraining } from '../../native-runtime/train/trainer';
import { encoderConfig, encoderModel, randomWeights, tempDir } from './fixtures';

const valuesOf = (w: AdapterWeights) => new Map([...w.tensors].map(([k, t]) => [k, t.data]));

async function logits(model: Model, w: AdapterWeights): Promise<Float32Array> {
  const m = await buildInferenceModel(model, w.settings, valuesOf(w));
  const s = await ort.InferenceSession.create(modelToBytes(m), { intraOpNumThreads: 1 });
  const B = 2, T = 5;
  const ids = new ort.Tensor('int64', BigInt64Array.from({ length: B * T }, (_, i) => BigInt(3 + ((i * 37) % 100))), [B, T]);
  const mask = new ort.Tensor('int64', BigInt64Array.from({ length: B * T }, (_, i) => (i % T < 4 - (i >= T ? 1 : 0) ? 1n : 0n)), [B, T]);
  const out = await s.run({ input_ids: ids, attention_mask: mask });
  await s.release();
  return out.logits.data as Float32Array;
}

/** The same adapter with every module path rewritten (as another export of the model would name it). */
function renamed(w: AdapterWeights, rename: (m: string) => string): AdapterWeights {
  const targets = w.targets.map((t) => ({ ...t, layers: t.layers.map((l) => ({ ...l, module: rename(l.module) })) }));
  const tensors = new Map(w.tensors);
  w.targets.forEach((t, k) => {
    const from = layerTensorNames(w.settings.method, t);
    const to = layerTensorNames(w.settings.method, targets[k]);
    from.forEach((n, i) => {
      for (const key of ['A', 'B', 'router'] as const) {
        if (!n[key]) continue;
        tensors.delete(n[key]!);
        tensors.set(to[i][key]!, w.tensors.get(n[key]!)!);
      }
    });
  });
  return { ...w, targets, tensors };
}

/** Rewrites the safetensors file as a plain PEFT writer would (no lily_vscode metadata), editing tensors. */
function rewrite(dir: string, edit: (name: string, data: Float32Array) => void = () => undefined): void {
  const file = path.join(dir, PEFT_FILES.weights);
  const st = readSafetensors(file);
  const out = new Map([...st.tensors].map(([k, t]) => {
    const data = Float32Array.from(t.data as Float32Array);
    edit(k, data);
    return [k, { shape: t.shape, data }];
  }));
  writeSafetensors(file, out, { format: 'pt' });
}

describe('inspect/PEFT import onto ONNX models', () => {
  const dir = tempDir('peft');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const lily: AdapterSection = { method: 'lily', target_modules: ['value', 'dense'], r: 3, num_B: 2, stride_A: 2, scaling: 0.9, modules_to_save: ['classifier'] };

  for (const adapter of [lily, { method: 'lora', target_modules: ['query', 'value'], r: 2, lora_alpha: 4, modules_to_save: ['classifier'] } as AdapterSection]) {
    it(`${adapter.method}: export to PEFT, import onto the model: same tensors, identical outputs`, async () => {
      const model = encoderModel();
      const w = randomWeights(model, adapter, 21, 0.6);
      const out = path.join(dir, `roundtrip-${adapter.method}`);
      writePeftAdapter(out, w);
      rewrite(out); // a file as PEFT writes it: the structure must come from config + model
      const imported = importPeftAdapter(out, model);
      assert.deepEqual(imported.warnings, []);
      assert.deepEqual(imported.weights.targets, w.targets);
      assert.deepEqual([...imported.weights.tensors.keys()].sort(), [...w.tensors.keys()].sort());
      for (const [k, t] of w.tensors) assert.deepEqual(imported.weights.tensors.get(k)!.data, t.data, k);
      assert.deepEqual(await logits(model, imported.weights), await logits(model, w));
    });
  }

  it('maps module paths that differ by a leading path, in both directions', async () => {
    const model = encoderModel();
    const w = randomWeights(model, lily, 22, 0.6);
    const reference = await logits(model, w);
    // A task wrapper's names: roberta.encoder.layer.0... (and a top-level classifier head).
    const wrapped = path.join(dir, 'wrapped');
    writePeftAdapter(wrapped, renamed(w, (m) => `roberta.${m}`));
    rewrite(wrapped);
    const a = importPeftAdapter(wrapped, model);
    assert.deepEqual(a.prefix, { file: 'roberta', model: '' });
    assert.match(a.warnings.join('\n'), /dropping the leading "roberta\."/);
    assert.deepEqual(await logits(model, a.weights), reference);
    // The training init path reads the same values into the run's own structure.
    const init = peftInitialValues(wrapped, model, w.targets, w.saved);
    for (const [k, t] of w.tensors) assert.deepEqual(init.get(k), t.data, k);

    // A bare-encoder export's names: layer.0.attention.self.value (the model says encoder.layer.0...).
    const onlyValue: AdapterSection = { ...lily, target_modules: ['value'], modules_to_save: [] };
    const w2 = randomWeights(model, onlyValue, 23, 0.6);
    const bare = path.join(dir, 'bare');
    writePeftAdapter(bare, renamed(w2, (m) => m.replace(/^encoder\./, '')));
    rewrite(bare);
    const b = importPeftAdapter(bare, model);
    assert.deepEqual(b.prefix, { file: '', model: 'encoder' });
    assert.deepEqual(await logits(model, b.weights), await logits(model, w2));
  });

  it('names the module whose copy of a shared tensor differs; allowMismatch takes the last copy, as PEFT does', () => {
    const model = encoderModel();
    const w = randomWeights(model, lily, 24, 0.6);
    const out = path.join(dir, 'tampered');
    writePeftAdapter(out, w);
    // layer.1's value shares layer.0's A (stride_A 2): change its copy only.
    rewrite(out, (k, data) => { if (k === 'base_model.model.encoder.layer.1.attention.self.value.lily_A.weight') data[4] += 0.25; });
    assert.throws(() => importPeftAdapter(out, model), (e: Error) => {
      assert.match(e.message, /module "encoder\.layer\.1\.attention\.self\.value": its lily_A copy differs from that of "encoder\.layer\.0\.attention\.self\.value"/);
      assert.match(e.message, /adapter_model\.safetensors/);
      return true;
    });
    const loose = importPeftAdapter(out, model, { allowMismatch: true });
    assert.match(loose.warnings.join('\n'), /encoder\.layer\.1\.attention\.self\.value.*lily_A.*last copy/);
    const a = loose.weights.tensors.get('encoder.layer.0.attention.self.value.lily_A')!.data;
    assert.notDeepEqual(a, w.tensors.get('encoder.layer.0.attention.self.value.lily_A')!.data);
  });

  it('adapter.init with a PEFT folder under other module paths initialises training with its tensors', async () => {
    const model = encoderModel();
    const w = randomWeights(model, lily, 25, 0.6);
    const peft = path.join(dir, 'init-wrapped');
    writePeftAdapter(peft, renamed(w, (m) => `roberta.${m}`));
    rewrite(peft);
    const cfg = encoderConfig(path.join(dir), { ...lily, init: peft });
    const prep = await prepareTraining({ config: cfg, maxSteps: 1 });
    try {
      const params = prep.runner.getParams();
      for (const [k, t] of w.tensors) assert.deepEqual(params.get(k), t.data, k);
    } finally {
      prep.data.close();
      await prep.runner.release();
    }
  });

  it('refuses an adapter for another model, naming modules that do not map', () => {
    assert.throws(() => alignModulePaths(['model.h.0.attn.q_proj'], ['encoder.layer.0.attention.self.query'], 'x.safetensors'),
      /"model\.h\.0\.attn\.q_proj" match no linear layer of the ONNX model/);
  });
});
