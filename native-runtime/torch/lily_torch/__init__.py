"""The torch backend of Lily for VS Code: trains a resolved *.lily.json (the run directory's
config.json, written by the TypeScript side) with transformers + PEFT, on one or many processes,
and writes the run directory exactly as the ONNX engine does."""
