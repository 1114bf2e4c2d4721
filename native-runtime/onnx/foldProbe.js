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
exports.dtypeFromOrt = dtypeFromOrt;
exports.zeroOrtTensor = zeroOrtTensor;
exports.ortDataToTensorData = ortDataToTensorData;
exports.ortTensorToIr = ortTensorToIr;
exports.probeValues = probeValues;
exports.probeValuesInOrt = probeValuesInOrt;
// Finds each value's dtype, concrete shape and (when asked) its data for specialisation: first
// by shape inference in JS (shapeInference.ts), then, for whatever that cannot tell (an op
// without a rule, a shape computed from float data), by running the needed part of the model
// once in onnxruntime on dummy inputs with those values exposed as graph outputs: ORT knows
// every op, so it stays the authority, and JS only saves it the work of running the model.
const ort = __importStar(require("onnxruntime-node"));
const onnx_proto_1 = require("onnx-proto");
const ir_1 = require("./ir");
const foldDeadCode_1 = require("./foldDeadCode");
const proto_1 = require("./proto");
const shapeInference_1 = require("./shapeInference");
const ORT_TO_DTYPE = {
    float32: 'float32', float64: 'float64', float16: 'float16', bfloat16: 'bfloat16',
    int64: 'int64', int32: 'int32', int16: 'int16', int8: 'int8',
    uint64: 'uint64', uint32: 'uint32', uint16: 'uint16', uint8: 'uint8',
    bool: 'bool', string: 'string',
};
function dtypeFromOrt(type, what) {
    const d = ORT_TO_DTYPE[type];
    if (!d)
        throw new Error(`${what}: onnxruntime returned a tensor of unsupported type ${type}`);
    return d;
}
/** An all-zero (or empty-string) ORT tensor: zeros are valid indices for every Gather. */
function zeroOrtTensor(dtype, dims) {
    const n = (0, ir_1.tensorSize)(dims);
    switch (dtype) {
        case 'float32': return new ort.Tensor('float32', new Float32Array(n), dims);
        case 'float64': return new ort.Tensor('float64', new Float64Array(n), dims);
        case 'float16': return new ort.Tensor('float16', new Uint16Array(n), dims);
        case 'int64': return new ort.Tensor('int64', new BigInt64Array(n), dims);
        case 'uint64': return new ort.Tensor('uint64', new BigUint64Array(n), dims);
        case 'int32': return new ort.Tensor('int32', new Int32Array(n), dims);
        case 'uint32': return new ort.Tensor('uint32', new Uint32Array(n), dims);
        case 'int16': return new ort.Tensor('int16', new Int16Array(n), dims);
        case 'uint16': return new ort.Tensor('uint16', new Uint16Array(n), dims);
        case 'int8': return new ort.Tensor('int8', new Int8Array(n), dims);
        case 'uint8': return new ort.Tensor('uint8', new Uint8Array(n), dims);
        case 'bool': return new ort.Tensor('bool', new Uint8Array(n), dims);
        case 'string': return new ort.Tensor('string', Array.from({ length: n }, () => ''), dims);
        default: throw new Error(`no dummy input for dtype ${dtype}`);
    }
}
/** Copies ORT output data into an IR-compatible typed array (bool as Uint8Array). */
function ortDataToTensorData(t) {
    const d = t.data;
    if (Array.isArray(d))
        return [...d];
    if (t.type === 'bool')
        return Uint8Array.from(d);
    const ta = d;
    return ta.slice();
}
function ortTensorToIr(name, t) {
    return { name, dtype: dtypeFromOrt(t.type, name), dims: [...t.dims], data: ortDataToTensorData(t) };
}
/**
 * The dtype, concrete shape and (where `keepData(name, dtype, dims)` says so) the data of every
 * requested value; input shapes must be concrete. Shape inference in JS (shapeInference.ts)
 * answers almost everything without running the model; what it cannot work out is computed by
 * onnxruntime on the smallest sub-model that yields it (Shape/Size of values with known shapes
 * and every value known in JS become constants, so the big layers are cut away).
 */
async function probeValues(model, names, keepData, budgetBytes = 256 * 1024 * 1024) {
    const inferred = (0, shapeInference_1.inferShapes)(model);
    const out = new Map();
    const rest = [];
    for (const n of names) {
        const v = inferred.get(n);
        if (!v)
            rest.push(n);
        else if (!keepData(n, v.dtype, v.dims))
            out.set(n, { dtype: v.dtype, dims: v.dims, data: new Float32Array(0) });
        else if (v.data)
            out.set(n, { dtype: v.dtype, dims: v.dims, data: v.data });
        else
            rest.push(n);
    }
    if (rest.length === 0)
        return out;
    const probed = await probeValuesInOrt(pruneForProbe(model, rest, inferred), rest, keepData, budgetBytes);
    for (const [k, v] of probed)
        out.set(k, v);
    return out;
}
/**
 * A copy of `model` that computes just `wanted`: values known in JS (with data) become
 * initializers, Shape/Size of values whose shape is known become constants, and every node
 * that `wanted` does not depend on is dropped.
 */
function pruneForProbe(model, wanted, inferred) {
    const g = model.graph;
    const want = new Set(wanted);
    const initializers = new Map(g.initializers);
    const nodes = [];
    for (const n of g.nodes) {
        const outs = n.outputs.filter((o) => o);
        const constant = outs.length > 0 && outs.every((o) => inferred.get(o)?.data && !want.has(o));
        if (!constant) {
            nodes.push(n);
            continue;
        }
        for (const o of outs) {
            const v = inferred.get(o);
            initializers.set(o, { name: o, dtype: v.dtype, dims: [...v.dims], data: v.data });
        }
    }
    const graph = { ...g, nodes, initializers, outputs: [], valueInfo: new Map() };
    (0, foldDeadCode_1.removeDeadCode)(graph, wanted);
    return { ...model, graph };
}
/**
 * Runs `model` on zero inputs (input shapes must be concrete) and returns every requested
 * value. `keepData(name, dtype, dims)` decides whose data is copied (others get empty data).
 */
async function probeValuesInOrt(model, names, keepData, budgetBytes = 256 * 1024 * 1024) {
    const proto = (0, proto_1.modelToProto)(model);
    const graph = proto.graph;
    graph.output = graph.output ?? [];
    const already = new Set(graph.output.map((o) => o.name));
    const inputNames = new Set(model.graph.inputs.map((i) => i.name));
    // Outputs without a type are allowed: ORT infers their type from the producing node.
    for (const n of names) {
        if (!already.has(n) && !inputNames.has(n)) {
            graph.output.push(onnx_proto_1.onnx.ValueInfoProto.create({ name: n }));
            already.add(n);
        }
    }
    const bytes = onnx_proto_1.onnx.ModelProto.encode(proto).finish();
    let session;
    try {
        session = await ort.InferenceSession.create(bytes, {
            // Disabled: every value is fetched anyway, and fusions must not change what is probed.
            graphOptimizationLevel: 'disabled',
            logSeverityLevel: 3,
        });
    }
    catch (e) {
        throw new Error(`specialize: onnxruntime could not load the model for shape probing: ${e.message}`);
    }
    try {
        const feeds = {};
        for (const inp of model.graph.inputs) {
            const dims = (inp.shape ?? []).map((d) => {
                if (typeof d !== 'number')
                    throw new Error(`specialize: input ${inp.name} still has dynamic dim ${d}`);
                return d;
            });
            feeds[inp.name] = zeroOrtTensor(inp.dtype, dims);
        }
        const wanted = names.filter((n) => !inputNames.has(n));
        // Fetch in chunks so that a large model's intermediates never all sit in memory at
        // once: each run returns at most about `budgetBytes`, judged by the largest value so far.
        const out = new Map();
        let largest = 0;
        for (let at = 0; at < wanted.length;) {
            const chunkLen = largest === 0 ? Math.min(16, wanted.length - at) : Math.max(1, Math.min(wanted.length - at, Math.floor(budgetBytes / largest)));
            const chunk = wanted.slice(at, at + chunkLen);
            at += chunkLen;
            let results;
            try {
                results = await session.run(feeds, chunk);
            }
            catch (e) {
                throw new Error(`specialize: probing run of the model on zero inputs failed: ${e.message}`);
            }
            for (const n of chunk) {
                const t = results[n];
                if (!t)
                    throw new Error(`specialize: onnxruntime did not return value ${n}`);
                const dtype = dtypeFromOrt(t.type, n);
                const dims = [...t.dims];
                largest = Math.max(largest, (0, ir_1.tensorSize)(dims) * Math.max((0, proto_1.bytesPerElement)(dtype), 1));
                out.set(n, { dtype, dims, data: keepData(n, dtype, dims) ? ortDataToTensorData(t) : new Float32Array(0) });
                t.dispose?.();
            }
        }
        return out;
    }
    finally {
        await session.release();
    }
}
//# sourceMappingURL=foldProbe.js.map