"""For streamDecoder.test.ts: generates a small decoder with scripts/memory/stream_decoder.py and
exports the same model directly with hf_decoder.py, then prints one JSON line comparing them:
- the graphs' edges (producer -> consumer, by node name and op; the exporter's anonymous
  `onnx::X_N` / `Constant_N` numbers blanked, since both files number them independently);
- the generated model's logits (onnxruntime) against transformers' forward with the generated
  weights loaded into the model class (MatMul weights transposed back, biases from the Adds);
- the parameter count in config.json against the model class's.

    .venv/bin/python test/memory/stream_decoder_check.py ARCH LAYERS OUT_DIR
"""
import json
import os
import re
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../scripts/memory"))
from hf_decoder import export  # noqa: E402
from stream_decoder import generate  # noqa: E402

ANON = re.compile(r"^(onnx::[A-Za-z]+_|Constant_|Identity_)\d+$")


def edges(graph):
    produced = {o: n.name for n in graph.node for o in n.output}
    blank = lambda s: ANON.sub(lambda m: m.group(1) + "#", s)  # noqa: E731
    return sorted((blank(produced.get(i, i)), n.op_type, blank(n.name)) for n in graph.node for i in n.input)


def hf_state(model_file):
    """The transformers state dict that the ONNX weights stand for (by the nodes' module scopes)."""
    m = onnx.load(model_file)
    init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    state = {}
    for n in m.graph.node:
        scope = ".".join(n.name.split("/")[2:-1])  # /model/model/layers.0/self_attn/q_proj/MatMul
        if n.op_type == "MatMul" and n.input[1] in init:
            state[f"{scope}.weight"] = torch.from_numpy(init[n.input[1]].T.copy())
        elif n.op_type == "Add" and scope.endswith("_proj") and any(i in init for i in n.input):
            bias = next(i for i in n.input if i in init)
            state[f"{scope}.bias"] = torch.from_numpy(init[bias].copy())
        elif n.op_type == "Gather" and n.input[0] in init:
            state["model.embed_tokens.weight"] = torch.from_numpy(init[n.input[0]].copy())
    return state


def main():
    arch, layers, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    cfg = {"num_hidden_layers": layers}
    gen_dir, real_dir = os.path.join(out, "generated"), os.path.join(out, "direct")
    generate(arch, gen_dir, cfg, seed=3, std=0.05, batch=2, seq=8)
    model = export(arch, real_dir, cfg, 0, True, 2, 8)
    gen = onnx.load(os.path.join(gen_dir, "model.onnx"), load_external_data=False).graph
    real = onnx.load(os.path.join(real_dir, "model.onnx"), load_external_data=False).graph
    state = hf_state(os.path.join(gen_dir, "model.onnx"))
    result = model.load_state_dict(state, strict=False)
    ids = np.random.default_rng(1).integers(0, model.config.vocab_size, (2, 8))
    onnx_logits = ort.InferenceSession(os.path.join(gen_dir, "model.onnx")).run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]
    with torch.no_grad():
        hf_logits = model(input_ids=torch.from_numpy(ids), attention_mask=torch.ones(2, 8, dtype=torch.long)).logits.numpy()
    meta = json.load(open(os.path.join(gen_dir, "config.json")))
    with open(os.path.join(gen_dir, "model.onnx.data"), "rb") as f:
        data = f.read()
    print(json.dumps({
        "nodes": [len(gen.node), len(real.node)],
        "same_edges": edges(gen) == edges(real),
        "loaded": len(state),
        "not_loaded": [k for k in result.missing_keys if "norm" not in k],
        "unexpected": list(result.unexpected_keys),
        "max_logit_diff": float(np.abs(onnx_logits - hf_logits).max()),
        "max_logit": float(np.abs(hf_logits).max()),
        "parameters": [meta["parameters"], sum(p.numel() for p in model.parameters())],
        "weight_std": float(np.frombuffer(data, dtype=np.float32)[-4096:].std()),
    }))


if __name__ == "__main__":
    main()
