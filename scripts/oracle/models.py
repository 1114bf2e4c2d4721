"""Three tiny transformer models in plain PyTorch: the oracles the ONNX engine is checked against.

- EncoderClassifier: BERT-like (module names as Hugging Face BERT), inputs input_ids and
  attention_mask [batch, seq] int64, output logits [batch, num_labels].
- DecoderLM: GPT-like causal LM (q_proj/k_proj/v_proj/o_proj, mlp.fc_in/fc_out), inputs
  input_ids (+ attention_mask), output logits [batch, seq, vocab].
- ViTClassifier: ViT-style patch classifier with a Linear patch projection (after a reshape,
  so every op in the export has a gradient rule), input pixel_values [batch, 3, H, W].

Every model is built from a plain dict of hyper-parameters (`config`) and a seed, so the same
weights can be rebuilt from `config.json` + `state.safetensors` written by export.py.
No dropout anywhere: the oracles are deterministic functions.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# A large negative number for masked attention scores. Not -inf: a fully masked row (a
# padding query) must still give finite softmax values, as in Hugging Face models.
MASK_VALUE = -1e4


def gelu(x):
    # The exact (erf) GELU, as BERT uses; exported to ONNX opset 17 as Erf ops.
    return F.gelu(x)


def split_heads(x, heads):
    b, s, d = x.shape
    return x.view(b, s, heads, d // heads).transpose(1, 2)


def merge_heads(x):
    b, h, s, dh = x.shape
    return x.transpose(1, 2).reshape(b, s, h * dh)


def attention(q, k, v, heads, bias, width):
    """Scaled dot-product attention; `bias` is added to the scores (broadcast to [b, h, s, s]).
    `width` is the static model width (a Python int: a traced shape would become a tensor)."""
    scale = 1.0 / math.sqrt(width // heads)
    q, k, v = split_heads(q, heads), split_heads(k, heads), split_heads(v, heads)
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale
    probs = torch.softmax(scores + bias, dim=-1)
    return merge_heads(torch.matmul(probs, v))


def padding_bias(attention_mask, dtype):
    """[batch, seq] 1/0 mask -> additive bias [batch, 1, 1, seq] (0 keep, MASK_VALUE drop)."""
    m = attention_mask[:, None, None, :].to(dtype)
    return (1.0 - m) * MASK_VALUE


# ---------------------------------------------------------------------------
# (a) BERT-like encoder classifier


class BertSelfAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads, self.width = heads, d
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d)
        self.value = nn.Linear(d, d)

    def forward(self, x, bias):
        return attention(self.query(x), self.key(x), self.value(x), self.heads, bias, self.width)


class BertAddNorm(nn.Module):
    """`attention.output` and `output` in BERT: dense, residual add, LayerNorm."""

    def __init__(self, d_in, d, eps):
        super().__init__()
        self.dense = nn.Linear(d_in, d)
        self.LayerNorm = nn.LayerNorm(d, eps=eps)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class BertAttention(nn.Module):
    def __init__(self, d, heads, eps):
        super().__init__()
        self.self = BertSelfAttention(d, heads)
        self.output = BertAddNorm(d, d, eps)

    def forward(self, x, bias):
        return self.output(self.self(x, bias), x)


class BertIntermediate(nn.Module):
    def __init__(self, d, d_ff):
        super().__init__()
        self.dense = nn.Linear(d, d_ff)

    def forward(self, x):
        return gelu(self.dense(x))


class BertLayer(nn.Module):
    def __init__(self, d, heads, d_ff, eps):
        super().__init__()
        self.attention = BertAttention(d, heads, eps)
        self.intermediate = BertIntermediate(d, d_ff)
        self.output = BertAddNorm(d_ff, d, eps)

    def forward(self, x, bias):
        a = self.attention(x, bias)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, d, heads, d_ff, layers, eps):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(d, heads, d_ff, eps) for _ in range(layers)])

    def forward(self, x, bias):
        for layer in self.layer:
            x = layer(x, bias)
        return x


class BertEmbeddings(nn.Module):
    def __init__(self, vocab, d, max_pos, eps):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, d)
        self.position_embeddings = nn.Embedding(max_pos, d)
        self.LayerNorm = nn.LayerNorm(d, eps=eps)
        self.register_buffer("position_ids", torch.arange(max_pos)[None, :], persistent=False)

    def forward(self, input_ids):
        pos = self.position_ids[:, : input_ids.shape[1]]
        return self.LayerNorm(self.word_embeddings(input_ids) + self.position_embeddings(pos))


class BertPooler(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.dense = nn.Linear(d, d)

    def forward(self, x):
        return torch.tanh(self.dense(x[:, 0]))


class EncoderClassifier(nn.Module):
    """BERT-like: embeddings, `layers` encoder blocks, pooler on [CLS], `classifier` head."""

    DEFAULTS = dict(vocab=128, hidden=32, heads=4, ff=64, layers=2, max_pos=64, num_labels=3, eps=1e-12)

    def __init__(self, config):
        super().__init__()
        c = {**self.DEFAULTS, **config}
        self.config = c
        self.embeddings = BertEmbeddings(c["vocab"], c["hidden"], c["max_pos"], c["eps"])
        self.encoder = BertEncoder(c["hidden"], c["heads"], c["ff"], c["layers"], c["eps"])
        self.pooler = BertPooler(c["hidden"])
        self.classifier = nn.Linear(c["hidden"], c["num_labels"])

    def features(self, input_ids, attention_mask):
        """Hidden states [batch, seq, hidden] of the last block."""
        x = self.embeddings(input_ids)
        return self.encoder(x, padding_bias(attention_mask, x.dtype))

    def forward(self, input_ids, attention_mask):
        return self.classifier(self.pooler(self.features(input_ids, attention_mask)))

    input_names = ["input_ids", "attention_mask"]
    dynamic_axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}, "logits": {0: "batch"}}


# ---------------------------------------------------------------------------
# (b) GPT-like decoder LM


class DecoderAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads, self.width = heads, d
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.o_proj = nn.Linear(d, d)

    def forward(self, x, bias):
        return self.o_proj(attention(self.q_proj(x), self.k_proj(x), self.v_proj(x), self.heads, bias, self.width))


class DecoderMLP(nn.Module):
    def __init__(self, d, d_ff):
        super().__init__()
        self.fc_in = nn.Linear(d, d_ff)
        self.fc_out = nn.Linear(d_ff, d)

    def forward(self, x):
        return self.fc_out(gelu(self.fc_in(x)))


class DecoderBlock(nn.Module):
    """Pre-LayerNorm block (GPT-2 style)."""

    def __init__(self, d, heads, d_ff, eps):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d, eps=eps)
        self.attn = DecoderAttention(d, heads)
        self.ln_2 = nn.LayerNorm(d, eps=eps)
        self.mlp = DecoderMLP(d, d_ff)

    def forward(self, x, bias):
        x = x + self.attn(self.ln_1(x), bias)
        return x + self.mlp(self.ln_2(x))


class DecoderLM(nn.Module):
    """GPT-like LM: wte + wpe, `layers` blocks `h.{i}`, ln_f, lm_head (tied to wte when `tied`)."""

    DEFAULTS = dict(vocab=128, hidden=32, heads=4, ff=64, layers=2, max_pos=64, tied=False, eps=1e-5)

    def __init__(self, config):
        super().__init__()
        c = {**self.DEFAULTS, **config}
        self.config = c
        self.wte = nn.Embedding(c["vocab"], c["hidden"])
        self.wpe = nn.Embedding(c["max_pos"], c["hidden"])
        self.h = nn.ModuleList([DecoderBlock(c["hidden"], c["heads"], c["ff"], c["eps"]) for _ in range(c["layers"])])
        self.ln_f = nn.LayerNorm(c["hidden"], eps=c["eps"])
        self.lm_head = nn.Linear(c["hidden"], c["vocab"], bias=False)
        if c["tied"]:
            self.lm_head.weight = self.wte.weight
        causal = torch.tril(torch.ones(c["max_pos"], c["max_pos"], dtype=torch.bool))
        self.register_buffer("causal", causal, persistent=False)
        self.register_buffer("position_ids", torch.arange(c["max_pos"])[None, :], persistent=False)

    def forward(self, input_ids, attention_mask):
        s = input_ids.shape[1]
        x = self.wte(input_ids) + self.wpe(self.position_ids[:, :s])
        # Causal bias [1, 1, s, s] plus the padding bias [b, 1, 1, s].
        causal = self.causal[:s, :s][None, None].to(x.dtype)
        bias = (1.0 - causal) * MASK_VALUE + padding_bias(attention_mask, x.dtype)
        for block in self.h:
            x = block(x, bias)
        return self.lm_head(self.ln_f(x))

    input_names = ["input_ids", "attention_mask"]
    dynamic_axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}


# ---------------------------------------------------------------------------
# (c) ViT-style patch classifier


class PatchEmbed(nn.Module):
    """Cuts [b, C, H, W] into non-overlapping patches with reshapes, then a Linear projection.
    Equivalent to Conv2d(kernel=stride=patch) but exported as Reshape/Transpose/MatMul only."""

    def __init__(self, channels, patch, d):
        super().__init__()
        self.patch = patch
        self.proj = nn.Linear(channels * patch * patch, d)

    def forward(self, x):
        b, c, h, w = x.shape
        p = self.patch
        x = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)
        return self.proj(x.reshape(b, (h // p) * (w // p), c * p * p))


class ViTAttention(nn.Module):
    """timm-style: one `qkv` Linear, split into q, k, v; then `proj`."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads, self.width = heads, d
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        return self.proj(attention(q, k, v, self.heads, 0.0, self.width))


class ViTMLP(nn.Module):
    def __init__(self, d, d_ff):
        super().__init__()
        self.fc1 = nn.Linear(d, d_ff)
        self.fc2 = nn.Linear(d_ff, d)

    def forward(self, x):
        return self.fc2(gelu(self.fc1(x)))


class ViTBlock(nn.Module):
    def __init__(self, d, heads, d_ff, eps):
        super().__init__()
        self.norm1 = nn.LayerNorm(d, eps=eps)
        self.attn = ViTAttention(d, heads)
        self.norm2 = nn.LayerNorm(d, eps=eps)
        self.mlp = ViTMLP(d, d_ff)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViTClassifier(nn.Module):
    """ViT: patch embedding, [CLS] token, learned positions, `blocks.{i}`, final `norm`, `head` on [CLS]."""

    DEFAULTS = dict(image=16, patch=4, channels=3, hidden=32, heads=4, ff=64, layers=2, num_labels=5, eps=1e-6)

    def __init__(self, config):
        super().__init__()
        c = {**self.DEFAULTS, **config}
        self.config = c
        n = (c["image"] // c["patch"]) ** 2
        self.patch_embed = PatchEmbed(c["channels"], c["patch"], c["hidden"])
        self.cls_token = nn.Parameter(torch.randn(1, 1, c["hidden"]) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, c["hidden"]) * 0.02)
        self.blocks = nn.ModuleList([ViTBlock(c["hidden"], c["heads"], c["ff"], c["eps"]) for _ in range(c["layers"])])
        self.norm = nn.LayerNorm(c["hidden"], eps=c["eps"])
        self.head = nn.Linear(c["hidden"], c["num_labels"])

    def forward(self, pixel_values):
        x = self.patch_embed(pixel_values)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)[:, 0])

    input_names = ["pixel_values"]
    dynamic_axes = {"pixel_values": {0: "batch"}, "logits": {0: "batch"}}


# ---------------------------------------------------------------------------

MODELS = {"encoder": EncoderClassifier, "decoder": DecoderLM, "vit": ViTClassifier}


def build(kind, config=None, seed=0):
    """A model of `kind` with weights drawn from `seed` (Linear weights N(0, 0.05) so that
    activations are neither tiny nor saturated, LayerNorm affine slightly perturbed so it
    is not the identity)."""
    if kind not in MODELS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {sorted(MODELS)}")
    torch.manual_seed(seed)
    model = MODELS[kind](config or {})
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.LayerNorm):
                module.weight.copy_(1.0 + 0.1 * torch.randn_like(module.weight))
                module.bias.normal_(0.0, 0.05)
            elif isinstance(module, nn.Linear):
                module.weight.normal_(0.0, 0.05)
                if module.bias is not None:
                    module.bias.normal_(0.0, 0.02)
            elif isinstance(module, nn.Embedding):
                module.weight.normal_(0.0, 0.5)
    model.eval()
    return model


def sample_inputs(kind, model, batch=3, seq=7, seed=1):
    """Deterministic example inputs; text inputs include right padding in some rows."""
    g = torch.Generator().manual_seed(seed)
    c = model.config
    if kind == "vit":
        return {"pixel_values": torch.randn(batch, c["channels"], c["image"], c["image"], generator=g)}
    ids = torch.randint(1, c["vocab"], (batch, seq), generator=g)
    mask = torch.ones(batch, seq, dtype=torch.int64)
    for row in range(1, batch):
        pad = min(row * 2, seq - 1)
        mask[row, seq - pad:] = 0
        ids[row, seq - pad:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def linear_modules(model):
    """[(module name, d_in, d_out)] of every nn.Linear, in model order."""
    return [(n, m.in_features, m.out_features) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
