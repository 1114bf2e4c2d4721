"use strict";
// Small integer tensors evaluated in JS during shape inference: the shape arithmetic of exported
// models (Shape -> Gather -> Unsqueeze -> Concat -> Reshape, Slice bounds, Range, masks built
// from shapes). Values are bigint so int64 stays exact (INT64_MAX appears as a Slice bound).
// Every helper works on row-major data with explicit dims.
Object.defineProperty(exports, "__esModule", { value: true });
exports.numel = numel;
exports.broadcastDims = broadcastDims;
exports.elementwise = elementwise;
exports.expandTo = expandTo;
exports.gather = gather;
exports.concat = concat;
exports.sliceAxis = sliceAxis;
exports.sliceData = sliceData;
exports.transposeData = transposeData;
function numel(dims) {
    let n = 1;
    for (const d of dims)
        n *= d;
    return n;
}
function strides(dims) {
    const s = new Array(dims.length);
    let acc = 1;
    for (let k = dims.length - 1; k >= 0; k--) {
        s[k] = acc;
        acc *= dims[k];
    }
    return s;
}
/** numpy broadcasting of several shapes; undefined when they do not broadcast. */
function broadcastDims(shapes) {
    const rank = Math.max(0, ...shapes.map((s) => s.length));
    const out = new Array(rank).fill(1);
    for (const s of shapes) {
        for (let k = 0; k < s.length; k++) {
            const o = rank - s.length + k;
            const d = s[k];
            if (d === out[o] || d === 1)
                continue;
            if (out[o] === 1)
                out[o] = d;
            else
                return undefined;
        }
    }
    return out;
}
/** For each element of `outDims`, the flat index into a tensor of `dims` broadcast to it. */
function broadcastIndex(dims, outDims) {
    const n = numel(outDims);
    const outStrides = strides(outDims);
    const inStrides = strides(dims);
    const off = outDims.length - dims.length;
    const idx = new Array(n);
    for (let i = 0; i < n; i++) {
        let src = 0;
        let rem = i;
        for (let k = 0; k < outDims.length; k++) {
            const c = Math.floor(rem / outStrides[k]);
            rem -= c * outStrides[k];
            const kk = k - off;
            if (kk >= 0 && dims[kk] !== 1)
                src += c * inStrides[kk];
        }
        idx[i] = src;
    }
    return idx;
}
/** Elementwise `f` over broadcast operands. */
function elementwise(ts, f) {
    const dims = broadcastDims(ts.map((t) => t.dims));
    if (!dims)
        return undefined;
    const maps = ts.map((t) => broadcastIndex(t.dims, dims));
    const n = numel(dims);
    const data = new Array(n);
    for (let i = 0; i < n; i++)
        data[i] = f(ts.map((t, j) => t.data[maps[j][i]]));
    return { dims, data };
}
function expandTo(t, dims) {
    const map = broadcastIndex(t.dims, dims);
    return { dims, data: map.map((i) => t.data[i]) };
}
/** numpy `take` along `axis` (negative indices wrap). */
function gather(t, indices, axis) {
    const outer = numel(t.dims.slice(0, axis));
    const inner = numel(t.dims.slice(axis + 1));
    const n = t.dims[axis];
    const data = [];
    for (let o = 0; o < outer; o++) {
        for (const raw of indices.data) {
            let j = Number(raw);
            if (j < 0)
                j += n;
            if (j < 0 || j >= n)
                return undefined;
            for (let i = 0; i < inner; i++)
                data.push(t.data[(o * n + j) * inner + i]);
        }
    }
    return { dims: [...t.dims.slice(0, axis), ...indices.dims, ...t.dims.slice(axis + 1)], data };
}
function concat(ts, axis) {
    const outer = numel(ts[0].dims.slice(0, axis));
    const data = [];
    for (let o = 0; o < outer; o++) {
        for (const t of ts) {
            const chunk = numel(t.dims.slice(axis));
            for (let i = 0; i < chunk; i++)
                data.push(t.data[o * chunk + i]);
        }
    }
    const dims = [...ts[0].dims];
    dims[axis] = ts.reduce((s, t) => s + t.dims[axis], 0);
    return { dims, data };
}
/** One axis of an ONNX Slice, clamped as the spec says: the first index and the count. */
function sliceAxis(dim, start, end, step) {
    const st = Number(step);
    const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
    let s = Number(start < -BigInt(Number.MAX_SAFE_INTEGER) ? -Number.MAX_SAFE_INTEGER : start > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : start);
    let e = Number(end < -BigInt(Number.MAX_SAFE_INTEGER) ? -Number.MAX_SAFE_INTEGER : end > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : end);
    if (s < 0)
        s += dim;
    if (e < 0)
        e += dim;
    if (st > 0) {
        s = clamp(s, 0, dim);
        e = clamp(e, 0, dim);
    }
    else {
        s = clamp(s, 0, dim - 1);
        e = clamp(e, -1, dim - 1);
    }
    const count = Math.max(0, Math.ceil((e - s) / st));
    return { first: s, count, step: st };
}
/** Strided selection: per axis, `count` indices from `first` by `step`. */
function sliceData(t, axes) {
    const inStrides = strides(t.dims);
    const base = axes.reduce((acc, a, k) => acc + a.first * inStrides[k], 0);
    return strided(t, axes.map((a) => a.count), axes.map((a, k) => a.step * inStrides[k]), base);
}
function transposeData(t, perm) {
    const dims = perm.map((p) => t.dims[p]);
    const inStrides = strides(t.dims);
    return strided(t, dims, perm.map((p) => inStrides[p]), 0);
}
/** Output element at index (c_0, ..., c_n) reads the input at `base + Σ c_k · srcStrides[k]`. */
function strided(t, dims, srcStrides, base) {
    const outStrides = strides(dims);
    const n = numel(dims);
    const data = new Array(n);
    for (let i = 0; i < n; i++) {
        let rem = i;
        let src = base;
        for (let k = 0; k < dims.length; k++) {
            const c = Math.floor(rem / outStrides[k]);
            rem -= c * outStrides[k];
            src += c * srcStrides[k];
        }
        data[i] = t.data[src];
    }
    return { dims, data };
}
//# sourceMappingURL=shapeData.js.map