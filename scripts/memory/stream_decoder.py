"""Write a transformers decoder too large to build in memory (a Llama-7B-shaped one is 27 GB in
float32 on a 24 GiB machine) as the ONNX file its export would be, with random weights.

    .venv/bin/python scripts/memory/stream_decoder.py --arch llama --out DIR --config JSON
        [--batch 4 --seq 512] [--seed 0] [--std 0.02]

How: scripts/memory/hf_decoder.py exports a two-layer twin of the model (same widths, vocab and
shape; transformers' own modeling code, the legacy TorchScript exporter) into a scratch folder.
Every block of such an export is the same subgraph with `layers.N` in its names, fed by the
previous block's output and by tensors computed once before the blocks (mask, rotary tables).
The second block's subgraph is repeated for blocks 2..L-1 with its names renumbered (anonymous
`onnx::*` tensors get fresh numbers), the final norm is rewired to the last block, and the file
is written tensor by tensor: weight matrices (the MatMul and embedding tables) get fresh random
values, N(0, std) like transformers' init, drawn and written in slices so memory stays at one
slice; every other tensor (norm scales, biases, constants) is copied from the twin. DIR receives
model.onnx + model.onnx.data (offsets aligned to 4 KiB) and config.json (the full model's config,
"arch", "parameters", and "generated_by").

test/memory/streamDecoder.test.ts checks that the result equals a direct export of the same
model (same nodes) and computes what transformers computes with those weights.
"""
import argparse
import json
import os
import re
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

LAYER = re.compile(r"layers\.(\d+)(?=[/.])")
ANON = re.compile(r"^(onnx::[A-Za-z]+_|Constant_|Identity_)(\d+)$")
ALIGN = 4096
SLICE = 1 << 24  # values drawn and written at a time (64 MB of float32)


def layer_of(name):
    m = LAYER.search(name)
    return int(m.group(1)) if m else None


def split_template(graph):
    """Finds block 1 of a two-block export: its nodes (by scope, plus the unscoped Constant /
    Identity nodes only it consumes), the block-0 tensor it reads (the residual stream) and its
    output read after it (by the final norm)."""
    nodes = list(graph.node)
    consumers = {}
    for i, n in enumerate(nodes):
        for t in n.input:
            consumers.setdefault(t, set()).add(i)
    block = {i for i, n in enumerate(nodes) if layer_of(n.name) == 1 or any(layer_of(o) == 1 for o in n.output)}
    changed = True
    while changed:  # unscoped producers whose every consumer is in block 1
        changed = False
        for i, n in enumerate(nodes):
            if i in block or layer_of(n.name) is not None or any(layer_of(o) is not None for o in n.output):
                continue
            users = set().union(*(consumers.get(o, set()) for o in n.output)) if n.output else set()
            if users and users <= block:
                block.add(i)
                changed = True
    produced_by = {o: i for i, n in enumerate(nodes) for o in n.output}
    produced_in_block = {o for i in block for o in nodes[i].output}
    from_block0 = {t for i in block for t in nodes[i].input
                   if t in produced_by and produced_by[t] not in block and layer_of(nodes[produced_by[t]].name) == 0}
    outs = {t for i, n in enumerate(nodes) if i not in block for t in n.input if t in produced_in_block}
    outs |= {o.name for o in graph.output if o.name in produced_in_block}
    if len(outs) != 1:
        raise SystemExit(f"stream_decoder: block 1 has {len(outs)} outputs read outside it ({sorted(outs)[:4]}); expected one")
    block_out = outs.pop()
    # The exporter shares common subexpressions: later blocks read block 0's copies of the
    # rotary tables (as a direct export of L blocks does too). Only the residual stream chains.
    residual_in = LAYER.sub(lambda m: "layers.0", block_out)
    if residual_in not in from_block0:
        raise SystemExit(f"stream_decoder: block 1 does not read block 0's output {residual_in}: the blocks differ")
    return sorted(block), residual_in, block_out


def renumber(name, k):
    return LAYER.sub(lambda m: f"layers.{k}" if m.group(1) == "1" else m.group(0), name)


def grow(model, layers):
    """Returns (nodes, initializer names in write order, {new initializer name: template name})."""
    from onnx import NodeProto
    g = model.graph
    nodes = list(g.node)
    block, residual_in, block_out = split_template(g)
    block_set = set(block)
    init_names = [t.name for t in g.initializer]
    block_inputs = {t for i in block for t in nodes[i].input}
    other_inputs = {t for i, n in enumerate(nodes) if i not in block_set for t in n.input}
    own_inits = [t for t in init_names if t in block_inputs and t not in other_inputs]
    produced_in_block = {o for i in block for o in nodes[i].output}
    numbers = [int(m.group(2)) for s in [n.name for n in nodes] + [o for n in nodes for o in n.output] + init_names
               for m in [ANON.match(s)] if m]
    counter = [max(numbers, default=0) + 1]

    def fresh(name):
        m = ANON.match(name)
        counter[0] += 1
        return f"{m.group(1)}{counter[0]}"

    new_nodes = nodes[: block[-1] + 1]
    tail = nodes[block[-1] + 1:]
    source_of = {}
    last_out = block_out
    for k in range(2, layers):
        names = {}

        def rename(t):
            if t in names:
                return names[t]
            if t == residual_in:
                new = LAYER.sub(lambda m: f"layers.{k - 1}", block_out)
            elif layer_of(t) == 1:
                new = renumber(t, k)
            elif (t in produced_in_block or t in own_inits) and ANON.match(t):
                new = fresh(t)
            elif t in produced_in_block or t in own_inits:
                new = f"{t}_l{k}"
            else:
                return t  # shared: computed before the blocks, a graph input, a shared initializer
            names[t] = new
            return new

        for init in own_inits:
            source_of[rename(init)] = init
        for i in block:
            n = nodes[i]
            c = NodeProto()
            c.CopyFrom(n)
            c.name = renumber(n.name, k) if layer_of(n.name) == 1 else (fresh(n.name) if ANON.match(n.name) else f"{n.name}_l{k}")
            c.ClearField("input")
            c.ClearField("output")
            c.input.extend(rename(t) for t in n.input)
            c.output.extend(rename(t) for t in n.output)
            new_nodes.append(c)
        last_out = rename(block_out)
    for n in tail:
        for j, t in enumerate(n.input):
            if t == block_out:
                n.input[j] = last_out
        new_nodes.append(n)
    for o in g.output:
        if o.name == block_out:
            o.name = last_out
    order = []
    for t in init_names:
        order.append(t)
        if t == own_inits[-1]:
            order.extend(source_of)  # the clones follow the block's own weights
    return new_nodes, order, source_of


def weight_names(graph):
    """Float matrices the model multiplies by or looks up in: the ones a checkpoint would hold."""
    names = set()
    for n in graph.node:
        if n.op_type in ("MatMul", "Gemm") and len(n.input) > 1:
            names.add(n.input[1])
        if n.op_type == "Gather":
            names.add(n.input[0])
    return names


def write(template_dir, out_dir, layers, seed, std):
    import onnx
    from onnx import TensorProto, numpy_helper
    model = onnx.load(os.path.join(template_dir, "model.onnx"), load_external_data=False)
    g = model.graph
    nodes, order, source_of = grow(model, layers)
    template = {t.name: t for t in g.initializer}
    weights = weight_names(g)
    for s, src in source_of.items():
        if src in weights:
            weights.add(s)
    os.makedirs(out_dir, exist_ok=True)
    data_path = os.path.join(out_dir, "model.onnx.data")
    inits = []
    with open(data_path, "wb") as f:
        for idx, name in enumerate(order):
            src = template[source_of.get(name, name)]
            t = TensorProto()
            t.CopyFrom(src)
            t.name = name
            n = int(np.prod(src.dims)) if len(src.dims) else 1
            random_weight = name in weights and src.data_type == TensorProto.FLOAT and len(src.dims) == 2
            if random_weight:
                rng = np.random.default_rng([seed, idx])  # one stream per tensor: reproducible
                blob_len = n * 4
            else:
                arr = numpy_helper.to_array(src, base_dir=template_dir)
                blob = arr.tobytes()
                blob_len = len(blob)
            if blob_len < 1024 and not random_weight:
                inits.append(numpy_helper.from_array(arr, name))
                continue
            pad = (-f.tell()) % ALIGN
            f.write(b"\0" * pad)
            offset = f.tell()
            if random_weight:
                left = n
                while left:
                    k = min(SLICE, left)
                    (rng.standard_normal(k, dtype=np.float32) * np.float32(std)).tofile(f)
                    left -= k
            else:
                f.write(blob)
            t.ClearField("raw_data")
            t.ClearField("float_data")
            t.ClearField("int64_data")
            t.ClearField("int32_data")
            t.ClearField("double_data")
            t.ClearField("external_data")
            t.data_location = TensorProto.EXTERNAL
            for key, value in (("location", "model.onnx.data"), ("offset", str(offset)), ("length", str(blob_len))):
                e = t.external_data.add()
                e.key, e.value = key, value
            inits.append(t)
    g.ClearField("node")
    g.node.extend(nodes)
    g.ClearField("initializer")
    g.initializer.extend(inits)
    onnx.save_model(model, os.path.join(out_dir, "model.onnx"))


def generate(arch, out, overrides, seed=0, std=0.02, batch=2, seq=8, keep_twin=False):
    from hf_decoder import TINY, export
    layers = int({**TINY[arch], **overrides}["num_hidden_layers"])
    if layers < 3:
        raise SystemExit("stream_decoder: num_hidden_layers must be at least 3 (use hf_decoder.py below that)")
    twin_dir = os.path.join(out, "twin")
    if os.path.exists(twin_dir):
        shutil.rmtree(twin_dir)
    export(arch, twin_dir, {**overrides, "num_hidden_layers": 2}, seed, True, batch, seq)
    write(twin_dir, out, layers, seed, std)
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM
    cfg_cls, model_cls = {"qwen2": (Qwen2Config, Qwen2ForCausalLM), "llama": (LlamaConfig, LlamaForCausalLM)}[arch]
    cfg = cfg_cls(**{**TINY[arch], **overrides})
    cfg.use_cache = False
    with torch.device("meta"):
        full = model_cls(cfg)
    meta = {"arch": arch, "parameters": sum(p.numel() for p in full.parameters()),
            "generated_by": "scripts/memory/stream_decoder.py (two-layer twin exported by transformers, blocks repeated, random weights)",
            **cfg.to_dict()}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(meta, f, indent=2, default=str)
    if not keep_twin:
        shutil.rmtree(twin_dir)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", choices=["qwen2", "llama"], default="llama")
    ap.add_argument("--out", required=True)
    ap.add_argument("--config", default="{}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--std", type=float, default=0.02)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seq", type=int, default=8)
    a = ap.parse_args()
    generate(a.arch, a.out, json.loads(a.config), a.seed, a.std, a.batch, a.seq)


if __name__ == "__main__":
    main()
