"""Lily's "batch" routing across data-parallel ranks, and the router means router.jsonl logs.

PEFT's Lily forward averages the router probabilities over every token of *its* batch. With the
global batch split over ranks, each rank would route on its own shard: a different function from
the one-process run. So each Lily layer's forward is replaced by the same computation (FACTS.md:
h = x A; p = mean over all tokens of softmax(h R); y = x W + scaling * h (sum_e p_e B_e)) whose
mean runs over the *global* batch: the probability sums and token counts are all-reduced with
the differentiable all_reduce of torch.distributed.nn (its backward all-reduces the gradients, so
every rank gets the gradient of the global loss through its own tokens). In one process the
forward is PEFT's own formula (`.mean(0)`), unchanged. Each forward records p, detached, for the
router log."""
import warnings

import torch
import torch.nn.functional as F


class RoutingState:
    def __init__(self, group=None):
        # The process group for routing all-reduces (separate from the gradient all-reduce), or
        # None for one process / local routing (evaluation runs on rank 0 alone).
        self.group = group
        self.distributed = group is not None
        self.last: dict = {}


def install(layers: list, state: RoutingState) -> None:
    for name, layer in layers:
        layer.forward = _make_forward(name, layer, state)


def _make_forward(name: str, layer, state: RoutingState):
    def forward(x, *args, **kwargs):
        result = layer.base_layer(x, *args, **kwargs)
        if layer.disable_adapters or not layer.active_adapters:
            return result
        for adapter in layer.active_adapters:
            if adapter not in layer.lily_A:
                continue
            lily_a = layer.lily_A[adapter]
            lily_b = layer.lily_B[adapter]
            num_b = layer.num_B[adapter]
            b_pool = lily_b.weight.reshape(num_b, -1, lily_b.weight.shape[1])
            hidden = lily_a(layer._cast_input_dtype(x, lily_a.weight.dtype))
            probs = F.softmax(layer.lily_router[adapter](hidden), dim=-1).reshape(-1, num_b)
            if state.distributed:
                from torch.distributed import nn as dist_nn
                import torch.distributed as dist

                with warnings.catch_warnings():
                    # Deprecated in favour of functional collectives, which do not differentiate.
                    warnings.simplefilter("ignore", FutureWarning)
                    total = dist_nn.functional.all_reduce(probs.sum(dim=0), group=state.group)
                count = torch.tensor([float(probs.shape[0])], dtype=probs.dtype, device=probs.device)
                dist.all_reduce(count, group=state.group)
                p = total / count
            else:
                p = probs.mean(dim=0)
            state.last[name] = p.detach().double().cpu()
            combined = torch.einsum("e,eio->io", p, b_pool)
            result = result + (torch.matmul(hidden, combined) * layer.scaling[adapter]).to(result.dtype)
        return result

    return forward


class RouterWindow:
    """Mean of the per-step router means over a logging window (the engine's RouterWindow); its
    state rides in checkpoints so a resumed run logs the same lines."""

    def __init__(self):
        self.sums: dict = {}
        self.n = 0

    def add(self, probs: dict) -> None:
        for module, p in probs.items():
            s = self.sums.get(module)
            self.sums[module] = p.tolist() if s is None else [a + b for a, b in zip(s, p.tolist())]
        self.n += 1

    def state(self) -> dict:
        return {"n": self.n, "sums": dict(self.sums)}

    def restore(self, state: dict) -> None:
        self.n = state["n"]
        self.sums = {k: list(v) for k, v in state["sums"].items()}

    def line(self, step: int, targets: list):
        if self.n == 0 or not self.sums:
            return None
        out = {"step": step, "targets": {}}
        for t in targets:
            out["targets"][t["target"]] = [[v / self.n for v in self.sums.get(l["module"], [])] for l in t["layers"]]
        self.sums = {}
        self.n = 0
        return out
