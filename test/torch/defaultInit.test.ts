// Without adapter.init, the torch backend starts from the engine's own seeded initialisation
// (lily_torch/init.py ports adapters/init.ts bit for bit), so a torch run and an ONNX-engine run
// of the same config train the same adapter with no init file passed.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { kaimingUniform } from '../../native-runtime/adapters/init';
import { readCompactAdapter } from '../../native-runtime/io/compactAdapter';
import { lily, PYTHON, torchFixture, trainLosses, writeConfig } from './fixture';

describe('torch backend: the engine\'s default adapter init', function () {
  this.timeout(600_000);

  it('draws the same values as the engine\'s kaimingUniform, bit for bit', () => {
    const cases: Array<[number, number, number, string]> = [
      [32 * 4, 32, 42, 'bert.encoder.layer.0.attention.self.query.lily_A'],
      [4 * 2, 4, 3, 'bert.encoder.layer.1.attention.self.value.lily_router'],
      [1000, 4096, -7, 'model.layers.31.self_attn.v_proj.lora_A'],
      [17, 5, 2 ** 31 + 5, 'ünï/cödé.lily_A'],
    ];
    const code = `import json,sys\nsys.path.insert(0, ${JSON.stringify(path.resolve(__dirname, '../../native-runtime/torch'))})\nimport torch\nfrom lily_torch.init import kaiming_uniform\n` +
      `print(json.dumps([torch.tensor(kaiming_uniform(n, f, s, name), dtype=torch.float32).tolist() for n, f, s, name in ${JSON.stringify(cases)}]))`;
    const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8' });
    assert.strictEqual(r.status, 0, r.stderr);
    const py = JSON.parse(r.stdout) as number[][];
    cases.forEach(([n, f, s, name], i) => assert.deepStrictEqual(py[i], Array.from(kaimingUniform(n, f, s, name)), `case ${name}`));
  });

  for (const method of ['lily', 'lora'] as const) {
    it(`${method}: a torch run and an ONNX run of the same config, no init file, give the same losses and adapter`, () => {
      const d = torchFixture();
      const adapter = method === 'lily' ? { init: 'default' } : { method: 'lora', init: 'default', lora_alpha: 8, r: 4, stride_A: undefined, num_B: undefined, scaling: undefined };
      const runs = (['onnx', 'torch'] as const).map((backend) => {
        const runDir = path.join(d, 'runs', `default-init-${method}-${backend}`);
        const r = lily(['train', writeConfig(`default-init-${method}-${backend}`, backend, { adapter }), '--run-dir', runDir]);
        assert.strictEqual(r.status, 0, `${backend}: ${r.stderr}`);
        return runDir;
      });
      const [onnx, torch] = runs.map(trainLosses);
      assert.strictEqual(onnx.length, 10);
      onnx.forEach((l, i) => assert.ok(Math.abs(l.loss - torch[i].loss) < 1e-4, `step ${l.step}: onnx ${l.loss} vs torch ${torch[i].loss}`));
      // The adapters themselves: A and the routers would differ by O(1/sqrt(d_in)) with another init.
      const [a, b] = runs.map((r) => readCompactAdapter(path.join(r, 'adapter', 'adapter.lily.safetensors')).tensors);
      assert.deepStrictEqual([...b.keys()].sort(), [...a.keys()].sort());
      for (const [name, t] of a) {
        const u = b.get(name)!.data;
        t.data.forEach((v, i) => assert.ok(Math.abs(v - u[i]) < 1e-4, `${name}[${i}]: onnx ${v} vs torch ${u[i]}`));
      }
    });
  }
});
