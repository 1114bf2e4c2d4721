"""Packed causal LMs (data.packing for causal LM): transformers' own *ForCausalLM models whose
`attention_mask` holds document numbers (1, 2, ...; 0 = padding), so that several documents share
a row: a query sees the keys at or before it of its own document (a padding query sees every
earlier real key, as transformers' 2D-mask path does). `position_ids` restart per document (the
engine makes them). The mask goes to transformers as a 4D additive mask, which its mask code
uses as given; for a 0/1 mask it is exactly the mask transformers builds from a 2D padding mask
(scripts/oracle/hf_models.py --selfcheck), so unpacked rows compute what the plain model computes.
Inputs input_ids, attention_mask, position_ids [B, T]; output logits [B, T, V].
Used by `lily import --packing` (hf_export.py).
"""
import torch
from transformers import LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM


def document_bias(doc):
    """[B, T] document numbers -> additive [B, 1, T, T] mask: 0 where allowed, float32 min elsewhere."""
    t = doc.shape[1]
    pos = torch.arange(t, device=doc.device)
    causal = pos[None, :] <= pos[:, None]
    q, k = doc[:, :, None], doc[:, None, :]
    # A padding query (0) sees every earlier real key, as transformers' 2D-mask path does.
    allowed = causal[None] & (k > 0) & ((q == k) | (q == 0))
    return torch.where(allowed, 0.0, torch.finfo(torch.float32).min)[:, None]


def _forward(self, input_ids, attention_mask, position_ids):  # noqa: D401 (positional for export)
    return super(type(self), self).forward(input_ids=input_ids, attention_mask=document_bias(attention_mask),
                                           position_ids=position_ids, use_cache=False).logits


def _packed(cls):
    return type(f"DocumentMask{cls.__name__}", (cls,), {"forward": _forward, "__doc__": f"{cls.__name__} over packed rows."})


# model_type -> packed decoder (transformers' *ForCausalLM of that family).
PACKED = {"llama": _packed(LlamaForCausalLM), "qwen2": _packed(Qwen2ForCausalLM), "mistral": _packed(MistralForCausalLM)}
PLAIN = {"llama": LlamaForCausalLM, "qwen2": Qwen2ForCausalLM, "mistral": MistralForCausalLM}
INPUTS = ["input_ids", "attention_mask", "position_ids"]


def export_packed(model, path):
    """torch.onnx.export (TorchScript, opset 17) with dynamic batch and sequence axes."""
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, model.config.vocab_size, (2, 8), generator=g)
    doc = torch.tensor([[1, 1, 1, 1, 2, 2, 2, 2], [1, 1, 1, 1, 1, 0, 0, 0]])
    pos = torch.tensor([[0, 1, 2, 3, 0, 1, 2, 3], [0, 1, 2, 3, 4, 0, 0, 0]])
    axes = {n: {0: "batch", 1: "seq"} for n in INPUTS}
    axes["logits"] = {0: "batch", 1: "seq"}
    with torch.no_grad():
        torch.onnx.export(model, (ids, doc, pos), path, input_names=INPUTS, output_names=["logits"], dynamic_axes=axes,
                          opset_version=17, do_constant_folding=True, dynamo=False)


def selfcheck(model_type, config):
    """The packed decoder against transformers' own class with the same weights: largest logit gap
    on real positions with a 0/1 mask, and between a packed row's two documents and each alone."""
    torch.manual_seed(3)
    model = PACKED[model_type](config).eval()
    plain = PLAIN[model_type](config).eval()
    plain.load_state_dict(model.state_dict())
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, config.vocab_size, (3, 10), generator=g)
    mask = torch.ones(3, 10, dtype=torch.long)
    mask[1:, 5:] = 0
    with torch.no_grad():
        theirs = plain(input_ids=ids, attention_mask=mask).logits
        ours = model(ids, mask, torch.arange(10).expand(3, 10))
        real = mask.bool()
        a, b = ids[0, :4], ids[1, :5]
        packed = model(torch.cat([a, b, ids[2, :1]])[None], torch.tensor([[1] * 4 + [2] * 5 + [0]]),
                       torch.tensor([list(range(4)) + list(range(5)) + [0]]))[0]
        alone = [plain(input_ids=x[None]).logits[0] for x in (a, b)]
    return {"plain": (ours - theirs)[real].abs().max().item(),
            "packed": max((packed[:4] - alone[0]).abs().max().item(), (packed[4:9] - alone[1]).abs().max().item())}
