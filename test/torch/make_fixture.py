"""Test fixture for the torch backend: a tiny BERT sequence classifier (random weights from a
config, transformers' own modeling code) saved as a Hugging Face folder, the same model exported
to ONNX by the TorchScript exporter (module scopes survive in node names, so the engine finds the
layers), the demo's tokenizer.json, and a PEFT Lily adapter with non-zero B (adapter.init), so
both backends start from identical tensors.

    python make_fixture.py OUT_DIR TOKENIZER_JSON
"""
import json
import os
import shutil
import sys

import torch
from peft import LilyConfig, get_peft_model
from transformers import BertConfig, BertForSequenceClassification

out, tokenizer = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
vocab = len(json.load(open(tokenizer))["model"]["vocab"])
torch.manual_seed(7)
config = BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                    max_position_embeddings=64, num_labels=2, hidden_act="gelu", attn_implementation="eager",
                    initializer_range=0.3)  # wide weights: outputs (and routing) depend on the input
model = BertForSequenceClassification(config).eval()
hf = os.path.join(out, "hf")
model.save_pretrained(hf)
shutil.copy(tokenizer, os.path.join(hf, "tokenizer.json"))

ids = torch.ones(2, 16, dtype=torch.long)
torch.onnx.export(model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), os.path.join(out, "model.onnx"), dynamo=False,
                  input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logits"], opset_version=17,
                  dynamic_axes={n: {0: "batch", 1: "seq"} for n in ["input_ids", "attention_mask", "token_type_ids"]} | {"logits": {0: "batch"}})
shutil.copy(tokenizer, os.path.join(out, "tokenizer.json"))

torch.manual_seed(11)
peft_model = get_peft_model(BertForSequenceClassification.from_pretrained(hf), LilyConfig(
    r=4, stride_A=2, num_B=2, scaling=1.0, target_modules=["query", "value"], init_weights=False))
peft_model.save_pretrained(os.path.join(out, "init-adapter"))
print(json.dumps({"hf": hf, "onnx": os.path.join(out, "model.onnx")}))
