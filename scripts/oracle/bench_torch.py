"""PyTorch's side of `npm run bench`: the same exported model, adapter, initial tensors and batch
as the engine's worker, trained with torch autograd and torch.optim.AdamW, in its own process.

    .venv/bin/python scripts/oracle/bench_torch.py '<settings JSON>'

Settings: model_dir, adapter (lily_ref.py's adapter dict), modules_to_save, share_dir (holding
init.safetensors and batch.safetensors written by bench/ours/trainWorker.ts), threads, lr,
weight_decay, max_grad_norm. Speaks bench/ours/protocol.ts's line protocol on stdin/stdout:
it first runs one step and answers {"ready": true, "first_loss", "first_step_ms"}, then serves
{"cmd": "run", "steps": N} -> {"ms": [...], "loss"}, {"cmd": "matmul", "m", "k", "runs"} -> {"ms", "flops_per_run"}
(torch's MatMul rate) and {"cmd": "quit"} -> {"peak_rss_mb"}.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from export import load_model_dir  # noqa: E402
from lily_ref import apply_init, inject, load_batches, trainable_saved  # noqa: E402


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise SystemExit("/proc/self/status has no VmHWM line (the benchmark needs Linux to read peak memory)")


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: bench_torch.py '<settings JSON>' (see the docstring)")
    s = json.loads(sys.argv[1])
    threads = int(s["threads"])
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    model, manifest = load_model_dir(s["model_dir"], torch.float32)
    for p in model.parameters():
        p.requires_grad_(False)
    params, _, ctx = inject(model, s["adapter"], 0, torch.float32)
    saved = trainable_saved(model, s.get("modules_to_save"))
    for p in saved.values():
        p.requires_grad_(True)
    share = s["share_dir"]
    from_file = apply_init(os.path.join(share, "init.safetensors"), params, saved)
    named = {**params, **saved}
    missing = sorted(set(named) - set(from_file))
    if missing:
        raise SystemExit(f"{share}/init.safetensors: no initial values for {missing}; both sides must start from the same tensors")
    batch = load_batches(os.path.join(share, "batch.safetensors"), manifest["inputs"], torch.float32)[0]
    opt = torch.optim.AdamW(list(named.values()), lr=float(s["lr"]), weight_decay=float(s["weight_decay"]))
    max_norm = float(s["max_grad_norm"])
    inputs = [batch[n] for n in manifest["inputs"]]
    labels = batch["labels"]
    ctx.mask = batch.get("attention_mask")

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(*inputs), labels)
        loss.backward()
        if max_norm > 0:
            torch.nn.utils.clip_grad_norm_(list(named.values()), max_norm)
        opt.step()
        return float(loss)

    first_loss = step()
    reply({"ready": True, "first_loss": first_loss, "first_step_ms": (time.perf_counter() - t0) * 1000,
           "threads": torch.get_num_threads(), "torch": torch.__version__,
           "trainable_params": sum(p.numel() for p in named.values())})
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        if cmd["cmd"] == "run":
            ms, loss = [], float("nan")
            for _ in range(int(cmd["steps"])):
                t = time.perf_counter()
                loss = step()
                ms.append((time.perf_counter() - t) * 1000)
            reply({"ms": ms, "loss": loss})
        elif cmd["cmd"] == "matmul":
            # torch's own float32 MatMul rate on the shape bench/ours/matmulWorker.ts times for
            # ORT (a chain of four [m, k] x [k, k]), on the same threads: the two BLAS side by side.
            m, k = int(cmd["m"]), int(cmd["k"])
            g = torch.Generator().manual_seed(5)
            ws = [(torch.rand(k, k, generator=g) * 2 - 1) / k ** 0.5 for _ in range(4)]
            x0 = torch.rand(m, k, generator=g) * 2 - 1
            ms = []
            with torch.no_grad():
                for i in range(int(cmd["runs"]) + 1):
                    t = time.perf_counter()
                    x = x0
                    for w in ws:
                        x = x @ w
                    if i > 0:  # the first run warms up
                        ms.append((time.perf_counter() - t) * 1000)
            reply({"ms": ms, "flops_per_run": 4 * 2 * m * k * k})
        elif cmd["cmd"] == "quit":
            reply({"peak_rss_mb": peak_rss_mb()})
            return
        else:
            raise SystemExit(f"bench_torch: unknown command {cmd!r} (expected run or quit)")


if __name__ == "__main__":
    main()
