"""Reference Lily and LoRA in PyTorch, exactly as /work/shared/LILY.md defines them, plus a
small trainer (AdamW / SGD, PyTorch's formulas) to check the ONNX training step against.

    .venv/bin/python scripts/oracle/lily_ref.py JOB.json [--out RESULT.json]

See scripts/oracle/README.md for the job file, the tensor names and the result.
"""
import argparse
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from tensorfile import read_safetensors, write_safetensors  # noqa: E402

ROUTING_MODES = ("batch", "masked", "token")
LAYER_INDEX = re.compile(r"(?:^|\.)(?:layer|layers|h|blocks)\.(\d+)(?:\.|$)")


# ---------------------------------------------------------------------------
# The math, on plain tensors (the wrapper modules below only call these)


def lily_delta(x, A, B, R, scaling, routing="batch", mask=None):
    """Lily's additive output for one layer.

    x [..., d_in]; A [d_in, r]; B [num_B, r, d_out]; R [r, num_B];
    mask (routings "masked" and "token"): [batch, tokens] with 1 for real tokens, or None.
    Returns (delta [..., d_out], p) where p [num_B] is the mean router probability: the mixture
    itself for "batch"/"masked"; for "token", only a summary (each token mixes with its own
    p_tok), averaged over real tokens when a mask is given, as the engine reports it.
    """
    if routing not in ROUTING_MODES:
        raise ValueError(f"routing: expected one of {ROUTING_MODES}, got {routing!r}")
    h = x @ A                                   # [..., r]
    p_tok = torch.softmax(h @ R, dim=-1)        # [..., num_B]
    if routing != "batch" and mask is not None and x.dim() == 3:
        w = mask.to(p_tok.dtype)[..., None]                       # [batch, tokens, 1]
        p = (p_tok * w).sum(dim=(0, 1)) / w.sum()
    else:
        # "batch": the mean over ALL batch and token positions, padding included (the
        # reference behaviour). "masked" without token structure falls back to it.
        p = p_tok.reshape(-1, p_tok.shape[-1]).mean(dim=0)
    if routing == "token":
        per_expert = torch.einsum("...r,erd->...ed", h, B)        # [..., num_B, d_out]
        return scaling * torch.einsum("...e,...ed->...d", p_tok, per_expert), p
    B_mix = torch.einsum("e,erd->rd", p, B)                       # [r, d_out]
    return scaling * (h @ B_mix), p


def lora_delta(x, A, B, scale):
    """LoRA's additive output: scale * (x A) B with A [d_in, r], B [r, d_out], scale = alpha / r."""
    return scale * ((x @ A) @ B)


def kaiming_uniform(shape_out_in, generator):
    """torch.nn.Linear's default weight init (kaiming_uniform, a=sqrt(5)) for a [out, in] weight,
    i.e. U(-1/sqrt(in), 1/sqrt(in))."""
    fan_in = shape_out_in[1]
    bound = 1.0 / math.sqrt(fan_in)
    return (torch.rand(shape_out_in, generator=generator, dtype=torch.float64) * 2 - 1) * bound


# ---------------------------------------------------------------------------
# Injection around named nn.Linear modules


class RoutingContext:
    """Holds the attention mask of the current batch for "masked" routing."""

    def __init__(self):
        self.mask = None


class LilyLinear(nn.Module):
    def __init__(self, base, name, group, A_index, params, scaling, routing, ctx):
        super().__init__()
        self.base, self.name, self.group, self.A_index = base, name, group, A_index
        self.params, self.scaling, self.routing, self.ctx = params, scaling, routing, ctx
        self.last_p = None

    def forward(self, x):
        A = self.params[lily_A_name(self.group, self.A_index)]
        B = self.params[lily_B_name(self.group)]
        R = self.params[lily_router_name(self.name)]
        delta, p = lily_delta(x, A, B, R, self.scaling, self.routing, self.ctx.mask)
        self.last_p = None if p is None else p.detach()
        return self.base(x) + delta


class LoraLinear(nn.Module):
    def __init__(self, base, name, params, scale):
        super().__init__()
        self.base, self.name, self.params, self.scale = base, name, params, scale

    def forward(self, x):
        return self.base(x) + lora_delta(x, self.params[lora_A_name(self.name)], self.params[lora_B_name(self.name)], self.scale)


def lily_A_name(group, g):
    return f"{group}.lily_A.{g}"


def lily_B_name(group):
    return f"{group}.lily_B"


def lily_router_name(module):
    return f"{module}.lily_router"


def lora_A_name(module):
    return f"{module}.lora_A"


def lora_B_name(module):
    return f"{module}.lora_B"


def _matches(name, spec):
    """PEFT's rule: a list of suffixes (name == s or name ends with '.s'), or one regex (fullmatch).
    Returns the matched suffix, 'regex' for a regex match, or None."""
    if spec is None:
        return None
    if isinstance(spec, str):
        return "regex" if re.fullmatch(spec, name) else None
    for s in spec:
        if name == s or name.endswith("." + s):
            return s
    return None


def select_targets(model, adapter):
    """[(module name, nn.Linear, group key)] in model order, per PEFT's matching rules."""
    chosen = []
    for name, module in model.named_modules():
        if not isinstance(module, nn.Linear):
            continue
        key = _matches(name, adapter["target_modules"])
        if key is None or _matches(name, adapter.get("exclude_modules")) is not None:
            continue
        layers = adapter.get("layers_to_transform")
        if layers is not None:
            m = LAYER_INDEX.search(name)
            if m is None or int(m.group(1)) not in layers:
                continue
        chosen.append((name, module, key))
    if not chosen:
        linear = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        raise SystemExit(f"adapter.target_modules {adapter['target_modules']!r} matches no nn.Linear; the model has: {linear}")
    # Groups are by matched suffix AND weight shape; the shape joins the key only when needed.
    shapes = {}
    for _, m, key in chosen:
        shapes.setdefault(key, set()).add((m.in_features, m.out_features))
    return [(n, m, key if len(shapes[key]) == 1 else f"{key}@{m.in_features}x{m.out_features}") for n, m, key in chosen]


def _set_submodule(model, name, new):
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def inject(model, adapter, seed=0, dtype=torch.float64):
    """Wraps the targeted nn.Linear modules. Returns (params, layout, ctx):
    params: {name: nn.Parameter}, the unique adapter tensors (a plain dict: the names contain
    dots, which nn.ParameterDict forbids); layout: one dict per adapted layer; ctx: the
    RoutingContext to set the attention mask on. Initialisation as PEFT's default: A and
    routers Kaiming-uniform (a=sqrt(5)), B zero."""
    method = adapter.get("method", "lily")
    r = int(adapter.get("r", 32 if method == "lily" else 8))
    gen = torch.Generator().manual_seed(seed)
    targets = select_targets(model, adapter)
    params = {}
    layout = []
    ctx = RoutingContext()

    def add(name, tensor):
        params[name] = nn.Parameter(tensor.to(dtype))

    if method == "lora":
        alpha = float(adapter.get("lora_alpha", r))
        for name, lin, key in targets:
            add(lora_A_name(name), kaiming_uniform((r, lin.in_features), gen).T.contiguous())
            add(lora_B_name(name), torch.zeros(r, lin.out_features, dtype=torch.float64))
            _set_submodule(model, name, LoraLinear(lin, name, params, alpha / r))
            layout.append({"module": name, "group": key, "A": lora_A_name(name), "B": lora_B_name(name)})
        return params, layout, ctx
    if method != "lily":
        raise SystemExit(f"adapter.method: expected 'lily' or 'lora', got {method!r}")

    stride = int(adapter.get("stride_A", 1))
    num_B = int(adapter.get("num_B", 2))
    scaling = float(adapter.get("scaling", 1.0))
    routing = adapter.get("routing", "batch")
    if stride < 1 or num_B < 2 or r < 1:
        raise SystemExit(f"adapter: need stride_A >= 1, num_B >= 2, r >= 1 (got {stride}, {num_B}, {r})")
    if routing not in ROUTING_MODES:
        raise SystemExit(f"adapter.routing: expected one of {ROUTING_MODES}, got {routing!r}")
    index_in_group = {}
    for name, lin, key in targets:
        i = index_in_group.get(key, 0)
        index_in_group[key] = i + 1
        g = i // stride
        if lily_B_name(key) not in params:
            add(lily_B_name(key), torch.zeros(num_B, r, lin.out_features, dtype=torch.float64))
        if lily_A_name(key, g) not in params:
            add(lily_A_name(key, g), kaiming_uniform((r, lin.in_features), gen).T.contiguous())
        add(lily_router_name(name), kaiming_uniform((num_B, r), gen).T.contiguous())
        _set_submodule(model, name, LilyLinear(lin, name, key, g, params, scaling, routing, ctx))
        layout.append({"module": name, "group": key, "layer_in_group": i, "A": lily_A_name(key, g),
                       "B": lily_B_name(key), "router": lily_router_name(name)})
    return params, layout, ctx


def lily_param_count(L, stride_A, r, d_in, d_out, num_B):
    """LILY.md: ceil(L/stride_A)*r*d_in + num_B*r*d_out + L*r*num_B."""
    return math.ceil(L / stride_A) * r * d_in + num_B * r * d_out + L * r * num_B


# ---------------------------------------------------------------------------
# Losses


def task_loss(task, logits, batch):
    labels = batch.get("labels")
    if task == "causal-lm":
        if labels is None:
            labels = batch["input_ids"].clone()
            if "attention_mask" in batch:
                labels[batch["attention_mask"] == 0] = -100
        # Hugging Face convention: position t predicts token t+1; -100 is ignored.
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100)
    if labels is None:
        raise SystemExit(f"data: task {task} needs a `labels` tensor")
    if task == "sequence-classification":
        return F.cross_entropy(logits, labels.long())
    if task == "token-classification":
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1).long(), ignore_index=-100)
    if task == "regression":
        return F.mse_loss(logits.reshape(-1), labels.reshape(-1).to(logits.dtype))
    raise SystemExit(f"task: unknown task {task!r}")


# ---------------------------------------------------------------------------
# The job runner


def load_batches(path, input_names, dtype):
    """Batches from a safetensors file: keys `<input>` / `labels`, or `<k>/<input>` for step k."""
    tensors, _ = read_safetensors(path)
    steps = {}
    for key, arr in tensors.items():
        step, _, name = key.rpartition("/")
        steps.setdefault(int(step) if step else 0, {})[name] = arr
    batches = []
    for k in sorted(steps):
        b = {}
        for name, arr in steps[k].items():
            t = torch.from_numpy(arr)
            b[name] = t.to(dtype) if t.is_floating_point() else t.long()
        missing = [n for n in input_names if n not in b]
        if missing:
            raise SystemExit(f"{path}: batch {k} lacks model inputs {missing} (has {sorted(b)})")
        batches.append(b)
    if not batches:
        raise SystemExit(f"{path}: no tensors")
    return batches


def trainable_saved(model, modules_to_save):
    """{param name: nn.Parameter} of the modules trained in full (torch names)."""
    out = {}
    for entry in modules_to_save or []:
        hit = False
        for name, p in model.named_parameters():
            module = name.rpartition(".")[0]
            if name == entry or module == entry or module.endswith("." + entry):
                out[name] = p
                hit = True
        if not hit:
            raise SystemExit(f"modules_to_save: {entry!r} matches no parameter of the model")
    return out


def apply_init(path, adapter_params, saved):
    """Copies tensors from an init safetensors file; every name must be known and shaped right."""
    tensors, _ = read_safetensors(path)
    known = {**adapter_params, **saved}
    from_file = []
    with torch.no_grad():
        for name, arr in tensors.items():
            if name not in known:
                raise SystemExit(f"{path}: unknown tensor {name!r}; expected some of {sorted(known)}")
            p = known[name]
            if tuple(arr.shape) != tuple(p.shape):
                raise SystemExit(f"{path}: tensor {name} has shape {list(arr.shape)}, expected {list(p.shape)}")
            p.copy_(torch.from_numpy(arr).to(p.dtype))
            from_file.append(name)
    return sorted(from_file)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def run_job(job, base_dir="."):
    from export import load_model_dir  # local import: export.py imports models/torch too

    def rel(p):
        return p if os.path.isabs(p) else os.path.join(base_dir, p)

    dtype = {"float64": torch.float64, "float32": torch.float32}[job.get("dtype", "float64")]
    model, manifest = load_model_dir(rel(job["model_dir"]), dtype)
    for p in model.parameters():
        p.requires_grad_(False)
    task = job.get("task") or ("causal-lm" if manifest["kind"] == "decoder" else "sequence-classification")
    params, layout, ctx = inject(model, job["adapter"], int(job.get("seed", 0)), dtype)
    saved = trainable_saved(model, job.get("modules_to_save"))
    for p in saved.values():
        p.requires_grad_(True)
    from_file = apply_init(rel(job["init"]), params, saved) if job.get("init") else []
    named = {**params, **saved}
    batches = load_batches(rel(job["data"]), manifest["inputs"], dtype)

    opt_cfg = {"name": "adamw", "lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.9, **job.get("optimizer", {})}
    no_decay = job.get("no_decay", [])
    groups = [
        {"params": [p for n, p in named.items() if not any(s in n for s in no_decay)], "weight_decay": opt_cfg["weight_decay"]},
        {"params": [p for n, p in named.items() if any(s in n for s in no_decay)], "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    if opt_cfg["name"] == "adamw":
        opt = torch.optim.AdamW(groups, lr=opt_cfg["lr"], betas=tuple(opt_cfg["betas"]), eps=opt_cfg["eps"])
    elif opt_cfg["name"] == "sgd":
        opt = torch.optim.SGD(groups, lr=opt_cfg["lr"], momentum=opt_cfg["momentum"])
    else:
        raise SystemExit(f"optimizer.name: expected 'adamw' or 'sgd', got {opt_cfg['name']!r}")
    lr_per_step = job.get("lr_per_step")
    max_norm = float(job.get("max_grad_norm", 0.0))
    steps = int(job.get("steps", 0))

    def forward(batch):
        ctx.mask = batch.get("attention_mask")
        logits = model(*(batch[n] for n in manifest["inputs"]))
        return logits, task_loss(task, logits, batch)

    result = {
        "task": task,
        "dtype": job.get("dtype", "float64"),
        "tensors": {n: list(p.shape) for n, p in named.items()},
        "from_init_file": from_file,
        "layers": layout,
    }
    losses, grad_norms = [], []
    for k in range(max(steps, 1)):
        batch = batches[k % len(batches)]
        opt.zero_grad(set_to_none=False)
        logits, loss = forward(batch)
        loss.backward()
        losses.append(float(loss))
        norm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in named.values()))
        grad_norms.append(float(norm))
        if k == 0:
            result["loss"] = float(loss)
            result["logits"] = {"shape": list(logits.shape), "data": flat(logits)}
            result["grads"] = {n: {"shape": list(p.shape), "data": flat(p.grad)} for n, p in named.items()}
            result["router_p"] = {m.name: flat(m.last_p) for m in model.modules() if isinstance(m, LilyLinear) and m.last_p is not None}
        if steps == 0:
            break
        if max_norm > 0:
            torch.nn.utils.clip_grad_norm_(list(named.values()), max_norm)
        if lr_per_step is not None:
            for g in opt.param_groups:
                g["lr"] = float(lr_per_step[k])
        opt.step()
    result["losses"] = losses
    result["grad_norms"] = grad_norms
    if steps > 0:
        with torch.no_grad():
            result["final_loss"] = float(forward(batches[0])[1])
        result["final"] = {n: {"shape": list(p.shape), "data": flat(p)} for n, p in named.items()}
    if job.get("final_weights"):
        write_safetensors(rel(job["final_weights"]), {n: p.detach() for n, p in named.items()})
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("job", help="job JSON file (see scripts/oracle/README.md)")
    ap.add_argument("--out", help="write the result JSON here instead of stdout")
    args = ap.parse_args()
    try:
        with open(args.job) as f:
            job = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise SystemExit(f"{args.job}: cannot read the job ({e})")
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    result = run_job(job, os.path.dirname(os.path.abspath(args.job)))
    text = json.dumps(result)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
