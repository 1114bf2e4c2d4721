"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.readNodeMetadata = readNodeMetadata;
exports.moduleFromNameScopes = moduleFromNameScopes;
// Node metadata_props (NodeProto field 9, IR version 10), which the onnx-proto binding predates
// and so drops on decode. torch's dynamo exporter keeps the module path only there
// (`pkg.torch.onnx.name_scopes`: ['', 'model', 'model.layers.0', ..., 'model.layers.0.self_attn.q_proj',
// 'linear']); its node names are generic (`node_linear_3`). Read with protobufjs' wire reader.
const minimal_1 = require("protobufjs/minimal");
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const NODE_METADATA = 9;
const ENTRY_KEY = 1;
const ENTRY_VALUE = 2;
const LENGTH_DELIMITED = 2;
/** Metadata of each top-level node of a serialised ModelProto, by node index; [] when none has any. */
function readNodeMetadata(model) {
    const out = [];
    let any = false;
    const r = minimal_1.Reader.create(model);
    while (r.pos < r.len) {
        const tag = r.uint32();
        if (tag >>> 3 !== MODEL_GRAPH || (tag & 7) !== LENGTH_DELIMITED) {
            r.skipType(tag & 7);
            continue;
        }
        const end = r.uint32() + r.pos;
        while (r.pos < end) {
            const gt = r.uint32();
            if (gt >>> 3 !== GRAPH_NODE || (gt & 7) !== LENGTH_DELIMITED) {
                r.skipType(gt & 7);
                continue;
            }
            const nodeEnd = r.uint32() + r.pos;
            let md;
            while (r.pos < nodeEnd) {
                const nt = r.uint32();
                if (nt >>> 3 !== NODE_METADATA || (nt & 7) !== LENGTH_DELIMITED) {
                    r.skipType(nt & 7);
                    continue;
                }
                const entryEnd = r.uint32() + r.pos;
                let key = '';
                let value = '';
                while (r.pos < entryEnd) {
                    const et = r.uint32();
                    if (et >>> 3 === ENTRY_KEY)
                        key = r.string();
                    else if (et >>> 3 === ENTRY_VALUE)
                        value = r.string();
                    else
                        r.skipType(et & 7);
                }
                (md ??= {})[key] = value;
                any = true;
            }
            out.push(md);
        }
    }
    return any ? out : [];
}
/**
 * The module path a dynamo-exported node came from: the last name scope before the op's own
 * (`model.layers.0.self_attn.q_proj` from [..., 'model.layers.0.self_attn.q_proj', 'linear']).
 */
function moduleFromNameScopes(metadata) {
    const raw = metadata?.['pkg.torch.onnx.name_scopes'];
    if (!raw)
        return undefined;
    // A Python list repr of strings: ['', 'model', ...].
    const scopes = [...raw.matchAll(/'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? m[2]);
    scopes.pop(); // the op itself (linear, addmm, matmul_3)
    for (let i = scopes.length - 1; i >= 0; i--)
        if (scopes[i])
            return scopes[i];
    return undefined;
}
//# sourceMappingURL=nodeMetadata.js.map