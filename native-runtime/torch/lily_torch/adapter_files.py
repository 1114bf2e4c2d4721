"""The run's adapter/ folder, as the engine writes it: PEFT's own files (save_pretrained:
adapter_config.json + adapter_model.safetensors, loadable with PeftModel.from_pretrained) and the
compact native file adapter.lily.safetensors (native-runtime/io/compactAdapter.ts: each shared
tensor once, internal names and math layouts, settings/targets/saved as JSON metadata). Files are
written into a temp folder and renamed into place one by one, so a reader never sees a torn file."""
import json
import os
import shutil
import tempfile

import torch
from safetensors.torch import save_file

from .run_dir import fsync_dir

COMPACT_FILE = "adapter.lily.safetensors"


def compact_tensors(peft_model, cfg: dict, targets: list, saved: list) -> dict:
    """Internal names (native-runtime/io/adapterWeights.ts):
    <first module of the A group>.lily_A [d_in, r]; <first module of the target>.lily_B
    [num_B, r, d_out]; <module>.lily_router [r, num_B]; <module>.lora_A [d_in, r] / lora_B [r, d_out]."""
    a = cfg["adapter"]
    modules = dict((n.removeprefix("base_model.model."), m) for n, m in peft_model.named_modules())
    out = {}
    for t in targets:
        layers = t["layers"]
        if a["method"] == "lily":
            first_of_group: dict = {}
            for l in layers:
                first_of_group.setdefault(l["a_group"], l["module"])
            first = modules[layers[0]["module"]]
            out[f"{layers[0]['module']}.lily_B"] = first.lily_B["default"].weight.reshape(a["num_B"], a["r"], t["d_out"])
            for l in layers:
                m = modules[l["module"]]
                name_a = f"{first_of_group[l['a_group']]}.lily_A"
                out.setdefault(name_a, m.lily_A["default"].weight.t())
                out[f"{l['module']}.lily_router"] = m.lily_router["default"].weight.t()
        else:
            for l in layers:
                m = modules[l["module"]]
                out[f"{l['module']}.lora_A"] = m.lora_A["default"].weight.t()
                out[f"{l['module']}.lora_B"] = m.lora_B["default"].weight.t()
    params = dict(peft_model.named_parameters())
    for s in saved:
        out[s["name"]] = params[s["param"]]
    return {k: v.detach().float().contiguous().cpu() for k, v in out.items()}


def saved_specs(peft_model) -> list:
    """modules_to_save tensors: PEFT keeps a trainable copy at `<module>.modules_to_save.default.<p>`
    and saves it as `<module>.<p>`; without an ONNX model that plain name is also the internal one."""
    out = []
    for name, p in peft_model.named_parameters():
        if ".modules_to_save.default." in name and p.requires_grad:
            plain = name.removeprefix("base_model.model.").replace(".modules_to_save.default.", ".")
            out.append({"name": plain, "peftName": plain, "transposed": False, "param": name})
    return out


def write_compact(file: str, peft_model, cfg: dict, targets: list, saved: list) -> None:
    """adapter.lily.safetensors: the compact native file (also kept in each checkpoint, so the
    engine's inspect and exports read a checkpoint of a torch run as they read one of theirs)."""
    settings = {k: v for k, v in cfg["adapter"].items() if k != "init"}
    meta = {
        "format": "lily-vscode/adapter",
        "version": "1",
        "settings": json.dumps(settings),
        "targets": json.dumps(targets),
        "saved": json.dumps([{k: s[k] for k in ("name", "peftName", "transposed")} for s in saved]),
    }
    save_file(compact_tensors(peft_model, cfg, targets, saved), file, metadata=meta)


def write_adapter(run_dir: str, peft_model, cfg: dict, targets: list, saved: list) -> str:
    final = os.path.join(run_dir, "adapter")
    os.makedirs(final, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-adapter-", dir=run_dir)
    try:
        peft_model.save_pretrained(tmp, safe_serialization=True)
        write_compact(os.path.join(tmp, COMPACT_FILE), peft_model, cfg, targets, saved)
        for name in sorted(os.listdir(tmp)):
            src = os.path.join(tmp, name)
            if os.path.isfile(src):
                with open(src, "rb") as f:
                    os.fsync(f.fileno())
                os.replace(src, os.path.join(final, name))
        fsync_dir(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def load_initial_adapter(peft_model, file: str, config_file: str) -> None:
    """adapter.init: a PEFT adapter_model.safetensors (every layer's copy; the last copy of a
    shared tensor wins, as in PEFT)."""
    from peft import get_peft_model_state_dict, set_peft_model_state_dict
    from safetensors.torch import load_file

    from .errors import InputError

    try:
        state = load_file(file)
    except Exception as e:
        raise InputError(config_file, "adapter.init", f"cannot read {file} ({e})")
    current = get_peft_model_state_dict(peft_model)
    missing = [k for k in current if k not in state and ("lily_" in k or "lora_" in k)]
    if missing:
        raise InputError(config_file, "adapter.init", f"{file} has no values for {missing[:3]}{' ...' if len(missing) > 3 else ''}; it was trained for another model or adapter")
    # modules_to_save tensors the file lacks start from the model's own values (as the engine does).
    set_peft_model_state_dict(peft_model, {**current, **state})
