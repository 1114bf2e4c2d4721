"""The tokenized data the TypeScript side wrote into the run directory (dataset/*.safetensors):
every model input as int64 [N, max_length] (or its own shape), `labels` in the engine's layout
(int64 [N] classes, float32 [N] regression, int64 [N, T] token labels with -100 ignored) and
`tokens` (non-padding tokens per record). Tokenising stays in one place (the TypeScript data
pipeline), so both backends train on the same numbers."""
import json

import torch
from safetensors import safe_open

from .errors import InputError

LABELS = "labels"
TOKENS = "tokens"


class TokenizedData:
    def __init__(self, file: str):
        try:
            with safe_open(file, framework="pt") as f:
                meta = f.metadata() or {}
                self.tensors = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as e:  # a missing or damaged file: the run directory is not usable
            raise InputError(file, "", f"cannot read the tokenized data ({e}); start the run again with lily train --backend torch")
        self.inputs = json.loads(meta.get("inputs", "[]"))
        missing = [k for k in [*self.inputs, LABELS, TOKENS] if k not in self.tensors]
        if missing:
            raise InputError(file, "", f"tensors {missing} are missing; start the run again with lily train --backend torch")
        self.size = int(self.tensors[LABELS].shape[0])

    def batch(self, indices: list) -> dict:
        idx = torch.tensor(indices, dtype=torch.long)
        return {
            "inputs": {k: self.tensors[k].index_select(0, idx) for k in self.inputs},
            "labels": self.tensors[LABELS].index_select(0, idx),
            "tokens": int(self.tensors[TOKENS].index_select(0, idx).sum()),
            "size": len(indices),
        }
