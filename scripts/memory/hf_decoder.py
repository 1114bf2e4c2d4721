"""Export a Hugging Face decoder (Qwen2 or Llama, random weights, built from a config) to ONNX.

    .venv/bin/python scripts/memory/hf_decoder.py --arch qwen2|llama --out DIR
        [--config '{"hidden_size": 64, ...}'] [--seed N] [--batch 2 --seq 8] [--external-data]

Transformers' own modeling code (no hub download); the legacy TorchScript exporter
(dynamo=False) keeps module paths in node names. DIR receives model.onnx (inputs input_ids,
attention_mask [batch, seq] int64; output logits [batch, seq, vocab]) and config.json (the HF
config plus "arch" and "parameters"). Used by the memory tests and bench/memory.mjs.
The trace bakes the example's [batch, seq] into the causal-mask subgraph, so the model runs at
that shape only: export at the shape you will train.
"""
import argparse
import json
import os
import warnings

import torch

TINY = {
    "qwen2": dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                  tie_word_embeddings=False),
    "llama": dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                  tie_word_embeddings=False),
}


def build(arch, overrides, seed):
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM
    cfg_cls, model_cls = {"qwen2": (Qwen2Config, Qwen2ForCausalLM), "llama": (LlamaConfig, LlamaForCausalLM)}[arch]
    cfg = cfg_cls(**{**TINY[arch], **(overrides or {})})
    cfg.use_cache = False
    torch.manual_seed(seed)
    model = model_cls(cfg).eval()
    return model


class LogitsOnly(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits


def traceable_masks():
    """transformers builds masks with vmap on torch >= 2.6, which the TorchScript tracer cannot
    follow; its pre-2.6 builder is plain tensor code and gives the same mask."""
    from transformers import masking_utils as mu
    mu.sdpa_mask = mu.sdpa_mask_older_torch
    mu.ALL_MASK_ATTENTION_FUNCTIONS._global_mapping["sdpa"] = mu.sdpa_mask_older_torch


def export(arch, out_dir, overrides=None, seed=0, external_data=False, batch=2, seq=8):
    os.makedirs(out_dir, exist_ok=True)
    model = build(arch, overrides, seed)
    traceable_masks()
    ids = torch.randint(0, model.config.vocab_size, (batch, seq))
    mask = torch.ones_like(ids)
    path = os.path.join(out_dir, "model.onnx")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LogitsOnly(model), (ids, mask), path, input_names=["input_ids", "attention_mask"],
            output_names=["logits"], opset_version=17, do_constant_folding=True, dynamo=False,
            dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                          "logits": {0: "batch", 1: "seq"}},
        )
    if external_data:
        import onnx
        m = onnx.load(path)
        onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.onnx.data", size_threshold=1024)
        # Over 2 GB torch already wrote one file per tensor; they are now copied into one.
        keep = {"model.onnx", "model.onnx.data"}
        for f in os.listdir(out_dir):
            if f not in keep and os.path.isfile(os.path.join(out_dir, f)):
                os.remove(os.path.join(out_dir, f))
    meta = {"arch": arch, "parameters": sum(p.numel() for p in model.parameters()), **model.config.to_dict()}
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(meta, f, indent=2, default=str)
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", choices=["qwen2", "llama"], default="qwen2")
    ap.add_argument("--out", required=True)
    ap.add_argument("--config", default="{}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seq", type=int, default=8)
    ap.add_argument("--external-data", action="store_true")
    a = ap.parse_args()
    export(a.arch, a.out, json.loads(a.config), a.seed, a.external_data, a.batch, a.seq)


if __name__ == "__main__":
    main()
