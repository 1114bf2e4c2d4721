// PEFT folder format for Lily and LoRA: exact keys and shapes, identical per-layer copies of
// shared tensors, sharing rebuilt on read, and disagreeing copies reported by module.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { layerTensorNames } from '../../native-runtime/io/adapterWeights';
import { COMPACT_ADAPTER_FILE, readCompactAdapter, writeCompactAdapter } from '../../native-runtime/io/compactAdapter';
import { PEFT_FILES, PeftFormatError, readPeftAdapter, writePeftAdapter } from '../../native-runtime/io/peft';
import { readSafetensors, writeSafetensors } from '../../native-runtime/io/safetensors';
import { lilySettings, loraSettings, makeWeights } from './adapterFixtures';
import { tempDir } from '../helpers/tempDir';

const tensorsEqual = (a: Map<string, { dims: number[]; data: Float32Array }>, b: Map<string, { dims: number[]; data: Float32Array }>) => {
  assert.deepStrictEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [k, t] of a) {
    assert.deepStrictEqual(b.get(k)!.dims, t.dims, k);
    assert.deepStrictEqual(b.get(k)!.data, t.data, k);
  }
};

describe('PEFT adapter format', () => {
  let dir: string;
  beforeEach(() => { dir = tempDir('lily-peft-'); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes no task_type for a classifier adapter without the head (PEFT\'s SEQ_CLS wrapper would demand its weights)', () => {
    const w = makeWeights(lilySettings());
    const headNames = new Set(w.saved.map((t) => t.name));
    assert.ok(headNames.size > 0);
    const noHead = { ...w, saved: [], tensors: new Map([...w.tensors].filter(([k]) => !headNames.has(k))), settings: { ...w.settings, modules_to_save: [] } };
    const cfg = (x: typeof w, task: 'sequence-classification' | 'causal-lm') => {
      const d = fs.mkdtempSync(path.join(dir, 'x'));
      return JSON.parse(fs.readFileSync(writePeftAdapter(d, x, { task })[0], 'utf8')).task_type;
    };
    assert.deepStrictEqual([cfg(w, 'sequence-classification'), cfg(noHead, 'sequence-classification'), cfg(noHead, 'causal-lm')], ['SEQ_CLS', null, 'CAUSAL_LM']);
  });

  it('writes Lily with PEFT keys and shapes, one identical copy of each shared tensor per layer', () => {
    const w = makeWeights(lilySettings());
    const files = writePeftAdapter(dir, w, { task: 'sequence-classification', base_model_name_or_path: 'roberta-base' });
    assert.deepStrictEqual(files, [path.join(dir, PEFT_FILES.config), path.join(dir, PEFT_FILES.weights)]);
    const config = JSON.parse(fs.readFileSync(files[0], 'utf8'));
    assert.deepStrictEqual(
      { peft_type: config.peft_type, r: config.r, stride_A: config.stride_A, num_B: config.num_B, scaling: config.scaling, task_type: config.task_type, base: config.base_model_name_or_path, mts: config.modules_to_save, tm: config.target_modules, init: config.init_weights },
      { peft_type: 'LILY', r: 3, stride_A: 4, num_B: 2, scaling: 0.5, task_type: 'SEQ_CLS', base: 'roberta-base', mts: ['classifier'], tm: ['attention.self.value', 'output.dense'], init: true },
    );
    const st = readSafetensors(files[1]);
    assert.strictEqual(st.metadata.format, 'pt');
    const v = (i: number) => `base_model.model.roberta.encoder.layer.${i}.attention.self.value`;
    assert.deepStrictEqual(st.tensors.get(`${v(10)}.lily_A.weight`)!.shape, [3, 6]);
    assert.deepStrictEqual(st.tensors.get(`${v(10)}.lily_B.weight`)!.shape, [2 * 3, 5]);
    assert.deepStrictEqual(st.tensors.get(`${v(10)}.lily_router.weight`)!.shape, [2, 3]);
    assert.deepStrictEqual(st.tensors.get('base_model.model.classifier.weight')!.shape, [3, 7]);
    assert.strictEqual(st.tensors.size, 3 * (11 + 2) + 2);
    // lily_A.weight is A transposed: PEFT's [r, d_in] Linear weight. Layers 4..7 share layer 4's A.
    const A = w.tensors.get('roberta.encoder.layer.4.attention.self.value.lily_A')!.data; // [6, 3]
    for (const i of [4, 5, 6, 7]) {
      const copy = st.tensors.get(`${v(i)}.lily_A.weight`)!.data;
      assert.strictEqual(copy[1 * 6 + 2], A[2 * 3 + 1]);
      assert.deepStrictEqual(copy, st.tensors.get(`${v(4)}.lily_A.weight`)!.data);
    }
    assert.notDeepStrictEqual(st.tensors.get(`${v(3)}.lily_A.weight`)!.data, st.tensors.get(`${v(4)}.lily_A.weight`)!.data);
    // lily_B.weight is the [num_B, r, d_out] pool in the same memory order, identical in every layer.
    assert.deepStrictEqual(st.tensors.get(`${v(9)}.lily_B.weight`)!.data, w.tensors.get('roberta.encoder.layer.0.attention.self.value.lily_B')!.data);
  });

  it('reads Lily back to the same unique tensors, structure and routing', () => {
    const w = makeWeights(lilySettings());
    writePeftAdapter(dir, w);
    const back = readPeftAdapter(dir);
    assert.deepStrictEqual(back.warnings, []);
    assert.deepStrictEqual(back.weights.settings, w.settings);
    assert.deepStrictEqual(back.weights.targets, w.targets);
    // Without saved specs, modules_to_save tensors come back under their PEFT names in torch layout.
    const expected = new Map(w.tensors);
    expected.delete('onnx::MatMul_99');
    const cw = w.tensors.get('onnx::MatMul_99')!;
    const torchLayout = new Float32Array(21);
    for (let i = 0; i < 7; i++) for (let j = 0; j < 3; j++) torchLayout[j * 7 + i] = cw.data[i * 3 + j];
    expected.set('classifier.weight', { dims: [3, 7], data: torchLayout });
    tensorsEqual(expected, back.weights.tensors);
    // With the run's saved specs they come back under internal names and layouts: an exact round trip.
    const exact = readPeftAdapter(path.join(dir, PEFT_FILES.weights), { saved: w.saved });
    tensorsEqual(w.tensors, exact.weights.tensors);
  });

  it('derives the sharing structure from a foreign file (no metadata), in numeric module order', () => {
    const w = makeWeights(lilySettings());
    writePeftAdapter(dir, w);
    const file = path.join(dir, PEFT_FILES.weights);
    const st = readSafetensors(file);
    writeSafetensors(file, st.tensors, { format: 'pt' }); // as PEFT writes it
    const back = readPeftAdapter(dir, { saved: w.saved });
    assert.deepStrictEqual(back.weights.targets, w.targets);
    assert.strictEqual(back.weights.settings.method === 'lily' && back.weights.settings.routing, 'batch', 'PEFT files route per batch');
    tensorsEqual(w.tensors, back.weights.tensors);
  });

  it('reports exactly which module\'s copy of a shared tensor differs, with the max abs diff', () => {
    const w = makeWeights(lilySettings());
    writePeftAdapter(dir, w);
    const file = path.join(dir, PEFT_FILES.weights);
    const st = readSafetensors(file);
    const key = 'base_model.model.roberta.encoder.layer.6.attention.self.value.lily_A.weight';
    const edited = Float32Array.from(st.tensors.get(key)!.data as Float32Array);
    edited[4] += 0.25;
    st.tensors.set(key, { ...st.tensors.get(key)!, data: edited });
    writeSafetensors(file, st.tensors, st.metadata);
    assert.throws(() => readPeftAdapter(dir), (e: unknown) => {
      assert.ok(e instanceof PeftFormatError);
      assert.match(e.message, /copies of shared tensors disagree \(tolerance 0\)/);
      assert.match(e.message, /module "roberta\.encoder\.layer\.6\.attention\.self\.value": its lily_A copy differs from that of "roberta\.encoder\.layer\.4\.attention\.self\.value" \(shared tensor "roberta\.encoder\.layer\.4\.attention\.self\.value\.lily_A" of target "attention\.self\.value"\) by max abs diff 0\.25/);
      assert.strictEqual(e.message.match(/module "/g)!.length, 1, 'only the edited copy is reported');
      return true;
    });
    // Loading as PEFT does: the last copy of the group (layer 7, unedited) wins, with a warning.
    const loose = readPeftAdapter(dir, { allowMismatch: true, saved: w.saved });
    assert.strictEqual(loose.warnings.length, 1);
    assert.match(loose.warnings[0], /layer\.6.*using the last copy, as PEFT does/);
    tensorsEqual(w.tensors, loose.weights.tensors);
    assert.doesNotThrow(() => readPeftAdapter(dir, { tolerance: 0.3 }));
  });

  it('writes and reads LoRA: lora_A [r, d_in], lora_B [d_out, r], alpha kept', () => {
    const w = makeWeights(loraSettings(), 3);
    writePeftAdapter(dir, w, { task: 'causal-lm' });
    const config = JSON.parse(fs.readFileSync(path.join(dir, PEFT_FILES.config), 'utf8'));
    assert.deepStrictEqual([config.peft_type, config.r, config.lora_alpha, config.task_type, config.bias, config.use_dora], ['LORA', 2, 4, 'CAUSAL_LM', 'none', false]);
    const st = readSafetensors(path.join(dir, PEFT_FILES.weights));
    const m = 'base_model.model.roberta.encoder.layer.1.output.dense';
    assert.deepStrictEqual(st.tensors.get(`${m}.lora_A.weight`)!.shape, [2, 5]);
    assert.deepStrictEqual(st.tensors.get(`${m}.lora_B.weight`)!.shape, [7, 2]);
    const B = w.tensors.get('roberta.encoder.layer.1.output.dense.lora_B')!.data; // [r=2, d_out=7]
    assert.strictEqual(st.tensors.get(`${m}.lora_B.weight`)!.data[5 * 2 + 1], B[1 * 7 + 5]);
    const back = readPeftAdapter(dir, { saved: w.saved });
    assert.deepStrictEqual(back.weights.settings, w.settings);
    assert.deepStrictEqual(back.weights.targets, w.targets);
    tensorsEqual(w.tensors, back.weights.tensors);
  });

  it('rejects files that do not fit: other peft_type, missing layers, wrong shapes', () => {
    const w = makeWeights(lilySettings(), 4);
    writePeftAdapter(dir, w);
    const configFile = path.join(dir, PEFT_FILES.config);
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    fs.writeFileSync(configFile, JSON.stringify({ ...config, peft_type: 'ADALORA' }));
    assert.throws(() => readPeftAdapter(dir), /adapter_config\.json: peft_type "ADALORA" is not supported; expected "LILY" or "LORA"/);
    fs.writeFileSync(configFile, JSON.stringify({ ...config, r: 4 }));
    assert.throws(() => readPeftAdapter(dir), /lily_A\.weight" has shape \[3,6\], expected \[4,6\] \(r=4, num_B=2, d_in=6, d_out=5\)/);
    fs.writeFileSync(configFile, JSON.stringify(config));
    const more = makeWeights(lilySettings(), 5).targets;
    assert.throws(() => readPeftAdapter(dir, { targets: more }), /missing tensor "base_model\.model\.roberta\.encoder\.layer\.4\.attention\.self\.value\.lily_A\.weight"/);
    const fewer = makeWeights(lilySettings(), 3).targets;
    assert.throws(() => readPeftAdapter(dir, { targets: fewer }), /adapter layers not in the model's targets: roberta\.encoder\.layer\.3\.attention\.self\.value/);
  });

  it('the compact file stores each shared tensor once and round-trips exactly', () => {
    const w = makeWeights(lilySettings());
    writePeftAdapter(dir, w);
    const compact = path.join(dir, COMPACT_ADAPTER_FILE);
    writeCompactAdapter(compact, w);
    const back = readCompactAdapter(compact);
    assert.deepStrictEqual(back.settings, w.settings);
    assert.deepStrictEqual(back.targets, w.targets);
    assert.deepStrictEqual(back.saved, w.saved);
    tensorsEqual(w.tensors, back.tensors);
    const unique = w.targets.reduce((n, t) => n + new Set(layerTensorNames('lily', t).flatMap((x) => [x.A, x.B, x.router])).size, 0) + 2;
    assert.strictEqual(readSafetensors(compact).tensors.size, unique);
    assert.ok(fs.statSync(compact).size < fs.statSync(path.join(dir, PEFT_FILES.weights)).size);
    assert.throws(() => readCompactAdapter(path.join(dir, PEFT_FILES.weights)), /not a compact Lily adapter \(metadata format "pt"/);
  });
});
