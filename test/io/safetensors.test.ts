// safetensors: round trip, layout as the reference writer does it, dtype decoding checked against
// numpy/torch, and clear errors for malformed headers.
import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { decodeSafetensors, encodeSafetensors, readSafetensors, toFloat32, writeSafetensors } from '../../native-runtime/io/safetensors';
import { tempDir } from '../helpers/tempDir';
import { projectPython } from '../helpers/torch';

/** Builds a file by hand: header JSON as given, then `data` bytes. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): Uint8Array {
  const json = Buffer.from(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function python(code: string, args: string[]): string {
  const r = spawnSync(projectPython(), ['-c', code, ...args], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout;
}

describe('safetensors', function () {
  this.timeout(60000);
  let dir: string;
  before(() => { dir = tempDir('lily-st-'); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('round-trips F32/F64/I64/I32 tensors and metadata, keys sorted, data 8-byte aligned', () => {
    const bytes = encodeSafetensors({
      'z.weight': { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 4, 5, 6]) },
      'a.ids': { shape: [3], data: BigInt64Array.from([1n, -2n, 9007199254740993n]) },
      'm.f64': { shape: [], data: Float64Array.from([Math.PI]) },
      'b.i32': { shape: [1, 2], data: Int32Array.from([7, -7]) },
    }, { format: 'pt', note: 'hi' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.strictEqual((8 + n) % 8, 0, 'data section starts 8-byte aligned');
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString());
    assert.deepStrictEqual(Object.keys(header), ['__metadata__', 'a.ids', 'b.i32', 'm.f64', 'z.weight']);
    assert.deepStrictEqual(header['a.ids'].data_offsets, [0, 24]);
    const back = decodeSafetensors(bytes);
    assert.deepStrictEqual(back.metadata, { format: 'pt', note: 'hi' });
    assert.deepStrictEqual([...back.tensors.keys()], ['a.ids', 'b.i32', 'm.f64', 'z.weight']);
    assert.deepStrictEqual(back.tensors.get('z.weight'), { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 4, 5, 6]) });
    assert.deepStrictEqual([...(back.tensors.get('a.ids')!.data as BigInt64Array)], [1n, -2n, 9007199254740993n]);
    assert.strictEqual((back.tensors.get('m.f64')!.data as Float64Array)[0], Math.PI);
    assert.deepStrictEqual([...back.tensors.get('b.i32')!.data], [7, -7]);
  });

  it('is read by an independent numpy parser with the same values', () => {
    const file = path.join(dir, 'ours.safetensors');
    const w = Float32Array.from({ length: 12 }, (_, i) => i / 7 - 0.5);
    writeSafetensors(file, { w: { shape: [3, 4], data: w }, ids: { shape: [2], data: BigInt64Array.from([5n, 6n]) } }, { format: 'pt' });
    const out = JSON.parse(python(`
import json, struct, sys, numpy as np
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8+n]); data = b[8+n:]
dt = {'F32': '<f4', 'I64': '<i8'}
res = {k: np.frombuffer(data[v['data_offsets'][0]:v['data_offsets'][1]], dtype=dt[v['dtype']]).reshape(v['shape']).tolist() for k, v in h.items() if k != '__metadata__'}
res['__metadata__'] = h['__metadata__']
print(json.dumps(res))`, [file]));
    assert.deepStrictEqual(out.__metadata__, { format: 'pt' });
    assert.deepStrictEqual(out.ids, [5, 6]);
    assert.deepStrictEqual(out.w.flat(), [...w]);
  });

  it('decodes F16 and BF16 files written by numpy/torch to the same float values', () => {
    const file = path.join(dir, 'half.safetensors');
    // Layout in insertion (not sorted) order, unpadded header: the reader must not assume our writer.
    const expected = JSON.parse(python(`
import json, struct, sys, numpy as np, torch
vals = [0.0, -1.5, 3.140625, 65504.0, 6.1e-05, 1e-07, -0.0999755859375]
f16 = np.array(vals, dtype=np.float16)
bf16 = torch.tensor(vals, dtype=torch.float32).to(torch.bfloat16)
bf_bits = bf16.view(torch.int16).numpy().astype('<i2').tobytes()
parts = [('h', 'F16', f16.astype('<f2').tobytes()), ('bf', 'BF16', bf_bits), ('i', 'I64', np.array([3, -4], dtype='<i8').tobytes())]
header, off, blob = {}, 0, b''
for name, dt, raw in parts:
    header[name] = {'dtype': dt, 'shape': [len(raw) // (8 if dt == 'I64' else 2)], 'data_offsets': [off, off + len(raw)]}
    off += len(raw); blob += raw
hj = json.dumps(header).encode()
open(sys.argv[1], 'wb').write(struct.pack('<Q', len(hj)) + hj + blob)
print(json.dumps({'h': f16.astype(np.float32).tolist(), 'bf': bf16.float().tolist()}))`, [file]));
    const f = readSafetensors(file);
    assert.deepStrictEqual([...toFloat32(f.tensors.get('h')!)], expected.h);
    assert.deepStrictEqual([...toFloat32(f.tensors.get('bf')!)], expected.bf);
    assert.deepStrictEqual([...f.tensors.get('i')!.data], [3n, -4n]);
    assert.throws(() => toFloat32(f.tensors.get('i')!, 'ids'), /ids: expected a floating-point tensor, found I64/);
  });

  describe('malformed files', () => {
    const f32 = (n: number) => new Uint8Array(new Float32Array(n).buffer);
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['shorter than 8 bytes', new Uint8Array(5), /the file is 5 bytes, shorter than the 8-byte header length/],
      ['a header length past the end', rawFile({}, new Uint8Array(0), 500n), /header length 500 runs past the end of the \d+-byte file/],
      ['an absurd header length', rawFile({}, new Uint8Array(0), 1n << 40n), /exceeds the 100000000-byte limit/],
      ['a header that is not JSON', (() => { const b = rawFile({ a: 1 }); b[8] = 0x7a; return b; })(), /header is not valid JSON/],
      ['an unsupported dtype', rawFile({ x: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /tensor "x": unsupported dtype "F8_E4M3"/],
      ['overlapping offsets', rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32(3)), /tensor "b": data_offsets \[4, 12\] overlap the previous tensor \(which ends at 8\)/],
      ['out-of-range offsets', rawFile({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(2)), /tensor "a": data_offsets \[0, 16\] run past the 8 bytes of tensor data/],
      ['a size that disagrees with the shape', rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32(2)), /tensor "a": F32 \[3\] needs 12 bytes but data_offsets \[0, 8\] span 8/],
      ['a gap between tensors', rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32(2)), /tensor "a": gap of 4 bytes before its data_offsets \[4, 8\]/],
      ['trailing bytes', rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(2)), /tensors cover 4 bytes but the data section holds 8/],
      ['non-string metadata', rawFile({ __metadata__: { step: 3 } }), /"__metadata__"."step" must be a string, found 3/],
      ['a negative shape', rawFile({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }), /tensor "a": shape \[-1\] must be a list of non-negative integers/],
    ];
    for (const [what, bytes, message] of cases) {
      it(`rejects ${what}, naming the file`, () => {
        assert.throws(() => decodeSafetensors(bytes, 'bad.safetensors'), (e: Error) => {
          assert.match(e.message, /^bad\.safetensors: invalid safetensors file: /);
          assert.match(e.message, message);
          return true;
        });
      });
    }
  });

  it('refuses to write data that disagrees with its shape', () => {
    assert.throws(() => encodeSafetensors({ a: { shape: [2, 2], data: new Float32Array(3) } }), /tensor "a": shape \[2,2\] holds 4 values but the data has 3/);
  });
});
