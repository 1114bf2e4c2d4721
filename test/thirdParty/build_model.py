"""Builds the third-party-style ONNX files the engine must handle (tests only; tiny, random weights,
real transformers modeling code, no download). One model per call:

    .venv/bin/python test/thirdParty/build_model.py OUT_ROOT SPEC [SPEC ...]

SPEC is KIND or KIND@OPSET (default opset 14); each model goes to OUT_ROOT/KIND-OPSET/model.onnx,
built after torch.manual_seed(0), so one KIND at several opsets has the same weights. Several
specs in one call share the (slow) import of transformers.

KIND:
  distilbert          DistilBertForSequenceClassification (CLS pooling: Gather on an activation),
                      torch.onnx.export(dynamo=False)
  bert-ort-optimized  BertForSequenceClassification, exported, then fused by onnxruntime.transformers'
                      optimizer (model.onnx; the export before fusion is unoptimized.onnx)
  gpt2-optimum        GPT2LMHeadModel, save_pretrained + optimum's main_export, task text-generation
  gpt2-optimum-past   the same model (same seed), task text-generation-with-past (KV-cache inputs
                      past_key_values.N.key/value, attention mask over past + sequence)
"""
import argparse
import os
import sys
import warnings

import torch

VOCAB = 64  # >= the test tokenizer's vocabulary (test/data/fixtures.ts)


def export_legacy(model, args, path, input_names, output_names, dynamic_axes, opset):
    """torch.onnx.export with the TorchScript exporter (module paths in node names)."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, path, input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=opset, do_constant_folding=True, dynamo=False)


def text_inputs(batch=2, seq=6):
    ids = torch.randint(4, VOCAB, (batch, seq))
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[1, seq - 2:] = 0
    return ids, mask


TEXT_AXES = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}, "logits": {0: "batch"}}


def distilbert(out, opset):
    from transformers import DistilBertConfig, DistilBertForSequenceClassification
    cfg = DistilBertConfig(vocab_size=VOCAB, dim=32, n_layers=2, n_heads=2, hidden_dim=64,
                           max_position_embeddings=64, num_labels=2)
    cfg._attn_implementation = "eager"  # SDPA exports only from opset 14; eager works at 13 too
    model = DistilBertForSequenceClassification(cfg).eval()
    ids, mask = text_inputs()
    export_legacy(model, (ids, mask), os.path.join(out, "model.onnx"), ["input_ids", "attention_mask"], ["logits"], TEXT_AXES, opset)


def gpt2_optimum(out, opset, with_past):
    """A tiny GPT-2 saved with save_pretrained and exported by optimum's ONNX exporter."""
    import tempfile
    from optimum.exporters.onnx import main_export
    from transformers import GPT2Config, GPT2LMHeadModel
    cfg = GPT2Config(vocab_size=VOCAB, n_positions=64, n_embd=32, n_layer=2, n_head=2)
    with tempfile.TemporaryDirectory() as src, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        GPT2LMHeadModel(cfg).eval().save_pretrained(src)
        task = "text-generation-with-past" if with_past else "text-generation"
        main_export(src, output=out, task=task, opset=opset, no_post_process=True, do_validation=False)


def bert_ort_optimized(out, opset):
    """A tiny BERT classifier exported by torch, then fused by onnxruntime's transformer optimizer
    (com.microsoft Attention / SkipLayerNormalization / EmbedLayerNormalization / BiasGelu)."""
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import BertConfig, BertForSequenceClassification
    cfg = BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64, num_labels=2)
    cfg._attn_implementation = "eager"  # the attention pattern the optimizer recognises
    model = BertForSequenceClassification(cfg).eval()
    ids, mask = text_inputs()
    raw = os.path.join(out, "unoptimized.onnx")
    export_legacy(model, (ids, mask), raw, ["input_ids", "attention_mask"], ["logits"], TEXT_AXES, opset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optimize_model(raw, model_type="bert", num_heads=2, hidden_size=32).save_model_to_file(os.path.join(out, "model.onnx"))


BUILDERS = {
    "distilbert": distilbert,
    "bert-ort-optimized": bert_ort_optimized,
    "gpt2-optimum": lambda out, opset: gpt2_optimum(out, opset, False),
    "gpt2-optimum-past": lambda out, opset: gpt2_optimum(out, opset, True),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("specs", nargs="+")
    a = ap.parse_args()
    for spec in a.specs:
        kind, _, opset = spec.partition("@")
        if kind not in BUILDERS:
            sys.exit(f"unknown kind {kind!r} (known: {', '.join(sorted(BUILDERS))})")
        opset = int(opset or 14)
        out = os.path.join(a.root, f"{kind}-{opset}")
        os.makedirs(out, exist_ok=True)
        torch.manual_seed(0)
        BUILDERS[kind](out, opset)


if __name__ == "__main__":
    sys.exit(main())
