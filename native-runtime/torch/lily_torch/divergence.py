"""Divergence detection as the engine does it (native-runtime/train/divergence.ts), with the
resolved config's training.divergence limits (0 switches a check off): an exponential average of
the step losses (weight 0.1 on the newest) against its lowest value so far (never below 1% of the
first loss), the gradient norm before clipping, and the largest trainable weight magnitude.
Its state rides in checkpoints, so a resumed run judges like an uninterrupted one."""
from __future__ import annotations

import math

SMOOTHING = 0.1


def _fmt(x: float) -> str:
    if abs(x) >= 1e4 or (abs(x) < 1e-3 and x != 0):
        mant, exp = f"{x:.2e}".split("e")
        mant = mant.rstrip("0").rstrip(".")
        return f"{mant}e{'+' if int(exp) >= 0 else '-'}{abs(int(exp))}"
    return f"{float(f'{x:.3g}'):g}"


class DivergenceMonitor:
    def __init__(self, limits: dict | None, state: dict | None = None):
        self.limits = limits or {}
        self.state = dict(state or {})

    def snapshot(self) -> dict:
        return dict(self.state)

    def check(self, loss: float, grad_norm: float, max_abs: tuple):
        """Returns (reason, field) when the run diverged, else None. Non-finite values always do."""
        name, value = max_abs
        if not math.isfinite(loss):
            return f"the loss became {loss}", "training.lr"
        if not math.isfinite(grad_norm):
            return f"the gradient norm became {grad_norm}", "training.lr"
        if not math.isfinite(value):
            return f"the weight {name} became {value}", "training.lr"
        loss_factor = self.limits.get("loss_factor", 0)
        grad_norm_limit = self.limits.get("grad_norm_limit", 0)
        param_limit = self.limits.get("param_limit", 0)
        if param_limit > 0 and value > param_limit:
            return f"the weight {name} reached magnitude {_fmt(value)}, above training.divergence.param_limit {_fmt(param_limit)}", "training.divergence.param_limit"
        if grad_norm_limit > 0 and grad_norm > grad_norm_limit:
            return f"the gradient norm reached {_fmt(grad_norm)}, above training.divergence.grad_norm_limit {_fmt(grad_norm_limit)}", "training.divergence.grad_norm_limit"
        s = self.state
        s.setdefault("first", loss)
        s["ema"] = loss if "ema" not in s else (1 - SMOOTHING) * s["ema"] + SMOOTHING * loss
        reference = max(s.get("min", s["ema"]), 0.01 * abs(s["first"]))
        if loss_factor > 0 and reference > 0 and s["ema"] > loss_factor * reference:
            return (f"the loss rose to {_fmt(loss)} (average {_fmt(s['ema'])}, {_fmt(s['ema'] / reference)}x its lowest average {_fmt(reference)}), "
                    f"above training.divergence.loss_factor {_fmt(loss_factor)}", "training.divergence.loss_factor")
        s["min"] = min(s.get("min", s["ema"]), s["ema"])
        return None


def max_abs_of(named: list) -> tuple:
    """(name, largest |value|) over the trainable tensors; NaN wins."""
    best = ("", 0.0)
    for name, p in named:
        t = p.detach()
        if t.isnan().any():
            return name, float("nan")
        v = float(t.abs().max()) if t.numel() else 0.0
        if v > best[1]:
            best = (name, v)
    return best


def divergence_hint(t: dict, field: str) -> str:
    lr = t["lr"]
    tenth = float(f"{lr / 10:.3g}")
    tips = [f"lower training.lr (it is {lr:g}; try {tenth:g})"]
    if t["max_grad_norm"] <= 0:
        tips.append("turn on gradient clipping (training.max_grad_norm 1.0; it is 0, off)")
    if t["warmup_steps"] == 0:
        tips.append("add training.warmup_steps (e.g. 5-10% of the steps)")
    text = f"To fix: {', or '.join(tips)}, then start again."
    if t["max_grad_norm"] > 0:
        how = "AdamW each step moves a weight by about lr whatever the gradient" if t["optimizer"] == "adamw" else "clipping on, the step size is set by lr"
        text += f" (Gradient clipping is already on at max_grad_norm {t['max_grad_norm']:g}: with {how}, so the learning rate is what to lower.)"
    if field.startswith("training.divergence."):
        text += f" If this growth is expected, raise {field} or set it to 0."
    return text
