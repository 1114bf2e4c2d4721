"""Export an oracle model to ONNX, with everything needed to rebuild the same torch model.

    .venv/bin/python scripts/oracle/export.py --model encoder|decoder|vit --out DIR [--seed N]
        [--config '{"hidden": 64}'] [--external-data]

DIR receives:
  model.onnx          opset 17, dynamic batch (and seq for text models), constant-folded;
                      node names carry module paths (/encoder/layer.0/attention/self/value/MatMul)
  config.json         {"kind", "seed", "config" (hyper-parameters), "inputs", "outputs",
                       "linear_modules": [[name, d_in, d_out], ...] in model order}
  state.safetensors   the torch state_dict (float32, torch names and layouts)
  sample.safetensors  example inputs (with padding) and the torch float32 `logits` for them
With --external-data, initializers >= 1 KiB move to one file per tensor beside model.onnx
(torch's own layout for models over 2 GB; see external_data.py).
"""
import argparse
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import models  # noqa: E402
from external_data import to_external_data  # noqa: E402
from tensorfile import read_safetensors, write_safetensors  # noqa: E402


def export(kind, out_dir, seed=0, config=None, external_data=False, model=None, opset=17):
    """Exports `model` (or a fresh `models.build(kind, config, seed)`) to `out_dir`; returns the model."""
    os.makedirs(out_dir, exist_ok=True)
    if model is None:
        model = models.build(kind, config, seed)
    model.eval()
    inputs = models.sample_inputs(kind, model)
    names = list(inputs)
    onnx_path = os.path.join(out_dir, "model.onnx")
    # dynamo=False is deliberate (module paths in node names), so torch 2.9+'s DeprecationWarning
    # for the legacy exporter is noise here.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model, tuple(inputs[n] for n in names), onnx_path,
            input_names=names, output_names=["logits"],
            dynamic_axes={k: v for k, v in type(model).dynamic_axes.items() if k in names or k == "logits"},
            opset_version=opset, do_constant_folding=True,
            # The TorchScript exporter: its node names carry module paths (the dynamo exporter,
            # torch.onnx's default since 2.9, names nodes generically; see shared/FACTS.md).
            dynamo=False,
        )
        logits = model(*(inputs[n] for n in names))
    if external_data:
        to_external_data(onnx_path)
    manifest = {
        "kind": kind,
        "seed": seed,
        "config": model.config,
        "inputs": names,
        "outputs": ["logits"],
        "linear_modules": [list(t) for t in models.linear_modules(model)],
    }
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    state = {k: v.float() for k, v in model.state_dict().items()}
    write_safetensors(os.path.join(out_dir, "state.safetensors"), state)
    write_safetensors(os.path.join(out_dir, "sample.safetensors"), {**inputs, "logits": logits.float()})
    return model


def load_model_dir(model_dir, dtype=torch.float32):
    """Rebuilds the torch model written by `export` (same weights), in eval mode."""
    path = os.path.join(model_dir, "config.json")
    try:
        with open(path) as f:
            manifest = json.load(f)
    except OSError as e:
        raise SystemExit(f"{path}: cannot read ({e.strerror}); export the model first with scripts/oracle/export.py")
    model = models.MODELS[manifest["kind"]](manifest["config"])
    state, _ = read_safetensors(os.path.join(model_dir, "state.safetensors"))
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    # A tied lm_head appears in the state_dict twice; anything else missing is an error.
    if unexpected or [m for m in missing if not (manifest["config"].get("tied") and m == "lm_head.weight")]:
        raise SystemExit(f"{model_dir}/state.safetensors: missing {missing}, unexpected {unexpected}")
    return model.to(dtype).eval(), manifest


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, choices=sorted(models.MODELS))
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", default="{}", help="JSON object of hyper-parameter overrides, e.g. '{\"hidden\": 64}'")
    ap.add_argument("--external-data", action="store_true", help="store initializers >= 1 KiB in external files")
    args = ap.parse_args()
    try:
        config = json.loads(args.config)
    except json.JSONDecodeError as e:
        raise SystemExit(f"--config: not valid JSON ({e})")
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    export(args.model, args.out, args.seed, config, args.external_data)
    print(json.dumps({"out": os.path.abspath(args.out), "model": args.model}))


if __name__ == "__main__":
    main()
