"use strict";
var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    var desc = Object.getOwnPropertyDescriptor(m, k);
    if (!desc || ("get" in desc ? !m.__esModule : desc.writable || desc.configurable)) {
      desc = { enumerable: true, get: function() { return m[k]; } };
    }
    Object.defineProperty(o, k2, desc);
}) : (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    o[k2] = m[k];
}));
var __setModuleDefault = (this && this.__setModuleDefault) || (Object.create ? (function(o, v) {
    Object.defineProperty(o, "default", { enumerable: true, value: v });
}) : function(o, v) {
    o["default"] = v;
});
var __importStar = (this && this.__importStar) || (function () {
    var ownKeys = function(o) {
        ownKeys = Object.getOwnPropertyNames || function (o) {
            var ar = [];
            for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) ar[ar.length] = k;
            return ar;
        };
        return ownKeys(o);
    };
    return function (mod) {
        if (mod && mod.__esModule) return mod;
        var result = {};
        if (mod != null) for (var k = ownKeys(mod), i = 0; i < k.length; i++) if (k[i] !== "default") __createBinding(result, mod, k[i]);
        __setModuleDefault(result, mod);
        return result;
    };
})();
Object.defineProperty(exports, "__esModule", { value: true });
exports.dtypeFromOnnx = dtypeFromOnnx;
exports.dtypeToOnnx = dtypeToOnnx;
exports.bytesPerElement = bytesPerElement;
exports.typedArrayFromBytes = typedArrayFromBytes;
exports.tensorBytes = tensorBytes;
exports.isLazyTensor = isLazyTensor;
exports.tensorFromProto = tensorFromProto;
exports.tensorToProto = tensorToProto;
exports.graphFromProto = graphFromProto;
exports.graphToProto = graphToProto;
exports.modelToSessionInput = modelToSessionInput;
exports.modelFromBytes = modelFromBytes;
exports.modelToProto = modelToProto;
exports.modelToBytes = modelToBytes;
exports.loadModel = loadModel;
exports.saveModel = saveModel;
// Conversion between the IR and ONNX protobuf (through the maintained `onnx-proto`
// binding), plus reading and writing .onnx files with external data.
const fs = __importStar(require("fs"));
const path = __importStar(require("path"));
const onnx_proto_1 = require("onnx-proto");
const ir_1 = require("./ir");
const nodeMetadata_1 = require("./nodeMetadata");
const topoSort_1 = require("./topoSort");
const atomic_1 = require("../io/atomic");
const DTYPE_TO_ONNX = {
    float32: 1, uint8: 2, int8: 3, uint16: 4, int16: 5, int32: 6, int64: 7, string: 8, bool: 9,
    float16: 10, float64: 11, uint32: 12, uint64: 13, bfloat16: 16,
};
const ONNX_TO_DTYPE = new Map(Object.entries(DTYPE_TO_ONNX).map(([k, v]) => [v, k]));
function dtypeFromOnnx(code) {
    const d = ONNX_TO_DTYPE.get(code);
    if (!d)
        throw new Error(`unsupported ONNX tensor data type ${code}`);
    return d;
}
function dtypeToOnnx(d) {
    return DTYPE_TO_ONNX[d];
}
const BYTES_PER = {
    float32: 4, float16: 2, bfloat16: 2, float64: 8, int64: 8, int32: 4, int16: 2, int8: 1,
    uint8: 1, uint16: 2, uint32: 4, uint64: 8, bool: 1, string: 0,
};
function bytesPerElement(d) {
    return BYTES_PER[d];
}
function toNum(x) {
    return typeof x === 'number' ? x : x.toNumber();
}
/**
 * A 64-bit protobuf integer exactly. Going through a JS number rounds values above 2^53:
 * INT64_MAX (Slice's "to the end", as keras2onnx and onnx.helper.make_tensor store it in
 * int64_data) became 2^63, which wraps to INT64_MIN in a BigInt64Array: an empty slice.
 */
function toBigInt(x, signed) {
    if (typeof x === 'number')
        return BigInt(x);
    const long = x;
    const v = (BigInt(long.high >>> 0) << 32n) | BigInt(long.low >>> 0);
    return signed ? BigInt.asIntN(64, v) : BigInt.asUintN(64, v);
}
/** Typed array view over little-endian bytes (copied so the result is aligned). */
function typedArrayFromBytes(dtype, bytes, count) {
    const need = count * BYTES_PER[dtype];
    if (bytes.byteLength < need)
        throw new Error(`tensor data too short: ${bytes.byteLength} bytes, expected ${need}`);
    const buf = new ArrayBuffer(need);
    new Uint8Array(buf).set(bytes.subarray(0, need));
    switch (dtype) {
        case 'float32': return new Float32Array(buf);
        case 'float64': return new Float64Array(buf);
        case 'int64': return new BigInt64Array(buf);
        case 'uint64': return new BigUint64Array(buf);
        case 'int32': return new Int32Array(buf);
        case 'uint32': return new Uint32Array(buf);
        case 'int16': return new Int16Array(buf);
        case 'uint16':
        case 'float16':
        case 'bfloat16': return new Uint16Array(buf);
        case 'int8': return new Int8Array(buf);
        case 'uint8':
        case 'bool': return new Uint8Array(buf);
        default: throw new Error(`no byte layout for ${dtype}`);
    }
}
function tensorBytes(t) {
    if (t.dtype === 'string')
        throw new Error(`string tensor ${t.name} has no raw bytes`);
    const d = t.data;
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}
function emptyData(dtype, n) {
    return typedArrayFromBytes(dtype, new Uint8Array(n * BYTES_PER[dtype]), n);
}
function readExternal(name, file, offset, length) {
    let fd;
    try {
        fd = fs.openSync(file, 'r');
    }
    catch (e) {
        throw new Error(`initializer ${name}: cannot open external data file ${file}: ${e.message}`);
    }
    try {
        const bytes = Buffer.allocUnsafeSlow(length);
        let got = 0;
        // readSync reads at most 2 GB at a time.
        while (got < length) {
            const k = fs.readSync(fd, bytes, got, Math.min(length - got, 1 << 30), offset + got);
            if (k === 0)
                break;
            got += k;
        }
        if (got < length)
            throw new Error(`initializer ${name}: external data file ${file} is truncated (wanted ${length} bytes at offset ${offset}, got ${got})`);
        return bytes;
    }
    finally {
        fs.closeSync(fd);
    }
}
/** A tensor whose data is read from its external file at each access (ReadOptions.lazyExternalBytes). */
function lazyTensor(name, dtype, dims, n, file, offset, length) {
    let size;
    try {
        size = fs.statSync(file).size;
    }
    catch (e) {
        throw new Error(`initializer ${name}: cannot open external data file ${file}: ${e.message}`);
    }
    if (size < offset + length)
        throw new Error(`initializer ${name}: external data file ${file} is truncated (wanted ${length} bytes at offset ${offset}, the file has ${size})`);
    const t = { name, dtype, dims };
    Object.defineProperty(t, 'data', {
        enumerable: true,
        configurable: true,
        get: () => typedArrayFromBytes(dtype, readExternal(name, file, offset, length), n),
        set: (value) => Object.defineProperty(t, 'data', { value, writable: true, enumerable: true, configurable: true }),
    });
    return t;
}
/** Whether `t.data` is read from disk at each access (loaded with ReadOptions.lazyExternalBytes). */
function isLazyTensor(t) {
    return typeof Object.getOwnPropertyDescriptor(t, 'data')?.get === 'function';
}
function tensorFromProto(p, opts = {}) {
    const dtype = dtypeFromOnnx(p.dataType ?? 0);
    const dims = (p.dims ?? []).map(toNum);
    const n = (0, ir_1.tensorSize)(dims);
    const name = p.name ?? '';
    if (p.dataLocation === onnx_proto_1.onnx.TensorProto.DataLocation.EXTERNAL) {
        const kv = new Map((p.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
        const location = kv.get('location');
        if (!location)
            throw new Error(`initializer ${name}: external data without a location`);
        const file = path.resolve(opts.baseDir ?? '.', location);
        const offset = Number(kv.get('offset') ?? 0);
        const length = kv.has('length') ? Number(kv.get('length')) : n * BYTES_PER[dtype];
        if (opts.lazyExternalBytes !== undefined && length >= opts.lazyExternalBytes)
            return lazyTensor(name, dtype, dims, n, file, offset, length);
        return { name, dtype, dims, data: typedArrayFromBytes(dtype, readExternal(name, file, offset, length), n) };
    }
    if (p.rawData && p.rawData.length > 0)
        return { name, dtype, dims, data: typedArrayFromBytes(dtype, p.rawData, n) };
    if (dtype === 'string')
        return { name, dtype, dims, data: (p.stringData ?? []).map((b) => Buffer.from(b).toString('utf8')) };
    const data = emptyData(dtype, n);
    const src = dtype === 'float32' ? p.floatData ?? [] :
        dtype === 'float64' ? p.doubleData ?? [] :
            dtype === 'int64' ? p.int64Data ?? [] :
                dtype === 'uint64' || dtype === 'uint32' ? p.uint64Data ?? [] :
                    p.int32Data ?? [];
    if (src.length !== n && !(n === 0)) {
        if (src.length === 0)
            throw new Error(`initializer ${name}: no data (${dtype} ${JSON.stringify(dims)})`);
        throw new Error(`initializer ${name}: ${src.length} values for shape ${JSON.stringify(dims)}`);
    }
    for (let i = 0; i < n; i++) {
        if (data instanceof BigInt64Array)
            data[i] = toBigInt(src[i], true);
        else if (data instanceof BigUint64Array)
            data[i] = toBigInt(src[i], false);
        else
            data[i] = toNum(src[i]);
    }
    return { name, dtype, dims, data };
}
function tensorToProto(t) {
    const p = onnx_proto_1.onnx.TensorProto.create({ name: t.name, dataType: dtypeToOnnx(t.dtype), dims: t.dims });
    if (t.dtype === 'string')
        p.stringData = t.data.map((s) => Buffer.from(s, 'utf8'));
    else
        p.rawData = tensorBytes(t);
    return p;
}
function attrFromProto(a, opts) {
    const T = onnx_proto_1.onnx.AttributeProto.AttributeType;
    switch (a.type) {
        case T.FLOAT: return { kind: 'float', value: a.f ?? 0 };
        case T.INT: return { kind: 'int', value: toNum(a.i ?? 0) };
        case T.STRING: return { kind: 'string', value: Buffer.from(a.s ?? new Uint8Array()).toString('utf8') };
        case T.FLOATS: return { kind: 'floats', value: [...(a.floats ?? [])] };
        case T.INTS: return { kind: 'ints', value: (a.ints ?? []).map(toNum) };
        case T.STRINGS: return { kind: 'strings', value: (a.strings ?? []).map((s) => Buffer.from(s).toString('utf8')) };
        case T.TENSOR: return { kind: 'tensor', value: tensorFromProto(a.t, opts) };
        case T.GRAPH: return { kind: 'graph', value: graphFromProto(a.g, opts) };
        default: throw new Error(`attribute ${a.name}: unsupported attribute type ${a.type}`);
    }
}
function attrToProto(name, a) {
    const T = onnx_proto_1.onnx.AttributeProto.AttributeType;
    switch (a.kind) {
        case 'float': return onnx_proto_1.onnx.AttributeProto.create({ name, type: T.FLOAT, f: a.value });
        case 'int': return onnx_proto_1.onnx.AttributeProto.create({ name, type: T.INT, i: a.value });
        case 'string': return onnx_proto_1.onnx.AttributeProto.create({ name, type: T.STRING, s: Buffer.from(a.value, 'utf8') });
        case 'floats': return onnx_proto_1.onnx.AttributeProto.create({ name, type: T.FLOATS, floats: a.value });
        case 'ints': return onnx_proto_1.onnx.AttributeProto.create({ name, type: T.INTS, ints: a.value });
        case 'strings': return onnx_proto_1.onnx.AttributeProto.create({ name, type: T.STRINGS, strings: a.value.map((s) => Buffer.from(s, 'utf8')) });
        case 'tensor': return onnx_proto_1.onnx.AttributeProto.create({ name, type: T.TENSOR, t: tensorToProto(a.value) });
        case 'graph': return onnx_proto_1.onnx.AttributeProto.create({ name, type: T.GRAPH, g: graphToProto(a.value) });
    }
}
function valueInfoFromProto(v) {
    const tt = v.type?.tensorType;
    if (!tt)
        return undefined;
    // A dimension holds a value, a symbolic name, or neither (unknown: named after the value).
    // Decoded messages say which through the `value` oneof; their unset fields read as the
    // prototype defaults (0, ''), so a plain `dimValue != null` test would turn unknown into 0.
    const which = (d) => d.value ??
        (d.dimParam ? 'dimParam' : Object.prototype.hasOwnProperty.call(d, 'dimValue') && d.dimValue != null ? 'dimValue' : undefined);
    const shape = tt.shape
        ? (tt.shape.dim ?? []).map((d, k) => {
            const kind = which(d);
            return kind === 'dimValue' ? toNum(d.dimValue) : kind === 'dimParam' && d.dimParam ? d.dimParam : `${v.name}_dim${k}`;
        })
        : undefined;
    return { name: v.name ?? '', dtype: dtypeFromOnnx(tt.elemType ?? 1), shape };
}
function valueInfoToProto(v) {
    return onnx_proto_1.onnx.ValueInfoProto.create({
        name: v.name,
        type: {
            tensorType: {
                elemType: dtypeToOnnx(v.dtype),
                shape: v.shape ? { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } : undefined,
            },
        },
    });
}
function graphFromProto(g, opts = {}) {
    const initializers = new Map();
    for (const t of g.initializer ?? [])
        initializers.set(t.name ?? '', tensorFromProto(t, opts));
    const nodes = (g.node ?? []).map((n, k) => {
        const attrs = {};
        for (const a of n.attribute ?? [])
            attrs[a.name ?? ''] = attrFromProto(a, opts);
        return {
            name: n.name || `${n.opType}_${k}`,
            opType: n.opType ?? '',
            domain: n.domain === 'ai.onnx' ? '' : n.domain ?? '',
            inputs: [...(n.input ?? [])],
            outputs: [...(n.output ?? [])],
            attrs,
            ...(n.lilyMetadata ? { metadata: n.lilyMetadata } : {}),
        };
    });
    const vis = (list) => (list ?? []).map(valueInfoFromProto).filter((v) => !!v);
    // Older exporters list initializers among the graph inputs; they are not real inputs.
    const inputs = vis(g.input).filter((v) => !initializers.has(v.name));
    const valueInfo = new Map(vis(g.valueInfo).map((v) => [v.name, v]));
    // Out-of-order nodes (ORT accepts them) would break every pass that walks the list.
    return { name: g.name ?? 'graph', nodes: (0, topoSort_1.sortNodesTopologically)(nodes), inputs, outputs: vis(g.output), initializers, valueInfo };
}
function graphToProto(g, opts = {}, ext) {
    const initializer = [];
    for (const t of g.initializers.values()) {
        if (ext && t.dtype !== 'string' && tensorBytes(t).byteLength >= ext.threshold)
            initializer.push(ext.write(t));
        else
            initializer.push(tensorToProto(t));
    }
    return onnx_proto_1.onnx.GraphProto.create({
        name: g.name,
        node: g.nodes.map((n) => onnx_proto_1.onnx.NodeProto.create({
            name: n.name,
            opType: n.opType,
            domain: n.domain,
            input: n.inputs,
            output: n.outputs,
            attribute: Object.entries(n.attrs).map(([k, a]) => attrToProto(k, a)),
        })),
        initializer,
        input: g.inputs.map(valueInfoToProto),
        output: g.outputs.map(valueInfoToProto),
        valueInfo: [...g.valueInfo.values()].map(valueInfoToProto),
    });
}
function externalTensorProto(t, location, offset, length) {
    return onnx_proto_1.onnx.TensorProto.create({
        name: t.name, dataType: dtypeToOnnx(t.dtype), dims: t.dims,
        dataLocation: onnx_proto_1.onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
            { key: 'location', value: location },
            { key: 'offset', value: String(offset) },
            { key: 'length', value: String(length) },
        ],
    });
}
/** Large initializers as views of their own memory (no copy), one pseudo-file each. */
class InMemorySink {
    threshold;
    files = [];
    constructor(threshold) {
        this.threshold = threshold;
    }
    write(t) {
        const data = tensorBytes(t);
        const path = `tensor${this.files.length}.bin`;
        this.files.push({ path, data });
        return externalTensorProto(t, path, 0, data.byteLength);
    }
}
/**
 * Serialises a model for an onnxruntime session with initializers of at least
 * `thresholdBytes` left out of the bytes: they travel as `externalData` (views of the IR's
 * arrays). Serialising a 340 MB model inline took ~0.5 s and left a 340 MB buffer for the
 * garbage collector; this takes milliseconds and allocates nothing large.
 */
function modelToSessionInput(model, thresholdBytes = 4096) {
    const sink = new InMemorySink(thresholdBytes);
    const bytes = onnx_proto_1.onnx.ModelProto.encode(modelToProto(model, {}, sink)).finish();
    return { bytes, externalData: sink.files };
}
/** Appends tensor bytes to one external data file, aligned to 64 bytes (for mmap). */
class ExternalWriter {
    fullPath;
    location;
    threshold;
    offset = 0;
    fd;
    /** The bytes go to a temp file beside `fullPath`; saveModel renames it into place. */
    tempPath;
    constructor(fullPath, location, threshold) {
        this.fullPath = fullPath;
        this.location = location;
        this.threshold = threshold;
        this.tempPath = (0, atomic_1.tempPathFor)(fullPath);
        this.fd = fs.openSync(this.tempPath, 'w');
    }
    write(t) {
        const bytes = tensorBytes(t);
        const pad = (64 - (this.offset % 64)) % 64;
        if (pad)
            fs.writeSync(this.fd, Buffer.alloc(pad));
        this.offset += pad;
        fs.writeSync(this.fd, bytes);
        const p = externalTensorProto(t, this.location, this.offset, bytes.byteLength);
        this.offset += bytes.byteLength;
        return p;
    }
    close() {
        fs.fsyncSync(this.fd);
        fs.closeSync(this.fd);
    }
}
function modelFromBytes(bytes, opts = {}) {
    let m;
    try {
        m = onnx_proto_1.onnx.ModelProto.decode(bytes);
    }
    catch (e) {
        throw new Error(`not a valid ONNX model (protobuf decode failed: ${e.message})`);
    }
    if (!m.graph)
        throw new Error('not a valid ONNX model (no graph)');
    // opset_import is written after the graph; a file cut right after the graph still decodes.
    if (!(m.opsetImport ?? []).some((o) => !o.domain || o.domain === 'ai.onnx')) {
        throw new Error('not a valid ONNX model (no opset_import for the default domain; the file may be truncated)');
    }
    const metadata = (0, nodeMetadata_1.readNodeMetadata)(bytes);
    metadata.forEach((md, k) => { const n = m.graph.node?.[k]; if (md && n)
        n.lilyMetadata = md; });
    let graph;
    if (opts.adoptBytes) {
        // Everything else first (node attributes may hold tensors in these bytes), then the weights.
        const protos = m.graph.initializer ?? [];
        m.graph.initializer = [];
        graph = graphFromProto(m.graph, opts);
        graph.initializers = adoptInitializers(bytes, protos, opts);
        graph.inputs = graph.inputs.filter((i) => !graph.initializers.has(i.name));
    }
    else {
        graph = graphFromProto(m.graph, opts);
    }
    return {
        graph,
        opsetImports: (m.opsetImport ?? []).map((o) => ({ domain: o.domain ?? '', version: toNum(o.version ?? 0) })),
        irVersion: toNum(m.irVersion ?? 8),
        producerName: m.producerName ?? '',
        metadata: Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? ''])),
    };
}
function modelToProto(model, opts = {}, ext) {
    return onnx_proto_1.onnx.ModelProto.create({
        // onnx-proto's IR-version enum stops at 8; opset 17 needs IR 8.
        irVersion: Math.min(model.irVersion || 8, 8),
        producerName: model.producerName || 'lily',
        opsetImport: model.opsetImports.map((o) => ({ domain: o.domain, version: o.version })),
        graph: graphToProto(model.graph, opts, ext),
        metadataProps: Object.entries(model.metadata).map(([key, value]) => ({ key, value })),
    });
}
/** Serialises a model with all data inline (< 2 GB). */
function modelToBytes(model) {
    return onnx_proto_1.onnx.ModelProto.encode(modelToProto(model)).finish();
}
function typedView(dtype, buffer, offset, count) {
    switch (dtype) {
        case 'float32': return new Float32Array(buffer, offset, count);
        case 'float64': return new Float64Array(buffer, offset, count);
        case 'int64': return new BigInt64Array(buffer, offset, count);
        case 'uint64': return new BigUint64Array(buffer, offset, count);
        case 'int32': return new Int32Array(buffer, offset, count);
        case 'uint32': return new Uint32Array(buffer, offset, count);
        case 'int16': return new Int16Array(buffer, offset, count);
        case 'uint16':
        case 'float16':
        case 'bfloat16': return new Uint16Array(buffer, offset, count);
        case 'int8': return new Int8Array(buffer, offset, count);
        case 'uint8':
        case 'bool': return new Uint8Array(buffer, offset, count);
        default: throw new Error(`no byte layout for ${dtype}`);
    }
}
/**
 * The graph initializers of a model decoded from `bytes` (which we own and may rearrange),
 * as aligned views into `bytes` itself: each raw_data block is moved down (copyWithin) to
 * the nearest aligned offset at or above the end of the previous block, over protobuf framing
 * that is no longer needed. Loading then holds one copy of the weights (the file's bytes)
 * instead of the file plus an aligned copy of every tensor: for a 350 MB model the copies
 * doubled the peak, and the file buffer stayed garbage until V8 happened to collect it.
 * Call it after everything else of the model has been decoded into the IR.
 */
function adoptInitializers(bytes, protos, opts) {
    const ab = bytes.buffer;
    const out = new Map();
    const movable = [];
    for (const p of protos) {
        const raw = p.rawData;
        const dtype = p.dataType ? dtypeFromOnnx(p.dataType) : undefined;
        const inBytes = raw && raw.byteLength > 0 && raw.buffer === ab && dtype && dtype !== 'string' && p.dataLocation !== onnx_proto_1.onnx.TensorProto.DataLocation.EXTERNAL;
        if (!inBytes) {
            const t = tensorFromProto(p, opts);
            out.set(t.name, t);
            continue;
        }
        const dims = (p.dims ?? []).map(toNum);
        const length = (0, ir_1.tensorSize)(dims) * BYTES_PER[dtype];
        if (raw.byteLength < length)
            throw new Error(`initializer ${p.name}: raw data has ${raw.byteLength} bytes, expected ${length}`);
        const t = { name: p.name ?? '', dtype, dims, data: new Float32Array(0) };
        out.set(t.name, t);
        movable.push({ t, at: raw.byteOffset, length });
    }
    movable.sort((a, b) => a.at - b.at);
    const whole = new Uint8Array(ab);
    let floor = bytes.byteOffset;
    for (const m of movable) {
        const align = Math.max(1, BYTES_PER[m.t.dtype]);
        const dest = m.at - (m.at % align);
        const count = (0, ir_1.tensorSize)(m.t.dims);
        if (dest < floor) {
            // No aligned room below it (blocks packed closer than the alignment): copy this one.
            m.t.data = typedArrayFromBytes(m.t.dtype, whole.subarray(m.at, m.at + m.length), count);
            continue;
        }
        if (dest !== m.at)
            whole.copyWithin(dest, m.at, m.at + m.length);
        m.t.data = typedView(m.t.dtype, ab, dest, count);
        floor = dest + m.length;
    }
    return out;
}
/**
 * Reads an .onnx file; external data resolves relative to the file's folder. With
 * `lazyExternalBytes`, external tensors of at least that size stay on disk until read.
 */
function loadModel(file, opts = {}) {
    let bytes;
    try {
        bytes = fs.readFileSync(file);
    }
    catch (e) {
        throw new Error(`cannot read model ${file}: ${e.message}`);
    }
    try {
        return modelFromBytes(bytes, { baseDir: path.dirname(path.resolve(file)), adoptBytes: true, lazyExternalBytes: opts.lazyExternalBytes });
    }
    catch (e) {
        throw new Error(`${file}: ${e.message}`);
    }
}
/**
 * Writes an .onnx file. With `externalData`, initializers of at least `thresholdBytes`
 * (default 1 KiB) go to `<file>.data` beside it, as models over 2 GB require.
 * Both files are written to temp files, fsynced and renamed into place (data first, then the
 * model that points into it), so a reader (VS Code watching a run's export folder) never sees
 * a half-written file, and a failed save leaves the previous files as they were.
 */
function saveModel(model, file, opts = {}) {
    let ext;
    if (opts.externalData) {
        const location = path.basename(file) + '.data';
        ext = new ExternalWriter(path.join(path.dirname(file), location), location, opts.thresholdBytes ?? 1024);
    }
    let bytes;
    try {
        bytes = onnx_proto_1.onnx.ModelProto.encode(modelToProto(model, {}, ext)).finish();
        ext?.close();
        if (ext)
            fs.renameSync(ext.tempPath, ext.fullPath);
    }
    catch (e) {
        if (ext) {
            try {
                ext.close();
            }
            catch { /* already closed */ }
            fs.rmSync(ext.tempPath, { force: true });
        }
        throw e;
    }
    (0, atomic_1.writeFileAtomic)(file, bytes);
}
//# sourceMappingURL=proto.js.map