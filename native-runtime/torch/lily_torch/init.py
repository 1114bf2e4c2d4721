"""The engine's default adapter initialisation (native-runtime/adapters/init.ts and inject.ts), bit
for bit, so that a torch run and an ONNX-engine run of the same config start from the same
adapter without an adapter.init file: B (Lily's expert pool, LoRA's B) zero; Lily's A and routers
and LoRA's A drawn uniformly in +-1/sqrt(fan_in) (torch.nn.Linear's kaiming_uniform bound), each
tensor from its own mulberry32 stream seeded by (training.seed, the tensor's internal name).
Values are generated in the engine's internal layout ([d_in, r], [r, num_B]) and transposed into
PEFT's nn.Linear weights."""
import math

import torch

M32 = 0xFFFFFFFF


def _imul(a: int, b: int) -> int:
    return (a * b) & M32


def stream_seed(seed: int, name: str) -> int:
    """FNV-1a over the name's UTF-16 code units, mixed with the seed (init.ts streamSeed)."""
    h = (0x811C9DC5 ^ (seed & M32)) & M32
    units = name.encode("utf-16-le")
    for i in range(0, len(units), 2):
        h ^= units[i] | (units[i + 1] << 8)
        h = _imul(h, 0x01000193)
    h ^= h >> 16
    h = _imul(h, 0x85EBCA6B)
    h ^= h >> 13
    return h & M32


def mulberry32(seed: int):
    a = seed & M32

    def nxt() -> float:
        nonlocal a
        a = (a + 0x6D2B79F5) & M32
        t = a
        t = _imul(t ^ (t >> 15), t | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & M32
        return ((t ^ (t >> 14)) & M32) / 4294967296

    return nxt


def kaiming_uniform(size: int, fan_in: int, seed: int, name: str) -> list:
    """init.ts kaimingUniform: float64 values; float32 rounding happens when they become a tensor."""
    bound = 1 / math.sqrt(fan_in)
    rand = mulberry32(stream_seed(seed, name))
    return [(rand() * 2 - 1) * bound for _ in range(size)]


def _internal(size_in: int, size_out: int, fan_in: int, seed: int, name: str) -> torch.Tensor:
    """An engine tensor of shape [size_in, size_out] (row-major), as float32."""
    return torch.tensor(kaiming_uniform(size_in * size_out, fan_in, seed, name), dtype=torch.float32).reshape(size_in, size_out)


@torch.no_grad()
def engine_default_init(peft_model, cfg: dict, targets: list) -> None:
    """Overwrites PEFT's random initialisation of every adapter tensor with the engine's."""
    a = cfg["adapter"]
    seed = int(cfg["training"]["seed"])
    modules = dict((n.removeprefix("base_model.model."), m) for n, m in peft_model.named_modules())
    r = a["r"]
    for t in targets:
        d_in = t["d_in"]
        if a["method"] == "lily":
            num_b = a["num_B"]
            first_of_group: dict = {}
            for l in t["layers"]:
                first_of_group.setdefault(l["a_group"], l["module"])
            a_values = {g: _internal(d_in, r, d_in, seed, f"{m}.lily_A") for g, m in first_of_group.items()}
            for l in t["layers"]:
                m = modules[l["module"]]
                # PEFT shares A within a group and B within a target (the same nn.Linear); writing
                # every layer's handle is harmless and also right if a version keeps copies.
                m.lily_A["default"].weight.copy_(a_values[l["a_group"]].t())
                m.lily_B["default"].weight.zero_()
                m.lily_router["default"].weight.copy_(_internal(r, num_b, r, seed, f"{l['module']}.lily_router").t())
        else:
            for l in t["layers"]:
                m = modules[l["module"]]
                m.lora_A["default"].weight.copy_(_internal(d_in, r, d_in, seed, f"{l['module']}.lora_A").t())
                m.lora_B["default"].weight.zero_()
