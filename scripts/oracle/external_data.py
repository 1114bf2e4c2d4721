"""Moves the initializers of an exported .onnx file into external data files, in the layout
torch.onnx.export uses for models over 2 GB: one file per initializer of at least 1 KiB,
named after the (sanitised) tensor, referenced by a `location` entry only (no offset, no
length). torch switches to that layout only past 2 GB, which a test cannot afford, so this
reproduces it on a small export by editing the protobuf wire format directly (the `onnx`
Python package is not available here).

Wire facts used: ModelProto.graph = field 7; GraphProto.initializer = field 5 (TensorProto);
TensorProto: name = 8, raw_data = 9, external_data = 13 (StringStringEntryProto: key 1,
value 2), data_location = 14 (EXTERNAL = 1).
"""
import os
import re


def _varint(buf, i):
    shift = value = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _enc_varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _fields(buf):
    """Yields (field number, wire type, payload, raw bytes of the whole field)."""
    i = 0
    while i < len(buf):
        start = i
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            payload, i = _varint(buf, i)
        elif wire == 1:
            payload, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            payload, i = buf[i:i + n], i + n
        elif wire == 5:
            payload, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} at byte {start}")
        yield field, wire, payload, buf[start:i]


def _len_field(field, payload):
    return _enc_varint((field << 3) | 2) + _enc_varint(len(payload)) + payload


def _sanitise(name):
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def _rewrite_tensor(tensor, folder, threshold, written):
    name = raw = None
    for field, _, payload, _ in _fields(tensor):
        if field == 8:
            name = bytes(payload).decode("utf-8")
        elif field == 9:
            raw = bytes(payload)
    if raw is None or len(raw) < threshold:
        return tensor
    location = _sanitise(name)
    if location in written:
        raise ValueError(f"two initializers map to the same external file {location}")
    written.add(location)
    with open(os.path.join(folder, location), "wb") as f:
        f.write(raw)
    kept = b"".join(whole for field, _, _, whole in _fields(tensor) if field not in (9, 13, 14))
    entry = _len_field(1, b"location") + _len_field(2, location.encode("utf-8"))
    return kept + _len_field(13, entry) + _enc_varint((14 << 3) | 0) + _enc_varint(1)


def _rewrite_graph(graph, folder, threshold, written):
    out = bytearray()
    for field, _, payload, whole in _fields(graph):
        out += _len_field(5, _rewrite_tensor(bytes(payload), folder, threshold, written)) if field == 5 else whole
    return bytes(out)


def to_external_data(model_path, threshold=1024):
    """Rewrites `model_path` in place; returns the names of the data files written beside it."""
    with open(model_path, "rb") as f:
        buf = f.read()
    folder = os.path.dirname(os.path.abspath(model_path))
    written = set()
    out = bytearray()
    for field, _, payload, whole in _fields(buf):
        out += _len_field(7, _rewrite_graph(bytes(payload), folder, threshold, written)) if field == 7 else whole
    with open(model_path, "wb") as f:
        f.write(out)
    return sorted(written)
