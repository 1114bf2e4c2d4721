// The PEFT writer/reader speak the adapter injection's internal names: an adapter taken from an
// injected model, written and read back, initialises a fresh injection to the same tensors.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { resolveAdapterConfig } from '../../native-runtime/adapters/defaults';
import { injectAdapters } from '../../native-runtime/adapters/inject';
import type { AdapterWeights } from '../../native-runtime/io/adapterWeights';
import { readPeftAdapter, writePeftAdapter } from '../../native-runtime/io/peft';
import { tinyModel } from '../adapters/tinyGraph';
import { values } from './adapterFixtures';
import { tempDir } from '../helpers/tempDir';

describe('PEFT format with the adapter injection', () => {
  let dir: string;
  before(() => { dir = tempDir('lily-peft-inj-'); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const method of ['lily', 'lora'] as const) {
    it(`${method}: injection tensors -> PEFT folder -> initial tensors of a new injection`, () => {
      const cfg = resolveAdapterConfig(method === 'lily'
        ? { method, target_modules: ['value'], r: 2, stride_A: 2, num_B: 2, modules_to_save: ['classifier'] }
        : { method, target_modules: ['value'], r: 2, modules_to_save: ['classifier'] });
      const first = injectAdapters(tinyModel(), cfg, { seed: 1 });
      // Trained values: anything non-default, so a wrong mapping cannot pass by accident.
      const tensors = new Map(first.params.map((p, i) => [p.name, { dims: p.dims, data: values(p.init.length, 100 + i) }]));
      const weights: AdapterWeights = { settings: first.config, targets: first.targets, tensors, saved: first.saved };
      const out = path.join(dir, method);
      writePeftAdapter(out, weights);

      const back = readPeftAdapter(out, { targets: first.targets, saved: first.saved });
      assert.deepStrictEqual(back.warnings, []);
      const initial = new Map([...back.weights.tensors].map(([name, t]) => [name, t.data]));
      const second = injectAdapters(tinyModel(), cfg, { seed: 2, initial });
      assert.strictEqual(second.params.length, first.params.length);
      for (const p of second.params) assert.deepStrictEqual(p.init, tensors.get(p.name)!.data, p.name);
    });
  }
});
