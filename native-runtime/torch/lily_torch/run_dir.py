"""Writes the run directory exactly as the engine's RunWriter and checkpoint module do
(native-runtime/io/runDir.ts, checkpoint.ts, atomic.ts; layout and types in runFiles.ts):
whole files via temp file + fsync + rename, logs as fsynced appended lines, checkpoints built in a
hidden temp folder and renamed to checkpoints/step-<N> when complete (the newest two are kept).
Only rank 0 writes. test/torch/runFilesSchema.test.ts validates what this writes against the JSON
Schema derived from runFiles.ts."""
import hashlib
import json
import math
import os
import re
import shutil
import time
from datetime import datetime, timezone

from safetensors.torch import save_file

RUN_FILES = {
    "config": "config.json",
    "status": "status.json",
    "metrics": "metrics.jsonl",
    "router": "router.jsonl",
    "checkpoints": "checkpoints",
    "adapter": "adapter",
}
CHECKPOINT_FILES = {"params": "params.safetensors", "optimizer": "optimizer.safetensors", "trainer": "trainer.json"}
_STEP_DIR = re.compile(r"^step-(\d+)$")
_counter = 0


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path_for(file: str) -> str:
    global _counter
    _counter += 1
    return os.path.join(os.path.dirname(file), f".{os.path.basename(file)}.{os.getpid()}.{_counter}.tmp")


def write_file_atomic(file: str, data: bytes) -> None:
    tmp = temp_path_for(file)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, file)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    fsync_dir(os.path.dirname(file) or ".")


def json_safe(obj):
    """NaN and infinities become null, as JSON.stringify writes them in the engine."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def write_json_atomic(file: str, obj) -> None:
    write_file_atomic(file, (json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n").encode("utf-8"))


def read_json_if_valid(file: str):
    try:
        with open(file, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def append_line(file: str, obj) -> None:
    line = json.dumps(json_safe(obj), separators=(",", ":"), allow_nan=False)
    with open(file, "a+b") as f:
        f.seek(0, os.SEEK_END)
        prefix = b""
        if f.tell() > 0:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                prefix = b"\n"
        f.write(prefix + line.encode("utf-8") + b"\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(file: str) -> list:
    """Complete lines only: a torn last line (a crash mid-append) is skipped, as the engine does."""
    out = []
    try:
        with open(file, encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    break
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
    except OSError:
        pass
    return out


class RunWriter:
    def __init__(self, run_dir: str):
        self.run_dir = run_dir

    def file(self, kind: str) -> str:
        return os.path.join(self.run_dir, RUN_FILES[kind])

    def update_status(self, **partial) -> dict:
        current = read_json_if_valid(self.file("status")) or {}
        nxt = {**current, **partial, "updated_at": now_iso()}
        for k, v in partial.items():
            if v is None:
                del nxt[k]
        write_json_atomic(self.file("status"), nxt)
        return nxt

    def append_metric(self, line: dict) -> None:
        append_line(self.file("metrics"), line)

    def append_router(self, line: dict) -> None:
        append_line(self.file("router"), line)

    def truncate_log(self, kind: str, step: int) -> None:
        """Drops lines past `step` (written after the checkpoint a run resumes from)."""
        file = self.file(kind)
        if not os.path.exists(file):
            return
        kept = [l for l in read_jsonl(file) if l.get("step", 0) <= step]
        write_file_atomic(file, "".join(json.dumps(l, separators=(",", ":")) + "\n" for l in kept).encode("utf-8"))


# ---------------------------------------------------------------------------------------------
# Checkpoints


def checkpoints_dir(run_dir: str) -> str:
    return os.path.join(run_dir, RUN_FILES["checkpoints"])


def list_checkpoints(run_dir: str) -> list:
    root = checkpoints_dir(run_dir)
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    out = []
    for n in names:
        m = _STEP_DIR.match(n)
        d = os.path.join(root, n)
        if m and all(os.path.exists(os.path.join(d, f)) for f in CHECKPOINT_FILES.values()):
            out.append((int(m.group(1)), d))
    return sorted(out)


def save_checkpoint(run_dir: str, step: int, params: dict, optimizer: dict, trainer: dict, keep: int = 2, extra: dict | None = None) -> str:
    """`extra`: file name -> function writing that file into the given path (covered by the manifest)."""
    root = checkpoints_dir(run_dir)
    os.makedirs(root, exist_ok=True)
    final = os.path.join(root, f"step-{step}")
    tmp = os.path.join(root, f".tmp-step-{step}-{os.getpid()}-{int(time.time() * 1000)}")
    os.mkdir(tmp)
    try:
        meta = {"step": str(step)}
        save_file({k: v.detach().float().contiguous().cpu() for k, v in params.items()}, os.path.join(tmp, CHECKPOINT_FILES["params"]), metadata=meta)
        save_file({k: v.detach().float().contiguous().cpu() for k, v in optimizer.items()}, os.path.join(tmp, CHECKPOINT_FILES["optimizer"]), metadata=meta)
        write_json_atomic(os.path.join(tmp, CHECKPOINT_FILES["trainer"]), {**trainer, "step": step})
        for name, write in (extra or {}).items():
            write(os.path.join(tmp, name))
        write_manifest(tmp, step, [*CHECKPOINT_FILES.values(), *(extra or {}).keys()])
        fsync_dir(tmp)
        if os.path.exists(final):
            old = os.path.join(root, f".old-step-{step}-{os.getpid()}-{int(time.time() * 1000)}")
            os.rename(final, old)
            os.rename(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, final)
        fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for _, d in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(d, ignore_errors=True)
    return final


def write_manifest(folder: str, step: int, files: list) -> None:
    """manifest.json as the engine writes it (checkpointManifest.ts): the step and each file's
    sha256 and size, written after the files and before the folder is renamed into place, so a
    resume can tell a damaged checkpoint from a good one."""
    manifest = {"step": step, "files": {}}
    for name in files:
        path = os.path.join(folder, name)
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        manifest["files"][name] = {"sha256": digest, "bytes": os.path.getsize(path)}
    write_json_atomic(os.path.join(folder, "manifest.json"), manifest)


def remove_checkpoints_after(run_dir: str, step: int) -> list:
    removed = []
    for s, d in list_checkpoints(run_dir):
        if s > step:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed
