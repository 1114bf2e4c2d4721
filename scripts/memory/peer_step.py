"""The peer for bench/memory.mjs: transformers + PEFT (Lily on q_proj/v_proj, r 16, stride_A 2,
num_B 4, as bench/memory/stepWorker.ts) on torch, one process, a random causal-LM batch.

    .venv/bin/python scripts/memory/peer_step.py --arch qwen2 --config JSON --dtype float32|bfloat16
        [--batch 4 --seq 512 --steps 3 --threads 2]

Builds the model from the config (random weights), AdamW on the adapter, and prints one JSON
line: peak RSS (ru_maxrss of this process), time to the first step (build + first step), the
first step's own time, the median step time of the steps after it.
"""
import argparse
import json
import resource
import statistics
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", choices=["qwen2", "llama"], default="qwen2")
    ap.add_argument("--config", default="{}")
    ap.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    from peft import LilyConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM
    cfg_cls, model_cls = {"qwen2": (Qwen2Config, Qwen2ForCausalLM), "llama": (LlamaConfig, LlamaForCausalLM)}[a.arch]
    cfg = cfg_cls(**json.loads(a.config))
    cfg.use_cache = False
    torch.manual_seed(0)
    dtype = getattr(torch, a.dtype)
    # Built in its dtype from the start: a float32 model cast afterwards would peak at the float32
    # weights (27 GB for a 7B model) before the cast.
    torch.set_default_dtype(dtype)
    with torch.device("cpu"):
        model = model_cls(cfg)
    torch.set_default_dtype(torch.float32)
    model = get_peft_model(model, LilyConfig(r=16, stride_A=2, num_B=4, target_modules=["q_proj", "v_proj"]))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    g = torch.Generator().manual_seed(17)
    ids = torch.randint(0, cfg.vocab_size, (a.batch, a.seq), generator=g)
    mask = torch.ones_like(ids)
    times = []
    loss = None
    first = None
    for k in range(a.steps):
        s = time.perf_counter()
        out = model(input_ids=ids, attention_mask=mask, labels=ids)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss = out.loss.item()
        times.append((time.perf_counter() - s) * 1000)
        if k == 0:
            first = (time.perf_counter() - t0) * 1000
    print(json.dumps({
        "peer": f"transformers+peft torch {torch.__version__} {a.dtype}", "batch": a.batch, "seq": a.seq, "loss": loss,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "first_step_done_ms": round(first), "first_run_ms": round(times[0]), "steps": a.steps, "step_ms": round(statistics.median(times[1:])) if len(times) > 1 else None,
    }))


if __name__ == "__main__":
    main()
