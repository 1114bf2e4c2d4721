"""Exports a tiny BERT-like encoder with torch.onnx.export (opset 17, dynamic batch/seq) and
writes, for one fixed batch, the output and the gradients of loss = sum(logits * w) with respect
to every parameter, computed by torch autograd in float64. Used by the specialize and autodiff
tests as an independent oracle.

usage: .venv/bin/python tiny_bert.py OUT_DIR
writes OUT_DIR/tiny_bert.onnx and OUT_DIR/oracle.json
"""
import json
import math
import os
import sys

import torch
from torch import nn

torch.manual_seed(0)
VOCAB, D, HEADS, FF, MAXPOS, CLASSES = 20, 16, 2, 32, 12, 3


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = nn.Linear(D, D)
        self.k = nn.Linear(D, D)
        self.v = nn.Linear(D, D)
        self.o = nn.Linear(D, D)
        self.ln1 = nn.LayerNorm(D)
        self.ff1 = nn.Linear(D, FF)
        self.ff2 = nn.Linear(FF, D)
        self.ln2 = nn.LayerNorm(D)
        self.act = nn.GELU()

    def heads(self, x):
        b, t, _ = x.size()  # Shape/Gather chains in the export
        return x.view(b, t, HEADS, D // HEADS).transpose(1, 2)

    def forward(self, x, mask):
        b, t, _ = x.size()
        q, k, v = self.heads(self.q(x)), self.heads(self.k(x)), self.heads(self.v(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(D // HEADS)
        scores = scores.masked_fill(mask[:, None, None, :] == 0, -1e4)  # Equal + Where
        p = scores.softmax(-1)
        ctx = (p @ v).transpose(1, 2).reshape(b, t, D)
        x = self.ln1(x + self.o(ctx))
        return self.ln2(x + self.ff2(self.act(self.ff1(x))))


class TinyBert(nn.Module):
    def __init__(self):
        super().__init__()
        self.word = nn.Embedding(VOCAB, D)
        self.pos = nn.Embedding(MAXPOS, D)
        self.ln = nn.LayerNorm(D)
        self.block = Block()
        self.pool = nn.Linear(D, D)
        self.cls = nn.Linear(D, CLASSES)

    def forward(self, input_ids, attention_mask):
        t = input_ids.size(1)
        pos = torch.arange(t, device=input_ids.device)  # Range over a Shape chain
        x = self.ln(self.word(input_ids) + self.pos(pos)[None])
        x = self.block(x, attention_mask)
        pooled = torch.tanh(self.pool(x[:, 0]))
        return self.cls(pooled)


def main():
    out_dir = sys.argv[1]
    model = TinyBert()
    # Non-trivial LayerNorm affine parameters (defaults are 1 and 0).
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    model.eval()
    ids = torch.tensor([[1, 5, 7, 3, 9], [2, 4, 4, 0, 0]], dtype=torch.long)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.long)
    torch.onnx.export(
        model, (ids[:, :3], mask[:, :3]), os.path.join(out_dir, 'tiny_bert.onnx'),
        input_names=['input_ids', 'attention_mask'], output_names=['logits'],
        dynamic_axes={'input_ids': {0: 'batch', 1: 'seq'}, 'attention_mask': {0: 'batch', 1: 'seq'}, 'logits': {0: 'batch'}},
        opset_version=17,
        dynamo=False,  # the TorchScript exporter: module paths in node names
    )
    model64 = model.double()
    w = torch.linspace(-1, 1, ids.shape[0] * CLASSES, dtype=torch.float64).reshape(ids.shape[0], CLASSES)
    logits = model64(ids, mask)
    (logits * w).sum().backward()
    params = {n: {'shape': list(p.shape), 'data': p.detach().flatten().tolist(), 'grad': p.grad.flatten().tolist()}
              for n, p in model64.named_parameters()}
    oracle = {
        'input_ids': ids.flatten().tolist(), 'attention_mask': mask.flatten().tolist(), 'shape': list(ids.shape),
        'logits': logits.detach().flatten().tolist(), 'w': w.flatten().tolist(), 'params': params,
    }
    with open(os.path.join(out_dir, 'oracle.json'), 'w') as f:
        json.dump(oracle, f)


if __name__ == '__main__':
    main()
