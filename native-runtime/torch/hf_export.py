"""Exports a Hugging Face model folder to ONNX for Lily, with optimum's exporter (or, with
--packing, torch's own exporter).

Run by `lily import` (native-runtime/cli/importCommand.ts) in the user's Python. The TypeScript
side has already read config.json and chosen the task; this script only checks that the exporter
is installed and supports the architecture, then exports. The result is reported as one line
on stdout, `LILY_RESULT {json}`; everything else (optimum's and torch's logs) goes to stderr,
which `lily import` relays to the user (the Lily output channel in VS Code).

With --packing (data.packing) the model is exported by torch itself instead of by optimum: a
sequence classifier as a packed classifier (doc_classifiers.py: document-number mask,
position_ids, document_starts, logits per document), a causal LM with a document-number mask
(doc_decoders.py).

Exit codes: 0 exported; 3 a module is missing (the result lists them); 4 the exporter does not
support this architecture for the task (the result lists what it supports); 5 --packing for a
model type without a packed export for the task (the result lists those that have one); 1 anything
else.

Standard library only at the top: the "missing module" answer must work in a bare Python.
"""

import argparse
import importlib
import json
import os
import sys
import time

# Modules the export needs, with the distribution that provides each (pip names).
NEEDED = [
    ("torch", "torch"),
    ("transformers", "transformers"),
    ("onnx", "onnx"),
    ("optimum.exporters.onnx", "optimum-onnx"),
]


def result(obj, code):
    print("LILY_RESULT " + json.dumps(obj), flush=True)
    sys.exit(code)


def log(msg):
    print(f"[lily import {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def missing_modules():
    missing = []
    for module, dist in NEEDED:
        try:
            importlib.import_module(module)
        except ImportError as e:  # includes ModuleNotFoundError
            missing.append({"module": module, "package": dist, "error": str(e)})
    return missing


def normal(model_type):
    # optimum lists model types with either '-' or '_' ("gpt_neox", "blenderbot-small").
    return model_type.replace("-", "_")


def check_support(model_type, task):
    # The ONNX configs register the model types with TasksManager when their module is imported
    # (optimum.exporters.onnx is a lazy module, so importing the package alone registers none).
    import optimum.exporters.onnx.model_configs  # noqa: F401
    from optimum.exporters.tasks import TasksManager

    supported = sorted({normal(m) for m in TasksManager.get_supported_model_type_for_task(task, exporter="onnx")})
    if normal(model_type) not in supported:
        result({"error": "unsupported-architecture", "model_type": model_type, "task": task, "supported": supported}, 4)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True, help="Hugging Face model folder (save_pretrained or a hub snapshot)")
    p.add_argument("--out", required=True, help="folder to write model.onnx and the tokenizer files into")
    p.add_argument("--task", required=True, help="optimum task: text-classification, token-classification, text-generation")
    p.add_argument("--model-type", required=True, help="config.json's model_type")
    p.add_argument("--check", action="store_true", help="only check the environment and the architecture")
    p.add_argument("--packing", action="store_true", help="export for data.packing (a document-number attention mask) with torch's exporter: "
                   "for text-classification a packed sequence classifier (doc_classifiers.py), for "
                   "text-generation a packed causal LM (doc_decoders.py); model types in their PACKED maps")
    a = p.parse_args()

    log(f"Python {sys.version.split()[0]} at {sys.executable}")
    missing = missing_modules()
    if missing:
        result({"error": "missing-modules", "missing": missing, "python": sys.executable}, 3)
    import torch
    import transformers
    import optimum.exporters.onnx as exporter_module  # noqa: F401  (presence checked above)
    from importlib.metadata import version

    versions = {"torch": torch.__version__, "transformers": transformers.__version__, "optimum-onnx": version("optimum-onnx")}
    log("exporter: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    if a.packing:
        export_for_packing(a)
    check_support(a.model_type, a.task)
    if a.check:
        result({"ok": True, "versions": versions, "python": sys.executable}, 0)

    from optimum.exporters.onnx import main_export

    log(f"exporting {a.model} ({a.model_type}) for {a.task}; decoders get the graph without a KV cache")
    started = time.time()
    # `text-generation` (not `text-generation-with-past`) is the single-pass graph without
    # past_key_values inputs: training runs whole sequences, a KV cache only serves generation.
    # Validation against PyTorch is left out: the tests compare the engine with PyTorch directly.
    main_export(
        model_name_or_path=a.model,
        output=a.out,
        task=a.task,
        device="cpu",
        no_post_process=True,
        do_validation=False,
        local_files_only=True,
        library_name="transformers",
    )
    files = sorted(os.listdir(a.out))
    log(f"exported in {time.time() - started:.1f} s: {', '.join(files)}")
    result({"ok": True, "versions": versions, "python": sys.executable, "files": files}, 0)


def export_for_packing(a):
    """--packing: the model's own weights in its packed classifier or decoder, exported by torch (exits)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import doc_classifiers

    import doc_decoders

    # Sequence classifiers score each document's first token; causal LMs only need the mask.
    family = {"text-classification": doc_classifiers, "text-generation": doc_decoders}.get(a.task)
    cls = family.PACKED.get(a.model_type) if family else None
    if cls is None:
        result({"error": "unsupported-packing", "model_type": a.model_type, "task": a.task,
                "supported": sorted(family.PACKED) if family else []}, 5)
    import torch
    import transformers
    from importlib.metadata import version

    versions = {"torch": torch.__version__, "transformers": transformers.__version__, "optimum-onnx": version("optimum-onnx")}
    if a.check:
        result({"ok": True, "versions": versions, "python": sys.executable}, 0)
    log(f"exporting {a.model} ({a.model_type}) for packing ({cls.__name__}: document-number attention mask)")
    started = time.time()
    # Eager attention: the document mask (3D for classifiers, 4D additive for decoders) goes
    # through transformers' own mask code.
    model = cls.from_pretrained(a.model, local_files_only=True, attn_implementation="eager").eval()
    os.makedirs(a.out, exist_ok=True)
    family.export_packed(model, os.path.join(a.out, "model.onnx"))
    files = sorted(os.listdir(a.out))
    log(f"exported in {time.time() - started:.1f} s: {', '.join(files)}")
    result({"ok": True, "versions": versions, "python": sys.executable, "files": files}, 0)


if __name__ == "__main__":
    main()
