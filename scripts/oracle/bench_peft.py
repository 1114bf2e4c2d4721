"""The peer of `npm run bench`: transformers + PEFT on PyTorch, trained the way its users do it.

    .venv/bin/python scripts/oracle/bench_peft.py '<settings JSON>'

The model is transformers' own class (hf_models.load_plain: BertForSequenceClassification or
LlamaForCausalLM, the weights our engine's ONNX export was made from); the adapter is PEFT's
LilyConfig or LoraConfig through get_peft_model, started from the engine's initial adapter
(share_dir/adapter_model.safetensors, PEFT format, loaded with set_peft_model_state_dict); the
optimizer torch.optim.AdamW with clip_grad_norm_ (Trainer's defaults); the loss the model
computes from `labels`. Batches are padded to their longest row (DataCollatorWithPadding's
`padding=True`; for causal LM the labels are the ids with -100 on padding, as
DataCollatorForLanguageModeling makes them). With "compile": true the model runs through
torch.compile (dynamic shapes).

Settings: model_dir, share_dir (holding data.json and adapter_model.safetensors), adapter (the
engine's adapter section), task, batch, max_length, threads, lr, weight_decay, max_grad_norm,
compile, order ("grouped": data.json's train_grouped). Speaks bench/ours/protocol.ts's line protocol; `eval` answers the mean
loss over the fixed eval batches.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
from peft import LilyConfig, LoraConfig, get_peft_model, set_peft_model_state_dict  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from hf_models import load_plain  # noqa: E402


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise SystemExit("/proc/self/status has no VmHWM line (the benchmark needs Linux to read peak memory)")


def peft_config(a):
    common = dict(target_modules=a["target_modules"], modules_to_save=a.get("modules_to_save"))
    if a["method"] == "lily":
        if a.get("routing", "batch") != "batch":
            raise SystemExit(f"bench_peft: PEFT's Lily has batch routing only, not {a['routing']!r}")
        return LilyConfig(r=a["r"], stride_A=a["stride_A"], num_B=a["num_B"], scaling=a.get("scaling", 1.0), **common)
    return LoraConfig(r=a["r"], lora_alpha=a["lora_alpha"], lora_dropout=0.0, **common)


def pad_longest(examples, task, max_length):
    """DataCollatorWithPadding(padding=True) on already-tokenized examples (right padding, pad id 0)."""
    ids = [e["ids"][:max_length] for e in examples]
    t = max(len(x) for x in ids)
    input_ids = torch.zeros(len(ids), t, dtype=torch.long)
    mask = torch.zeros(len(ids), t, dtype=torch.long)
    for i, x in enumerate(ids):
        input_ids[i, :len(x)] = torch.tensor(x)
        mask[i, :len(x)] = 1
    if task == "causal-lm":
        labels = input_ids.masked_fill(mask == 0, -100)
    else:
        labels = torch.tensor([e["label"] for e in examples])
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: bench_peft.py '<settings JSON>' (see the docstring)")
    s = json.loads(sys.argv[1])
    torch.set_num_threads(int(s["threads"]))
    torch.manual_seed(0)
    t0 = time.perf_counter()
    base, _ = load_plain(s["model_dir"])
    model = get_peft_model(base, peft_config(s["adapter"]))
    state = load_file(os.path.join(s["share_dir"], "adapter_model.safetensors"))
    res = set_peft_model_state_dict(model, state)
    missing = [k for k in res.missing_keys if "lily_" in k or "lora_" in k or "modules_to_save" in k]
    if missing or res.unexpected_keys:
        raise SystemExit(f"bench_peft: the engine's initial adapter does not fit PEFT's model: missing {missing[:5]}, unexpected {res.unexpected_keys[:5]}")
    model.train()
    # No dropout on either side: the engine's graph is the export of the model in eval mode.
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=float(s["lr"]), weight_decay=float(s["weight_decay"]))
    with open(os.path.join(s["share_dir"], "data.json")) as f:
        data = json.load(f)
    task, batch, max_length = s["task"], int(s["batch"]), int(s["max_length"])
    forward = torch.compile(model, dynamic=True) if s.get("compile") else model
    # "grouped": the batches of Trainer's group_by_length, made by bench/run.mjs (same as ours).
    examples = data["train_grouped"] if s.get("order") == "grouped" else data["train"]
    cursor = [0]

    def next_batch():
        picked = [examples[(cursor[0] + i) % len(examples)] for i in range(batch)]
        cursor[0] += batch
        return pad_longest(picked, task, max_length)

    def step():
        b = next_batch()
        opt.zero_grad(set_to_none=True)
        loss = forward(**b).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, float(s["max_grad_norm"]))
        opt.step()
        return float(loss), int(b["attention_mask"].sum()), int(b["input_ids"].numel())

    first_loss, _, _ = step()
    reply({"ready": True, "first_loss": first_loss, "first_step_ms": (time.perf_counter() - t0) * 1000,
           "threads": torch.get_num_threads(), "torch": torch.__version__,
           "trainable_params": sum(p.numel() for p in params)})
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        if cmd["cmd"] == "run":
            ms, cpu, loss, real, padded = [], [], float("nan"), 0, 0
            for _ in range(int(cmd["steps"])):
                t, c = time.perf_counter(), time.process_time()
                loss, r, p = step()
                ms.append((time.perf_counter() - t) * 1000)
                cpu.append((time.process_time() - c) * 1000)
                real += r
                padded += p
            reply({"ms": ms, "cpu_ms": cpu, "loss": loss, "real_tokens": real, "padded_tokens": padded,
                   "documents": int(cmd["steps"]) * batch})
        elif cmd["cmd"] == "eval":
            peak = peak_rss_mb()
            model.eval()
            total = 0.0
            with torch.no_grad():
                for group in data["eval"]:
                    total += float(forward(**pad_longest(group, task, max_length)).loss)
            model.train()
            reply({"loss": total / len(data["eval"]), "peak_rss_before_eval_mb": peak})
        elif cmd["cmd"] == "quit":
            reply({"peak_rss_mb": peak_rss_mb()})
            return
        else:
            raise SystemExit(f"bench_peft: unknown command {cmd!r} (expected run, eval or quit)")


if __name__ == "__main__":
    main()
