"""The tokenized data the TypeScript side wrote (native-runtime/torch/dataset.ts): every model
input as int64 [N, max_length] (or its own shape), `labels` in the engine's layout (int64 [N]
classes, float32 [N] regression, int64 [N, T] token labels with -100 ignored) and `tokens`
(non-padding tokens per record). Tokenising stays in one place (the TypeScript data pipeline),
so both backends train on the same numbers.

The files live in a cache shared by runs; the run directory's dataset.json names them (runs
written before it keep them in dataset/). They are memory-mapped, not loaded: a batch reads its
own rows, so data larger than memory trains."""
import json
import os
import struct

import numpy as np
import torch

from .errors import InputError

LABELS = "labels"
TOKENS = "tokens"
_DTYPES = {"I64": np.int64, "F32": np.float32, "I32": np.int32}


def dataset_files(run_dir: str) -> tuple:
    """(train file, eval file or None) of a run."""
    ref_file = os.path.join(run_dir, "dataset.json")
    if os.path.exists(ref_file):
        try:
            with open(ref_file, encoding="utf-8") as f:
                ref = json.load(f)
            return ref["train"], ref.get("eval")
        except (OSError, ValueError, KeyError) as e:
            raise InputError(ref_file, "train", f"cannot read the run's dataset reference ({e}); start the run again with lily train --backend torch")
    legacy = os.path.join(run_dir, "dataset")
    eval_file = os.path.join(legacy, "eval.safetensors")
    return os.path.join(legacy, "train.safetensors"), (eval_file if os.path.exists(eval_file) else None)


def _map_safetensors(file: str) -> tuple:
    """(metadata, {name: read-only np.memmap view}) of a safetensors file."""
    with open(file, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    meta = header.pop("__metadata__", {}) or {}
    raw = np.memmap(file, dtype=np.uint8, mode="r")
    arrays = {}
    for name, h in header.items():
        dtype = _DTYPES.get(h["dtype"])
        if dtype is None:
            raise ValueError(f"tensor {name} has dtype {h['dtype']}")
        start, end = h["data_offsets"]
        arrays[name] = np.ndarray(shape=tuple(h["shape"]), dtype=dtype, buffer=raw, offset=8 + n + start)
        if arrays[name].nbytes != end - start:
            raise ValueError(f"tensor {name}: shape {h['shape']} does not match its {end - start} bytes")
    return meta, arrays


class TokenizedData:
    def __init__(self, file: str):
        try:
            meta, self.arrays = _map_safetensors(file)
        except Exception as e:  # a missing or damaged file: the run cannot read its data
            raise InputError(file, "", f"cannot read the tokenized data ({e}); resume or start the run again with lily train --backend torch (it writes them again)")
        self.inputs = json.loads(meta.get("inputs", "[]"))
        missing = [k for k in [*self.inputs, LABELS, TOKENS] if k not in self.arrays]
        if missing:
            raise InputError(file, "", f"tensors {missing} are missing; start the run again with lily train --backend torch")
        self.size = int(self.arrays[LABELS].shape[0])

    def _rows(self, name: str, indices: list) -> torch.Tensor:
        # Fancy indexing copies just these rows out of the mapping.
        return torch.from_numpy(np.ascontiguousarray(self.arrays[name][indices]))

    def tokens(self, indices: list) -> int:
        """Non-padding tokens of these records."""
        return int(self.arrays[TOKENS][np.asarray(indices, dtype=np.int64)].sum())

    def batch(self, indices: list) -> dict:
        idx = np.asarray(indices, dtype=np.int64)
        return {
            "inputs": {k: self._rows(k, idx) for k in self.inputs},
            "labels": self._rows(LABELS, idx),
            "tokens": self.tokens(idx),
            "size": len(indices),
        }
