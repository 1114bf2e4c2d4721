"""Learning-rate schedules (native-runtime/train/schedule.ts, Hugging Face's
get_{constant,linear,cosine}_schedule_with_warmup): the lr of optimizer step k (0-based)."""
import math


def learning_rate(k: int, lr: float, schedule: str, warmup_steps: int, total_steps: int) -> float:
    if k < warmup_steps:
        return lr * (k / max(1, warmup_steps))
    if schedule == "constant":
        return lr
    remaining = max(1, total_steps - warmup_steps)
    if schedule == "linear":
        return lr * max(0.0, (total_steps - k) / remaining)
    progress = (k - warmup_steps) / remaining
    return lr * max(0.0, 0.5 * (1 + math.cos(math.pi * 0.5 * 2 * progress)))
