"""Task losses as the engine defines them (native-runtime/train/losses.ts), returned as a sum and
a count so data-parallel ranks can normalise by the global count: mean cross-entropy over labels
inside 0..C-1 (so -100 is ignored; causal LM scores position t against label t+1), MSE for
regression. The engine's mean divides by max(count, 1)."""
import torch
import torch.nn.functional as F


def loss_sum_and_count(task: str, logits: torch.Tensor, labels: torch.Tensor):
    if task == "regression":
        pred = logits.reshape(-1).float()
        return ((pred - labels.float()) ** 2).sum(), torch.tensor(float(pred.shape[0]))
    if task == "causal-lm":
        ignore = torch.full_like(labels[:, :1], -100)
        labels = torch.cat([labels[:, 1:], ignore], dim=1)
    c = logits.shape[-1]
    flat = logits.reshape(-1, c).float()
    targets = labels.reshape(-1)
    valid = (targets >= 0) & (targets < c)
    logp = F.log_softmax(flat, dim=-1)
    picked = logp.gather(1, targets.clamp(0, c - 1).unsqueeze(1)).squeeze(1)
    return -(picked * valid).sum(), valid.sum().float()
