"""Hugging Face models for the bench and the packing tests, built by transformers' own modeling
code from a config (random weights, seeded: nothing is downloaded) and exported to ONNX with the
TorchScript exporter (`dynamo=False`: node names keep the module paths PEFT uses).

    .venv/bin/python scripts/oracle/hf_models.py --kind bert|bert-doc|roberta-doc|electra-doc|llama --out DIR [--seed N] [--config '{...}']
    .venv/bin/python scripts/oracle/hf_models.py --selfcheck

Kinds:
  bert   BertForSequenceClassification; inputs input_ids, attention_mask (0/1); output logits [B, C]
  bert-doc  the same weights for packed classification (data.packing): inputs input_ids,
         attention_mask (document numbers 1, 2, ...; 0 = padding: a query sees the keys of its own
         document only), position_ids (restarting per document) and document_starts [B, D] (the
         position of each document's first token; an empty slot repeats any position and gets
         the label -100); output logits [B, D, C], each document's first token through the
         model's own pooler and classifier. For a 0/1 mask and document_starts 0 this is exactly
         BertForSequenceClassification (checked by --selfcheck). See native-runtime/torch/doc_classifiers.py.
  roberta-doc, electra-doc  the same for RobertaForSequenceClassification and
         ElectraForSequenceClassification (their heads read each document's first token;
         RoBERTa's positions start at padding_idx + 1 as transformers numbers them).
  llama  LlamaForCausalLM (grouped-query attention when num_key_value_heads < num_attention_heads);
         inputs input_ids, attention_mask, position_ids; output logits [B, T, V]. `attention_mask`
         carries document numbers (1, 2, ...; 0 = padding) so that packed rows work (data.packing):
         a query sees the keys at or before it of its own document. For a 0/1 mask this is exactly
         the mask transformers builds from a 2D padding mask (checked by --selfcheck), so unpacked
         batches compute what a user's LlamaForCausalLM(input_ids, attention_mask) computes.
DIR receives model.onnx, config.json ({"kind", "seed", "hf_config", "inputs"}) and
state.safetensors (the torch state_dict), which `load(DIR)` turns back into the same torch model.
"""
import argparse
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file
from transformers import (BertConfig, BertForSequenceClassification, ElectraConfig, ElectraForSequenceClassification,
                          LlamaConfig, LlamaForCausalLM, RobertaConfig, RobertaForSequenceClassification)

# The packed classifiers ship with the extension (`lily import --packing` exports them).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "native-runtime", "torch"))
from doc_classifiers import DocumentMaskBert, DocumentMaskElectra, DocumentMaskRoberta, selfcheck as doc_selfcheck  # noqa: E402
import doc_decoders  # noqa: E402


# LlamaForCausalLM whose attention_mask holds document numbers (see the module docstring): the
# packed decoder `lily import --packing` ships (doc_decoders.py), so the bench trains what users get.
DocumentMaskLlama = doc_decoders.PACKED["llama"]


class BertLogits(BertForSequenceClassification):
    def forward(self, input_ids, attention_mask):  # noqa: D401
        return super().forward(input_ids=input_ids, attention_mask=attention_mask).logits


DEFAULTS = {
    "bert": dict(vocab_size=30522, hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512,
                 max_position_embeddings=512, num_labels=2),
    "llama": dict(vocab_size=32000, hidden_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                  intermediate_size=344, max_position_embeddings=2048, tie_word_embeddings=False),
}
# Packed classifiers (doc_classifiers.py): kind -> (class, config class, transformers' own class).
DOC_KINDS = {
    "bert-doc": (DocumentMaskBert, BertConfig, BertForSequenceClassification),
    "roberta-doc": (DocumentMaskRoberta, RobertaConfig, RobertaForSequenceClassification),
    "electra-doc": (DocumentMaskElectra, ElectraConfig, ElectraForSequenceClassification),
}
for _k in DOC_KINDS:
    DEFAULTS[_k] = DEFAULTS["bert"]
INPUTS = {"bert": ["input_ids", "attention_mask"], "llama": ["input_ids", "attention_mask", "position_ids"],
          **{k: ["input_ids", "attention_mask", "position_ids", "document_starts"] for k in DOC_KINDS}}


def build(kind, overrides=None, seed=0):
    cfg = {**DEFAULTS[kind], **(overrides or {})}
    torch.manual_seed(seed)
    if kind == "bert":
        model = BertLogits(BertConfig(**cfg, attn_implementation="eager"))
    elif kind in DOC_KINDS:
        # bert-doc: the same construction order as "bert", so the same seed gives the same weights.
        cls, config_cls, _ = DOC_KINDS[kind]
        model = cls(config_cls(**cfg, attn_implementation="eager"))
    else:
        model = DocumentMaskLlama(LlamaConfig(**cfg, attn_implementation="eager"))
    return model.eval()


def sample(kind, model, batch=2, seq=8):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, model.config.vocab_size, (batch, seq), generator=g)
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[1:, seq // 2:] = 0
    if kind == "bert":
        return (ids, mask)
    if kind in DOC_KINDS:
        doc = mask.clone()
        doc[0, seq // 2:] = 2
        pos = torch.arange(seq).expand(batch, seq).contiguous()
        pos[0, seq // 2:] -= seq // 2
        starts = torch.zeros(batch, 2, dtype=torch.long)
        starts[0, 1] = seq // 2
        return (ids, doc, pos, starts)
    return (ids, mask, torch.arange(seq).expand(batch, seq).contiguous())


def export(kind, out, overrides=None, seed=0):
    os.makedirs(out, exist_ok=True)
    model = build(kind, overrides, seed)
    names = INPUTS[kind]
    axes = {n: {0: "batch", 1: "seq"} for n in names}
    if kind in DOC_KINDS:
        axes["document_starts"] = {0: "batch", 1: "documents"}
    axes["logits"] = {0: "batch"} if kind == "bert" else {0: "batch", 1: "documents" if kind in DOC_KINDS else "seq"}
    with torch.no_grad():
        torch.onnx.export(model, sample(kind, model), os.path.join(out, "model.onnx"), input_names=names,
                          output_names=["logits"], dynamic_axes=axes, opset_version=17, do_constant_folding=True,
                          dynamo=False)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({"kind": kind, "seed": seed, "hf_config": model.config.to_diff_dict(), "overrides": overrides or {},
                   "inputs": names}, f, indent=1)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(out, "state.safetensors"))
    return model


def load(model_dir):
    """The torch model `export` wrote to `model_dir` (same class, same weights), in eval mode."""
    with open(os.path.join(model_dir, "config.json")) as f:
        manifest = json.load(f)
    model = build(manifest["kind"], manifest["overrides"], manifest["seed"])
    model.load_state_dict(load_file(os.path.join(model_dir, "state.safetensors")))
    return model.eval(), manifest


def load_plain(model_dir):
    """The same weights in transformers' own class (BertForSequenceClassification, LlamaForCausalLM),
    as a user trains it: keyword inputs, a 2D padding mask, `labels` for the built-in loss."""
    with open(os.path.join(model_dir, "config.json")) as f:
        manifest = json.load(f)
    kind = manifest["kind"]
    cfg = {**DEFAULTS[kind], **manifest["overrides"]}
    if kind in DOC_KINDS:
        cls, config_cls = DOC_KINDS[kind][2], DOC_KINDS[kind][1]
    else:
        cls, config_cls = (BertForSequenceClassification, BertConfig) if kind == "bert" else (LlamaForCausalLM, LlamaConfig)
    model = cls(config_cls(**cfg, attn_implementation="eager"))
    model.load_state_dict(load_file(os.path.join(model_dir, "state.safetensors")))
    return model, manifest


def selfcheck():
    """DocumentMaskLlama on a 0/1 mask == transformers' own 2D-mask path; a packed row == its documents alone."""
    model = build("llama", {"vocab_size": 64, "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2})
    ids, mask, pos = sample("llama", model, 3, 10)
    with torch.no_grad():
        ours = model(ids, mask, pos)
        theirs = LlamaForCausalLM.forward(model, input_ids=ids, attention_mask=mask, use_cache=False).logits
        real = mask.bool()
        gap_real = (ours - theirs)[real].abs().max().item()
        gap_pad = (ours - theirs)[~real].abs().max().item()
        a, b = ids[0, :4], ids[1, :5]
        packed = model(torch.cat([a, b, ids[2, :1]])[None], torch.tensor([[1] * 4 + [2] * 5 + [0]]),
                       torch.tensor([list(range(4)) + list(range(5)) + [0]]))
        alone_a = model(a[None], torch.ones(1, 4, dtype=torch.long), torch.arange(4)[None])
        alone_b = model(b[None], torch.ones(1, 5, dtype=torch.long), torch.arange(5)[None])
        gap_pack = max((packed[0, :4] - alone_a[0]).abs().max().item(), (packed[0, 4:9] - alone_b[0]).abs().max().item())
    return {"real": gap_real, "padding": gap_pad, "packed": gap_pack, **selfcheck_bert(), **selfcheck_decoders()}


def selfcheck_decoders():
    """`lily import --packing`'s decoders (doc_decoders.py) against transformers' own classes."""
    from transformers import MistralConfig, Qwen2Config
    small = dict(vocab_size=64, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, attn_implementation="eager")
    out = {}
    for mt, config_cls in [("llama", LlamaConfig), ("qwen2", Qwen2Config), ("mistral", MistralConfig)]:
        gaps = doc_decoders.selfcheck(mt, config_cls(**small))
        out[f"{mt}_decoder_plain"], out[f"{mt}_decoder_packed"] = gaps["plain"], gaps["packed"]
    return out


def selfcheck_bert():
    """The packed classifiers against transformers' own classes (doc_classifiers.selfcheck), and
    bert-doc built with the seed of "bert" holds the same weights (the bench relies on it)."""
    over = {"vocab_size": 64, "hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128}
    same = all(torch.equal(v, build("bert", over, 3).state_dict()[k]) for k, v in build("bert-doc", over, 3).state_dict().items())
    out = {"bert_same_weights": same}
    for kind, (cls, config_cls, plain_cls) in DOC_KINDS.items():
        config = config_cls(**{**DEFAULTS[kind], **over}, attn_implementation="eager")
        gaps = doc_selfcheck(cls, plain_cls, config, config.pad_token_id or 0)
        name = kind.split("-")[0]
        out[f"{name}_plain"], out[f"{name}_packed"] = gaps["plain"], gaps["packed"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", choices=sorted(DEFAULTS))
    ap.add_argument("--out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", default="{}", help="JSON object of transformers config overrides")
    ap.add_argument("--selfcheck", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    if args.selfcheck:
        print(json.dumps(selfcheck()))
        return
    if not args.kind or not args.out:
        raise SystemExit("hf_models.py: --kind and --out are required (or --selfcheck)")
    try:
        overrides = json.loads(args.config)
    except json.JSONDecodeError as e:
        raise SystemExit(f"--config: not valid JSON ({e})")
    export(args.kind, args.out, overrides, args.seed)
    print(json.dumps({"out": os.path.abspath(args.out), "kind": args.kind}))


if __name__ == "__main__":
    sys.exit(main())
