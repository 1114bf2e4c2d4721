"""Reading and writing tensors as safetensors files, with numpy only.

Safetensors is the exchange format between the oracle scripts and the TypeScript side:
8-byte little-endian header length N, N bytes of JSON
{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}},
then the raw little-endian bytes (offsets relative to the end of the header).
It is the format PEFT adapters use too, so one reader serves both.
"""
import json
import struct

import numpy as np

_TO_NUMPY = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U8": np.uint8, "BOOL": np.bool_,
}
_FROM_NUMPY = {np.dtype(v).str: k for k, v in _TO_NUMPY.items()}


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: array-like} to `path`. Tensors keep their dtype (torch tensors are converted)."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        arr = tensors[name]
        if hasattr(arr, "detach"):
            arr = arr.detach().cpu().numpy()
        arr = np.ascontiguousarray(arr)
        code = _FROM_NUMPY.get(arr.dtype.newbyteorder("<").str)
        if code is None:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {arr.dtype}")
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * ((8 - len(head) % 8) % 8)  # keep the data 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Returns ({name: np.ndarray}, metadata dict)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: not a safetensors file (shorter than its 8-byte header length)")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError(f"{path}: header length {n} runs past the end of the file ({len(raw)} bytes)")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out = {}
    for name, info in header.items():
        dtype = _TO_NUMPY.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {info['dtype']}")
        b, e = info["data_offsets"]
        if base + e > len(raw):
            raise ValueError(f"{path}: tensor {name}: data [{b}, {e}) runs past the end of the file")
        out[name] = np.frombuffer(raw[base + b:base + e], dtype=np.dtype(dtype).newbyteorder("<")).reshape(info["shape"]).copy()
    return out, meta
