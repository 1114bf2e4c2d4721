"""The model and adapter: transformers builds the model from a Hugging Face folder, PEFT injects
Lily (LilyConfig) or LoRA (LoraConfig) with every adapter field of the resolved config mapped.
What PEFT cannot express is refused (exit 2) rather than silently changed: the TypeScript side
already refuses masked/token routing; here the model's own checks (targets matching nothing, a
modules_to_save name that is not a module) are reported with the config field."""
import os

import torch
from peft import LilyConfig, LoraConfig, get_peft_model
from peft.tuners.lily.layer import LilyLayer

from .errors import InputError

_TASK_CLASSES = {
    "sequence-classification": "AutoModelForSequenceClassification",
    "regression": "AutoModelForSequenceClassification",
    "token-classification": "AutoModelForTokenClassification",
    "causal-lm": "AutoModelForCausalLM",
}


def model_source(cfg: dict, config_file: str) -> str:
    """The Hugging Face folder: model.path itself, or the source folder `lily import` recorded for
    an .onnx model (`lily-import.json` beside it, field `source`)."""
    p = cfg["model"]["path"]
    if os.path.isdir(p):
        return p
    record = os.path.join(os.path.dirname(p), "lily-import.json")
    try:
        with open(record, encoding="utf-8") as f:
            import json

            src = json.load(f).get("source")
    except (OSError, ValueError):
        src = None
    if not src or not os.path.isdir(src):
        raise InputError(config_file, "model.path", f"{p} is an ONNX file and no Hugging Face source folder is recorded for it ({record}); with runtime.backend \"torch\" give the Hugging Face model folder")
    return src


def load_model(cfg: dict, source: str, config_file: str):
    import transformers

    task = cfg["model"]["task"]
    kwargs = {}
    labels = cfg["model"].get("labels")
    if task == "sequence-classification" or task == "token-classification":
        n = cfg["model"].get("num_labels") or (len(labels) if labels else None)
        if n:
            kwargs["num_labels"] = n
        if labels:
            kwargs["id2label"] = dict(enumerate(labels))
            kwargs["label2id"] = {l: i for i, l in enumerate(labels)}
    elif task == "regression":
        kwargs.update(num_labels=1, problem_type="regression")
    cls = getattr(transformers, _TASK_CLASSES[task])
    try:
        model = cls.from_pretrained(source, dtype=torch.float32, attn_implementation="eager", **kwargs)
    except Exception as e:
        raise InputError(config_file, "model.path", f"transformers cannot load {source} as {_TASK_CLASSES[task]} ({e})")
    # The ONNX engine trains the exported inference graph (no dropout); so does this backend.
    model.eval()
    return model


def peft_config(cfg: dict):
    a = cfg["adapter"]
    common = {"target_modules": a["target_modules"]}
    if a.get("exclude_modules") is not None:
        common["exclude_modules"] = a["exclude_modules"]
    if a.get("layers_to_transform") is not None:
        common["layers_to_transform"] = a["layers_to_transform"]
    if a.get("modules_to_save"):
        common["modules_to_save"] = a["modules_to_save"]
    if a["method"] == "lily":
        if a.get("routing", "batch") != "batch":
            raise InputError(cfg["configPath"], "adapter.routing", f"\"{a['routing']}\" has no PEFT equivalent; use \"batch\" with the torch backend")
        return LilyConfig(r=a["r"], stride_A=a["stride_A"], num_B=a["num_B"], scaling=a["scaling"], init_weights=True, **common)
    return LoraConfig(r=a["r"], lora_alpha=a["lora_alpha"], lora_dropout=0.0, **common)


def adapt(model, cfg: dict):
    """PEFT model with the config's adapter, seeded like every rank (identical start everywhere)."""
    torch.manual_seed(cfg["training"]["seed"])
    try:
        peft_model = get_peft_model(model, peft_config(cfg))
    except ValueError as e:
        raise InputError(cfg["configPath"], "adapter.target_modules", str(e))
    peft_model.eval()
    return peft_model


def lily_layers(peft_model) -> list:
    """(module name without `base_model.model.`, layer) of every Lily layer, in model order."""
    out = []
    for name, m in peft_model.named_modules():
        if isinstance(m, LilyLayer) and "default" in m.lily_A:
            out.append((name.removeprefix("base_model.model."), m))
    return out


def adapted_modules(peft_model, method: str) -> list:
    """(name, layer) of every adapted layer (Lily or LoRA), in model order."""
    from peft.tuners.lora.layer import LoraLayer

    kind = LilyLayer if method == "lily" else LoraLayer
    out = []
    for name, m in peft_model.named_modules():
        if isinstance(m, kind) and ("default" in (m.lily_A if method == "lily" else m.lora_A)):
            out.append((name.removeprefix("base_model.model."), m))
    return out


def targets_of(peft_model, cfg: dict) -> list:
    """TargetInfo (runFiles.ts) per sharing group, the way PEFT groups: by matched suffix (the last
    entry of target_modules that the name ends with; a regex is one group) and weight shape."""
    a = cfg["adapter"]
    tm = a["target_modules"]
    groups: dict = {}
    for name, layer in adapted_modules(peft_model, a["method"]):
        base = layer.get_base_layer()
        d_out, d_in = base.weight.shape
        if isinstance(tm, str):
            suffix = tm
        else:
            suffix = None
            for s in tm:
                if name.endswith(s):
                    suffix = s
        groups.setdefault((suffix, d_in, d_out), []).append(name)
    per_target: dict = {}
    for (suffix, _, _) in groups:
        per_target[suffix] = per_target.get(suffix, 0) + 1
    stride = a.get("stride_A", 1) if a["method"] == "lily" else 1
    out = []
    for (suffix, d_in, d_out), names in groups.items():
        key = suffix if per_target[suffix] == 1 else f"{suffix}@{d_in}x{d_out}"
        out.append({
            "target": key, "d_in": int(d_in), "d_out": int(d_out),
            "layers": [{"module": n, "index": i, "a_group": i // stride if a["method"] == "lily" else i} for i, n in enumerate(names)],
        })
    return out
