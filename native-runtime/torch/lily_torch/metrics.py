"""Eval metrics as the engine computes them (native-runtime/train/metrics.ts), in float64:
loss always; accuracy and macro-F1 for classification; mse and pearson for regression;
perplexity and accuracy for causal LM."""
import math

import torch


class EvalAccumulator:
    def __init__(self, task: str):
        self.task = task
        self.preds: list = []
        self.targets: list = []
        self.loss_sum = 0.0
        self.count = 0

    def add(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        logits = logits.detach().double()
        if self.task == "regression":
            p = logits.reshape(-1)
            y = labels.double().reshape(-1)
            self.preds += p.tolist()
            self.targets += y.tolist()
            self.loss_sum += float(((p - y) ** 2).sum())
            self.count += p.shape[0]
            return
        c = logits.shape[-1]
        if self.task == "sequence-classification":
            flat, y = logits.reshape(-1, c), labels.reshape(-1)
        else:
            shift = 1 if self.task == "causal-lm" else 0
            t = logits.shape[1]
            flat = logits[:, : t - shift].reshape(-1, c)
            y = labels[:, shift:].reshape(-1)
            keep = y != -100
            flat, y = flat[keep], y[keep]
        logp = torch.log_softmax(flat, dim=-1)
        self.loss_sum -= float(logp.gather(1, y.long().unsqueeze(1)).sum())
        self.preds += flat.argmax(dim=-1).tolist()
        self.targets += y.tolist()
        self.count += y.shape[0]

    def result(self) -> dict:
        loss = self.loss_sum / self.count if self.count else float("nan")
        if self.task in ("sequence-classification", "token-classification"):
            return {"loss": loss, "accuracy": accuracy(self.preds, self.targets), "f1": macro_f1(self.preds, self.targets)}
        if self.task == "regression":
            return {"loss": loss, "mse": loss, "pearson": pearson(self.preds, self.targets)}
        return {"loss": loss, "perplexity": math.exp(loss), "accuracy": accuracy(self.preds, self.targets)}


def accuracy(preds: list, labels: list) -> float:
    return sum(1 for p, y in zip(preds, labels) if p == y) / len(labels) if labels else 0.0


def macro_f1(preds: list, labels: list) -> float:
    classes = set(labels) | set(preds)
    if not classes:
        return 0.0
    total = 0.0
    for c in classes:
        tp = sum(1 for p, y in zip(preds, labels) if p == c and y == c)
        fp = sum(1 for p, y in zip(preds, labels) if p == c and y != c)
        fn = sum(1 for p, y in zip(preds, labels) if p != c and y == c)
        total += 0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)
    return total / len(classes)


def pearson(x: list, y: list) -> float:
    n = len(x)
    if n < 2:
        return 0.0
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return 0.0 if sxx == 0 or syy == 0 else sxy / math.sqrt(sxx * syy)
