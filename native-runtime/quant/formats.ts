// Weight-only quantization of frozen matrices (model.weights_dtype), as plain arrays. The step
// graph dequantizes them back to float32 right before each product that reads them
// (quant/rewrite.ts), so these layouts are chosen for onnxruntime's opset-13 DequantizeLinear:
// - int8: symmetric, one scale per column (last axis) of the stored [rows, cols] matrix:
//   w = q * scale[col], q in [-127, 127]. DequantizeLinear(axis=1) in one pass.
// - int4: asymmetric, one scale and zero point per group of INT4_GROUP consecutive elements of
//   the last axis: w = (q - zero) * scale, q in [0, 15]. Stored two per byte: byte j of a
//   group holds element j (low nibble) and element j + INT4_GROUP/2 (high nibble), so the two
//   nibble planes, unpacked with a shift each, concatenate back into group order without an
//   interleave; then DequantizeLinear(axis=0) over [groups, INT4_GROUP] is one pass.
//   (onnxruntime-node cannot feed 4-bit tensors, and opset 21's blocked DequantizeLinear would
//   move the whole step graph to opset 21.)
// - bfloat16: the upper 16 bits of the float32, rounded to nearest even.

/** Elements per int4 group (scale + zero point each). */
export const INT4_GROUP = 32;

export type WeightsDtype = 'float32' | 'bfloat16' | 'int8' | 'int4';

export interface Int8Weight {
  kind: 'int8';
  dims: [number, number];
  q: Int8Array;
  /** [cols] */
  scale: Float32Array;
}

export interface Int4Weight {
  kind: 'int4';
  dims: [number, number];
  /** [groups, INT4_GROUP / 2] */
  packed: Uint8Array;
  /** [groups] */
  scale: Float32Array;
  /** [groups] */
  zero: Uint8Array;
}

export interface Bf16Weight {
  kind: 'bfloat16';
  dims: [number, number];
  /** Raw bfloat16 bits. */
  bits: Uint16Array;
}

export type QuantizedWeight = Int8Weight | Int4Weight | Bf16Weight;

export function quantizeInt8(w: Float32Array, rows: number, cols: number): Int8Weight {
  const scale = new Float32Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) {
      const a = Math.abs(w[o + c]);
      if (a > scale[c]) scale[c] = a;
    }
  }
  for (let c = 0; c < cols; c++) scale[c] = scale[c] > 0 ? Math.fround(scale[c] / 127) : 1;
  const q = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) q[o + c] = Math.max(-127, Math.min(127, Math.round(w[o + c] / scale[c])));
  }
  return { kind: 'int8', dims: [rows, cols], q, scale };
}

export function dequantizeInt8(x: Int8Weight): Float32Array {
  const [rows, cols] = x.dims;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = x.q[r * cols + c] * x.scale[c];
  return out;
}

/** Whether a [rows, cols] matrix can be stored as int4 (its groups must not straddle rows). */
export function int4Fits(cols: number): boolean {
  return cols % INT4_GROUP === 0;
}

export function quantizeInt4(w: Float32Array, rows: number, cols: number): Int4Weight {
  if (!int4Fits(cols)) throw new Error(`int4: the last dimension (${cols}) must be a multiple of ${INT4_GROUP}`);
  const groups = (rows * cols) / INT4_GROUP;
  const half = INT4_GROUP / 2;
  const packed = new Uint8Array(groups * half);
  const scale = new Float32Array(groups);
  const zero = new Uint8Array(groups);
  const q = new Uint8Array(INT4_GROUP);
  for (let g = 0; g < groups; g++) {
    const o = g * INT4_GROUP;
    // The range always includes 0, so that zero weights stay exactly zero.
    let lo = 0;
    let hi = 0;
    for (let j = 0; j < INT4_GROUP; j++) {
      const v = w[o + j];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const s = hi > lo ? Math.fround((hi - lo) / 15) : 1;
    const z = Math.max(0, Math.min(15, Math.round(-lo / s)));
    scale[g] = s;
    zero[g] = z;
    for (let j = 0; j < INT4_GROUP; j++) q[j] = Math.max(0, Math.min(15, Math.round(w[o + j] / s) + z));
    for (let j = 0; j < half; j++) packed[g * half + j] = q[j] | (q[j + half] << 4);
  }
  return { kind: 'int4', dims: [rows, cols], packed, scale, zero };
}

export function dequantizeInt4(x: Int4Weight): Float32Array {
  const half = INT4_GROUP / 2;
  const groups = x.scale.length;
  const out = new Float32Array(groups * INT4_GROUP);
  for (let g = 0; g < groups; g++) {
    const s = x.scale[g];
    const z = x.zero[g];
    for (let j = 0; j < half; j++) {
      const b = x.packed[g * half + j];
      out[g * INT4_GROUP + j] = Math.fround(((b & 15) - z) * s);
      out[g * INT4_GROUP + j + half] = Math.fround(((b >> 4) - z) * s);
    }
  }
  return out;
}

export function quantizeBf16(w: Float32Array, rows: number, cols: number): Bf16Weight {
  const u32 = new Uint32Array(w.buffer, w.byteOffset, w.length);
  const bits = new Uint16Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const u = u32[i];
    if ((u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0) bits[i] = (u >>> 16) | 0x40; // NaN stays NaN
    else bits[i] = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
  }
  return { kind: 'bfloat16', dims: [rows, cols], bits };
}

export function dequantizeBf16(x: Bf16Weight): Float32Array {
  const u32 = new Uint32Array(x.bits.length);
  for (let i = 0; i < u32.length; i++) u32[i] = x.bits[i] << 16;
  return new Float32Array(u32.buffer);
}

export function quantize(kind: Exclude<WeightsDtype, 'float32'>, w: Float32Array, rows: number, cols: number): QuantizedWeight {
  if (kind === 'int8') return quantizeInt8(w, rows, cols);
  if (kind === 'int4') return int4Fits(cols) ? quantizeInt4(w, rows, cols) : quantizeInt8(w, rows, cols);
  return quantizeBf16(w, rows, cols);
}

export function dequantize(x: QuantizedWeight): Float32Array {
  return x.kind === 'int8' ? dequantizeInt8(x) : x.kind === 'int4' ? dequantizeInt4(x) : dequantizeBf16(x);
}

/** Bytes the stored form takes. */
export function storedBytes(x: QuantizedWeight): number {
  if (x.kind === 'int8') return x.q.byteLength + x.scale.byteLength;
  if (x.kind === 'int4') return x.packed.byteLength + x.scale.byteLength + x.zero.byteLength;
  return x.bits.byteLength;
}
