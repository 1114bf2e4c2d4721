"""Hand-built ONNX files with the quirks third-party exporters produce (tests only; onnx.helper,
no torch, starts in well under a second). One tiny text classifier (input_ids, attention_mask ->
logits [batch, 2]) per name:

    .venv/bin/python test/thirdParty/hand_models.py OUT_ROOT NAME [NAME ...]   -> OUT_ROOT/NAME/model.onnx

  plain              the reference: nodes in order, module paths in node names, opset 17
  unsorted           the same graph with its nodes in reverse order (ONNX Runtime accepts it)
  unsorted-opset12   unsorted, declared at opset 12 (too old to train)
  slice-int64-data   a Slice whose `ends` is INT64_MAX stored in TensorProto.int64_data (keras2onnx,
                     onnx.helper.make_tensor) instead of raw_data
Every variant computes the same function with the same weights as `plain`.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

VOCAB, D, LAYERS, CLASSES = 32, 8, 2, 2
INT64_MAX = 2**63 - 1


def weights():
    rng = np.random.default_rng(0)
    w = {"embeddings.word_embeddings.weight": rng.normal(0, 0.5, (VOCAB, D))}
    for i in range(LAYERS):
        w[f"layer.{i}.query.weight"] = rng.normal(0, 0.4, (D, D))  # [in, out]: MatMul layout
        w[f"layer.{i}.query.bias"] = rng.normal(0, 0.1, (D,))
    w["classifier.weight"] = rng.normal(0, 0.4, (CLASSES, D))  # [out, in]: Gemm transB=1
    w["classifier.bias"] = np.zeros(CLASSES)
    return {k: v.astype(np.float32) for k, v in w.items()}


def graph_nodes(int64_data_slice):
    """emb -> Slice(seq, 0:INT64_MAX) -> per layer: MatMul + Add + Relu -> masked mean -> Gemm."""
    nodes, inits = [], []
    for k, v in weights().items():
        inits.append(numpy_helper.from_array(v, k))
    ends = (helper.make_tensor("slice_ends", TensorProto.INT64, [1], [INT64_MAX]) if int64_data_slice
            else numpy_helper.from_array(np.array([INT64_MAX], np.int64), "slice_ends"))
    inits += [numpy_helper.from_array(np.array([0], np.int64), "slice_starts"), ends,
              numpy_helper.from_array(np.array([1], np.int64), "slice_axes"),
              numpy_helper.from_array(np.array([2], np.int64), "mask_axes")]
    nodes.append(helper.make_node("Gather", ["embeddings.word_embeddings.weight", "input_ids"], ["emb"], name="/embeddings/word_embeddings/Gather"))
    nodes.append(helper.make_node("Slice", ["emb", "slice_starts", "slice_ends", "slice_axes"], ["from_slice_01"], name="/embeddings/Slice"))
    h = "from_slice_01"
    for i in range(LAYERS):
        p = f"/layer.{i}/query"
        nodes.append(helper.make_node("MatMul", [h, f"layer.{i}.query.weight"], [f"{p}/mm"], name=f"{p}/MatMul"))
        nodes.append(helper.make_node("Add", [f"layer.{i}.query.bias", f"{p}/mm"], [f"{p}/add"], name=f"{p}/Add"))
        nodes.append(helper.make_node("Relu", [f"{p}/add"], [f"h{i}"], name=f"/layer.{i}/Relu"))
        h = f"h{i}"
    nodes += [
        helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT, name="/pool/Cast"),
        helper.make_node("Unsqueeze", ["maskf", "mask_axes"], ["mask3"], name="/pool/Unsqueeze"),
        helper.make_node("Mul", [h, "mask3"], ["masked"], name="/pool/Mul"),
        helper.make_node("ReduceSum", ["masked", "slice_axes"], ["summed"], keepdims=0, name="/pool/ReduceSum"),
        helper.make_node("ReduceSum", ["mask3", "slice_axes"], ["count"], keepdims=0, name="/pool/Count"),
        helper.make_node("Div", ["summed", "count"], ["pooled"], name="/pool/Div"),
        helper.make_node("Gemm", ["pooled", "classifier.weight", "classifier.bias"], ["logits"], transB=1, name="/classifier/Gemm"),
    ]
    return nodes, inits


def text_model(nodes, inits, opset=17, extra_opsets=()):
    ins = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
           helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])]
    outs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", CLASSES])]
    g = helper.make_graph(nodes, "third_party", ins, outs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset), *extra_opsets], producer_name="hand_models")
    m.ir_version = 8
    return m


def plain():
    return text_model(*graph_nodes(False))


def unsorted(opset=17):
    nodes, inits = graph_nodes(False)
    return text_model(list(reversed(nodes)), inits, opset)


def slice_int64_data():
    return text_model(*graph_nodes(True))


BUILDERS = {
    "plain": plain,
    "unsorted": unsorted,
    "unsorted-opset12": lambda: unsorted(12),
    "slice-int64-data": slice_int64_data,
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
