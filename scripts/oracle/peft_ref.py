"""PEFT itself as the reference for the zoo (scripts/oracle/zoo.py): `get_peft_model` with
`LilyConfig` / `LoraConfig` on the real transformers model, trained by torch on the same batches
the engine reads (the zoo's train.jsonl, in file order, `batch` records per step), from the same
initial adapter tensors (a PEFT folder written here, with non-zero B so every gradient flows).

float64 on the torch side: the engine runs float32, so differences are the engine's rounding.
"""
import json
import os

import torch
import torch.nn.functional as F
from peft import LilyConfig, LoraConfig, PeftModel, get_peft_model

import zoo

# The adapters every zoo entry is trained with (the test writes the same values into *.lily.json).
ADAPTERS = {
    'lily': dict(r=4, stride_A=2, num_B=2, scaling=1.0),
    'lora': dict(r=4, lora_alpha=8),
}
TRAINING = dict(steps=10, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)


def read_jsonl(file):
    with open(file) as f:
        return [json.loads(line) for line in f if line.strip()]


def batch_tensors(entry, records, dtype):
    """Model inputs and labels for one batch, as the engine builds them (labels of a causal LM:
    the input ids with padding set to -100; the model shifts them by one)."""
    if entry['kind'] == 'image':
        inputs = {'pixel_values': torch.tensor([r['pixel_values'] for r in records], dtype=dtype)}
    else:
        inputs = {'input_ids': torch.tensor([r['input_ids'] for r in records]),
                  'attention_mask': torch.tensor([r['attention_mask'] for r in records])}
    if entry['task'] == 'causal-lm':
        labels = inputs['input_ids'].masked_fill(inputs['attention_mask'] == 0, -100)
    else:
        labels = torch.tensor([r['label'] for r in records])
    return inputs, labels


def loss_of(entry, logits, labels):
    if entry['task'] == 'causal-lm':
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100)
    return F.cross_entropy(logits, labels)


def base_model(entry_dir, entry, dtype):
    cls = zoo.ENTRIES[entry['name']][1]
    model = cls.from_pretrained(os.path.join(entry_dir, 'hf'), torch_dtype=dtype)
    model.eval()  # dropout is 0 in every zoo config; eval() makes sure
    return model


def peft_config(entry, method):
    if method == 'lily':
        return LilyConfig(target_modules=entry['targets'], **ADAPTERS['lily'])
    return LoraConfig(target_modules=entry['targets'], lora_dropout=0.0, **ADAPTERS['lora'])


def write_init(entry_dir, entry, method, out_dir, seed=0):
    """PEFT's own initialisation (seeded), then every B drawn non-zero, saved by save_pretrained."""
    torch.manual_seed(seed)
    model = get_peft_model(base_model(entry_dir, entry, torch.float32), peft_config(entry, method))
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():  # shared B/A parameters are visited once
            if '.lily_B.' in name or '.lora_B.' in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    model.save_pretrained(out_dir)


def load_adapted(entry_dir, entry, adapter_dir, trainable=False):
    model = PeftModel.from_pretrained(base_model(entry_dir, entry, torch.float64), adapter_dir, is_trainable=trainable)
    model.double()
    model.eval()
    return model


def train(entry_dir, entry, init_dir, trained_dir):
    """TRAINING['steps'] AdamW steps; returns the loss before each update."""
    model = load_adapted(entry_dir, entry, init_dir, trainable=True)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=TRAINING['lr'], betas=TRAINING['betas'], eps=TRAINING['eps'], weight_decay=TRAINING['weight_decay'])
    records = read_jsonl(os.path.join(entry_dir, 'train.jsonl'))
    b = entry['batch']
    batches = [records[i:i + b] for i in range(0, len(records), b)]
    losses = []
    for step in range(TRAINING['steps']):
        inputs, labels = batch_tensors(entry, batches[step % len(batches)], torch.float64)
        loss = loss_of(entry, model(**inputs).logits, labels)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.float()
    model.save_pretrained(trained_dir)
    return losses


def eval_logits(entry_dir, entry, adapter_dir, records=None):
    """Logits and mean loss of PeftModel.from_pretrained(base, adapter_dir) on the eval set (one batch)."""
    model = load_adapted(entry_dir, entry, adapter_dir)
    records = records or read_jsonl(os.path.join(entry_dir, 'eval.jsonl'))
    inputs, labels = batch_tensors(entry, records, torch.float64)
    with torch.no_grad():
        logits = model(**inputs).logits
    return {'shape': list(logits.shape), 'data': logits.reshape(-1).tolist(), 'loss': loss_of(entry, logits, labels).item()}
