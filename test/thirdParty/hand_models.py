"""Hand-built ONNX files with the quirks third-party exporters produce (tests only; onnx.helper,
no torch, starts in well under a second). One tiny text classifier (input_ids, attention_mask ->
logits [batch, 2]) per name:

    .venv/bin/python test/thirdParty/hand_models.py OUT_ROOT NAME [NAME ...]   -> OUT_ROOT/NAME/model.onnx

  plain              the reference: nodes in order, module paths in node names, opset 17
  unsorted           the same graph with its nodes in reverse order (ONNX Runtime accepts it)
  unsorted-opset12   unsorted, declared at opset 12 (too old to train)
  slice-int64-data   a Slice whose `ends` is INT64_MAX stored in TensorProto.int64_data (keras2onnx,
                     onnx.helper.make_tensor) instead of raw_data
  generic-names      node names without module paths (MatMul_3, Gemm_9), weights h.0.attn.c_attn.weight
  dynamo-names       node names node_linear_N, weights val_N, module paths only in the nodes'
                     metadata_props pkg.torch.onnx.name_scopes (torch's dynamo exporter)
  use-cache-branch   plain with an extra bool input use_cache_branch, as optimum's merged decoders have
  tf-suffixes        layers named like a TF export (bert.encoder.layer_0....), two linear families
                     whose last three components agree (attention.output.dense.Tensordot, output.dense.Tensordot)
Every variant computes the same function with the same weights as `plain`.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

VOCAB, D, LAYERS, CLASSES = 32, 8, 2, 2
INT64_MAX = 2**63 - 1


QUERY = [("query", D, D)]
# Two linear families whose last three name components agree (as TF exports of BERT name them:
# ...attention/output/dense/Tensordot and ...output/dense/Tensordot), with different shapes.
TF_LIKE = [("attention.output.dense.Tensordot", D, D), ("intermediate.dense.Tensordot", D, 2 * D),
           ("output.dense.Tensordot", 2 * D, D)]


def graph_nodes(int64_data_slice=False, naming="torchscript", body=QUERY, layer="layer.{i}"):
    """emb -> Slice(seq, 0:INT64_MAX) -> per layer, per linear of `body`: MatMul + Add + Relu ->
    masked mean -> Gemm classifier. `naming` says how nodes and weights are named:
      torchscript  node /layer.0/query/MatMul, weight layer.0.query.weight (module paths in node names)
      generic      node MatMul_12 / Gemm_67, weight layer.0.query.weight (module only in weight names)
      dynamo       node node_linear_3, weight val_12, module path in metadata pkg.torch.onnx.name_scopes
    """
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    counter = [0]

    def fresh(prefix):
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def weight(module, kind, value):
        name = fresh("val") if naming == "dynamo" else f"{module}.{kind}"
        inits.append(numpy_helper.from_array(value.astype(np.float32), name))
        return name

    def linear(op, module, inputs, output, **attrs):
        if naming == "torchscript":
            name = "/" + module.replace(".", "/") + f"/{op}"
        elif naming == "generic":
            name = fresh(op)
        else:
            name = fresh("node_linear")
        node = helper.make_node(op, inputs, [output], name=name, **attrs)
        if naming == "dynamo":
            parts = module.split(".")
            scopes = [""] + [".".join(parts[:k]) for k in range(1, len(parts) + 1)] + ["linear"]
            node.metadata_props.add(key="pkg.torch.onnx.name_scopes", value=repr(scopes))
        nodes.append(node)

    emb = weight("embeddings.word_embeddings", "weight", rng.normal(0, 0.5, (VOCAB, D)))
    ends = (helper.make_tensor("slice_ends", TensorProto.INT64, [1], [INT64_MAX]) if int64_data_slice
            else numpy_helper.from_array(np.array([INT64_MAX], np.int64), "slice_ends"))
    inits += [numpy_helper.from_array(np.array([0], np.int64), "slice_starts"), ends,
              numpy_helper.from_array(np.array([1], np.int64), "slice_axes"),
              numpy_helper.from_array(np.array([2], np.int64), "mask_axes")]
    nodes.append(helper.make_node("Gather", [emb, "input_ids"], ["emb"], name="/embeddings/word_embeddings/Gather"))
    nodes.append(helper.make_node("Slice", ["emb", "slice_starts", "slice_ends", "slice_axes"], ["from_slice_01"], name="/embeddings/Slice"))
    h = "from_slice_01"
    for i in range(LAYERS):
        for name, d_in, d_out in body:
            module = f"{layer.format(i=i)}.{name}"
            w = weight(module, "weight", rng.normal(0, 0.4, (d_in, d_out)))  # [in, out]: MatMul layout
            b = weight(module, "bias", rng.normal(0, 0.1, (d_out,)))
            p = module.replace(".", "_")
            linear("MatMul", module, [h, w], f"{p}_mm")
            nodes.append(helper.make_node("Add", [b, f"{p}_mm"], [f"{p}_add"], name=f"/{p}/Add"))
            nodes.append(helper.make_node("Relu", [f"{p}_add"], [f"{p}_out"], name=f"/{p}/Relu"))
            h = f"{p}_out"
    cw = weight("classifier", "weight", rng.normal(0, 0.4, (CLASSES, D)))  # [out, in]: Gemm transB=1
    cb = weight("classifier", "bias", np.zeros(CLASSES))
    nodes += [
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT, name="/pool/Cast"),
        helper.make_node("Unsqueeze", ["maskf", "mask_axes"], ["mask3"], name="/pool/Unsqueeze"),
        helper.make_node("Mul", [h, "mask3"], ["masked"], name="/pool/Mul"),
        helper.make_node("ReduceSum", ["masked", "slice_axes"], ["summed"], keepdims=0, name="/pool/ReduceSum"),
        helper.make_node("ReduceSum", ["mask3", "slice_axes"], ["count"], keepdims=0, name="/pool/Count"),
        helper.make_node("Div", ["summed", "count"], ["pooled"], name="/pool/Div"),
    ]
    linear("Gemm", "classifier", ["pooled", cw, cb], "logits", transB=1)
    return nodes, inits


def text_model(nodes, inits, opset=17, extra_opsets=(), extra_inputs=()):
    ins = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
           helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]), *extra_inputs]
    outs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", CLASSES])]
    g = helper.make_graph(nodes, "third_party", ins, outs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset), *extra_opsets], producer_name="hand_models")
    m.ir_version = 8
    return m


def plain():
    return text_model(*graph_nodes())


def unsorted(opset=17):
    nodes, inits = graph_nodes()
    return text_model(list(reversed(nodes)), inits, opset)


def slice_int64_data():
    return text_model(*graph_nodes(int64_data_slice=True))


BUILDERS = {
    "plain": plain,
    "unsorted": unsorted,
    "unsorted-opset12": lambda: unsorted(12),
    "slice-int64-data": slice_int64_data,
    "generic-names": lambda: text_model(*graph_nodes(naming="generic", body=[("attn.c_attn", D, D)], layer="h.{i}")),
    "dynamo-names": lambda: text_model(*graph_nodes(naming="dynamo", body=[("attn.c_attn", D, D)], layer="h.{i}")),
    "use-cache-branch": lambda: text_model(*graph_nodes(), extra_inputs=[helper.make_tensor_value_info("use_cache_branch", TensorProto.BOOL, [1])]),
    "tf-suffixes": lambda: text_model(*graph_nodes(body=TF_LIKE, layer="bert.encoder.layer_{i}")),
}


def main():
    root, names = sys.argv[1], sys.argv[2:]
    for name in names:
        if name not in BUILDERS:
            sys.exit(f"unknown model {name!r} (known: {', '.join(BUILDERS)})")
        out = os.path.join(root, name)
        os.makedirs(out, exist_ok=True)
        onnx.save(BUILDERS[name](), os.path.join(out, "model.onnx"))


if __name__ == "__main__":
    main()
