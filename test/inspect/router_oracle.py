"""Torch oracle for router statistics: runs the oracle model with Lily wrapped around the adapted
nn.Linear modules (scripts/oracle/lily_ref.py's lily_delta) on given batches, records each
layer's per-token router probabilities softmax((x A) R) with forward hooks, and computes the
statistics as test/inspect/routerStats.test.ts expects them defined (independently of the
TypeScript code).

    .venv/bin/python router_oracle.py JOBS.json   ->  JSON list on stdout, one result per job

JOBS: a list of {"model_dir", "adapter": {"r", "num_B", "scaling", "routing", "layers": [{"module", "A", "B", "R"}]},
      "weights": "tensors.safetensors", "batches": "batches.safetensors" (keys "<k>/input_ids",
      "<k>/attention_mask", "<k>/labels"), "num_batches"}
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts", "oracle"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

from export import load_model_dir  # noqa: E402
from lily_ref import lily_delta  # noqa: E402
from tensorfile import read_safetensors  # noqa: E402


class Ctx:
    mask = None


class LilyWrap(nn.Module):
    def __init__(self, base, A, B, R, scaling, routing, ctx, record):
        super().__init__()
        self.base, self.A, self.B, self.R = base, A, B, R
        self.scaling, self.routing, self.ctx, self.record = scaling, routing, ctx, record

    def forward(self, x):
        # What the router saw, per row (token, or sample for pooled layers), before any averaging.
        p_tok = torch.softmax((x @ self.A) @ self.R, dim=-1)
        self.record.append((x.dim(), p_tok.detach()))
        delta, _ = lily_delta(x, self.A, self.B, self.R, self.scaling, self.routing, self.ctx.mask)
        return self.base(x) + delta


def set_module(model, name, new):
    parent, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, new)


def entropy(p):
    p = p[p > 0]
    return float(-(p * torch.log(p)).sum())


def run(job, base):
    model, manifest = load_model_dir(job["model_dir"], torch.float64)
    tensors, _ = read_safetensors(os.path.join(base, job["weights"]))
    batches, _ = read_safetensors(os.path.join(base, job["batches"]))
    ad = job["adapter"]
    ctx = Ctx()
    records = {}
    for l in ad["layers"]:
        t = {k: torch.from_numpy(tensors[l[k]]).double() for k in ("A", "B", "R")}
        records[l["module"]] = []
        set_module(model, l["module"], LilyWrap(model.get_submodule(l["module"]), t["A"], t["B"], t["R"], ad["scaling"], ad["routing"], ctx, records[l["module"]]))

    logits, masks, labels = [], [], []
    with torch.no_grad():
        for k in range(job["num_batches"]):
            ids = torch.from_numpy(batches[f"{k}/input_ids"])
            mask = torch.from_numpy(batches[f"{k}/attention_mask"])
            ctx.mask = mask
            logits.append(model(ids, mask).reshape(-1).tolist())
            masks.append(mask)
            labels.append(torch.from_numpy(batches[f"{k}/labels"]))

    out = {"logits": logits, "layers": {}}
    for module, rec in records.items():
        sums, wsum, hsum, per_class = 0, 0.0, 0.0, {}
        example = None
        for k, (dim, p) in enumerate(rec):
            mask, lab = masks[k], labels[k]
            B, T = mask.shape
            if dim == 3:
                rows = p.reshape(B * T, -1)
                counted = ad["routing"] != "batch"
                w = mask.reshape(-1).double() if counted else torch.ones(B * T, dtype=torch.float64)
                row_label = lab.repeat_interleave(T)
                if k == 0:
                    example = p[0][mask[0] == 1].tolist()
            else:
                rows = p.reshape(B, -1)
                w = torch.ones(B, dtype=torch.float64)
                row_label = lab
                if k == 0:
                    example = p[0:1].tolist()
            sums = sums + (w[:, None] * rows).sum(0)
            wsum += float(w.sum())
            hsum += float((w * torch.tensor([entropy(r) for r in rows], dtype=torch.float64)).sum())
            for c in row_label.unique().tolist():
                sel = row_label == c
                s, n = per_class.get(c, (0, 0.0))
                per_class[c] = (s + (w[sel][:, None] * rows[sel]).sum(0), n + float(w[sel].sum()))
        mean = sums / wsum
        out["layers"][module] = {
            "mean": mean.tolist(),
            "entropy": entropy(mean),
            "token_entropy": hsum / wsum,
            "per_class": {str(c): (s / n).tolist() for c, (s, n) in sorted(per_class.items()) if n > 0},
            "example": example,
        }
    return out


def main():
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    base = os.path.dirname(os.path.abspath(sys.argv[1]))
    print(json.dumps([run(job, base) for job in jobs]))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
