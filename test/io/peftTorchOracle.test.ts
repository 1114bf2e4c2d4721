// The layout conversions checked against torch: the Lily/LoRA update computed the PEFT way
// (torch Linear weights from adapter_model.safetensors, lily_B reshaped to [num_B, r, d_out])
// equals the update computed from the internal tensors with the LILY.md formulas.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { type AdapterWeights, layerTensorNames } from '../../native-runtime/io/adapterWeights';
import { PEFT_FILES, writePeftAdapter } from '../../native-runtime/io/peft';
import { tempDir } from '../helpers/tempDir';
import { runTorch } from '../helpers/torch';
import { lilySettings, loraSettings, makeWeights, values } from './adapterFixtures';

const ROWS = 4; // batch*tokens rows of x

/** x [rows, d_in] times W [d_in, k] */
function matmul(x: Float32Array, w: Float32Array, rows: number, n: number, k: number): Float64Array {
  const out = new Float64Array(rows * k);
  for (let i = 0; i < rows; i++) for (let j = 0; j < k; j++) {
    let s = 0;
    for (let t = 0; t < n; t++) s += x[i * n + t] * w[t * k + j];
    out[i * k + j] = s;
  }
  return out;
}

/** The update of one layer from internal tensors, as LILY.md states it (batch routing) or LoRA's. */
function internalDelta(w: AdapterWeights, module: string, x: Float32Array): number[] {
  const t = w.targets.find((tt) => tt.layers.some((l) => l.module === module))!;
  const n = layerTensorNames(w.settings.method, t).find((l) => l.module === module)!;
  const s = w.settings;
  const h = Float32Array.from(matmul(x, w.tensors.get(n.A)!.data, ROWS, t.d_in, s.r));
  if (s.method === 'lora') return [...matmul(h, w.tensors.get(n.B)!.data, ROWS, s.r, t.d_out)].map((v) => v * s.lora_alpha / s.r);
  const logits = matmul(h, w.tensors.get(n.router!)!.data, ROWS, s.r, s.num_B);
  const p = new Float64Array(s.num_B);
  for (let i = 0; i < ROWS; i++) {
    const row = logits.subarray(i * s.num_B, (i + 1) * s.num_B);
    const m = Math.max(...row);
    const e = [...row].map((v) => Math.exp(v - m));
    const z = e.reduce((a, b) => a + b, 0);
    e.forEach((v, j) => { p[j] += v / z / ROWS; });
  }
  const B = w.tensors.get(n.B)!.data; // [num_B, r, d_out]
  const mix = new Float32Array(s.r * t.d_out);
  for (let e = 0; e < s.num_B; e++) for (let k = 0; k < s.r * t.d_out; k++) mix[k] += p[e] * B[e * s.r * t.d_out + k];
  return [...matmul(h, mix, ROWS, s.r, t.d_out)].map((v) => v * s.scaling);
}

// One torch process for all cases (starting torch costs seconds): inp is a list of cases.
const TORCH_PEFT_FORWARD = `
import struct, numpy as np
import torch.nn.functional as F
def delta(c):
    b = open(c['file'], 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    h = json.loads(b[8:8+n]); data = b[8+n:]
    def t(key):
        v = h['base_model.model.' + key]
        a = np.frombuffer(data[v['data_offsets'][0]:v['data_offsets'][1]], dtype='<f4').reshape(v['shape'])
        return torch.tensor(a.astype(np.float64))
    x = torch.tensor(c['x']).reshape(${ROWS}, -1)
    m = c['module']
    if c['method'] == 'lily':
        hdn = F.linear(x, t(m + '.lily_A.weight'))
        p = torch.softmax(F.linear(hdn, t(m + '.lily_router.weight')), dim=-1).mean(dim=0)
        B = t(m + '.lily_B.weight').reshape(c['num_B'], c['r'], -1)
        d = c['scaling'] * (hdn @ torch.einsum('e,erd->rd', p, B))
    else:
        d = (c['alpha'] / c['r']) * F.linear(F.linear(x, t(m + '.lora_A.weight')), t(m + '.lora_B.weight'))
    return d.reshape(-1).tolist()
out = [delta(c) for c in inp]
`;

describe('PEFT layout vs torch', function () {
  this.timeout(60000);
  let dir: string;
  before(() => { dir = tempDir('lily-peft-torch-'); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the update torch computes from the PEFT file equals the internal-layout update (Lily and LoRA)', () => {
    const cases: Array<{ name: string; ours: number[]; input: Record<string, unknown> }> = [];
    for (const method of ['lily', 'lora'] as const) {
      const w = makeWeights(method === 'lily' ? lilySettings() : loraSettings(), 6);
      const out = path.join(dir, method);
      writePeftAdapter(out, w);
      const s = w.settings;
      // A layer that shares its A with an earlier one (stride_A 4), and one of the other target.
      for (const module of ['roberta.encoder.layer.5.attention.self.value', 'roberta.encoder.layer.1.output.dense']) {
        const d_in = w.targets.find((t) => t.layers.some((l) => l.module === module))!.d_in;
        const x = values(ROWS * d_in, 7);
        cases.push({
          name: `${method} ${module}`,
          ours: internalDelta(w, module, x),
          input: {
            file: path.join(out, PEFT_FILES.weights), x: [...x], module, method,
            r: s.r, num_B: s.method === 'lily' ? s.num_B : 0, scaling: s.method === 'lily' ? s.scaling : 0, alpha: s.method === 'lora' ? s.lora_alpha : 0,
          },
        });
      }
    }
    const torch = runTorch<number[][]>(TORCH_PEFT_FORWARD, cases.map((c) => c.input));
    cases.forEach((c, i) => {
      assert.strictEqual(torch[i].length, c.ours.length, c.name);
      const err = Math.max(...c.ours.map((v, j) => Math.abs(v - torch[i][j])));
      assert.ok(err < 1e-5, `${c.name}: max abs diff ${err}`);
      assert.ok(Math.max(...c.ours.map(Math.abs)) > 1e-3, `${c.name}: the update is not trivially zero`);
    });
  });
});
