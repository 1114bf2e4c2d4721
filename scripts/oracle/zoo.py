"""The Hugging Face model zoo: tiny models built from `transformers` configs with random weights
(the real HF modeling code, nothing downloaded), each exported to ONNX several ways, plus the data
every test trains on. Used by test/hf/ (through zoo_build.py) to check the engine on the files
users actually bring.

Layout of OUT (one folder per entry):
  <entry>/hf/                  save_pretrained folder (config.json + model.safetensors), float32
  <entry>/onnx/<exporter>/model.onnx   one folder per exporter (see EXPORTERS)
  <entry>/train.jsonl, eval.jsonl      pre-tokenised records (input_ids/attention_mask or pixel_values, label)
  <entry>/entry.json           what the tests need: task, targets, exporters and their outcome
"""
import json
import os
import shutil
import sys
import traceback

import numpy as np
import torch
import transformers as tf

# Tiny sizes everywhere: hidden 32, 2 layers, 4 heads, ff 64, vocab 128, sequences of 8.
SEQ = 8
BATCH = 4
VOCAB = 128
NUM_LABELS = 3
TRAIN_RECORDS = 8   # two batches of 4, cycled by the 10 training steps (shuffle off)
EVAL_RECORDS = 4    # one batch

_COMMON_DROPOUT_OFF = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
# Random weights with HF's default spread (0.02) give near-uniform outputs whose loss hardly moves
# in 10 steps, which would make a loss-parity check weak; 0.2 gives outputs with a real slope.
INIT_RANGE = 0.2


def _bert():
    return tf.BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                         max_position_embeddings=64, num_labels=NUM_LABELS, initializer_range=INIT_RANGE, **_COMMON_DROPOUT_OFF)


def _roberta():
    return tf.RobertaConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                            max_position_embeddings=64 + 2, pad_token_id=1, num_labels=NUM_LABELS, initializer_range=INIT_RANGE, **_COMMON_DROPOUT_OFF)


def _distilbert():
    return tf.DistilBertConfig(vocab_size=VOCAB, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=64,
                               dropout=0.0, attention_dropout=0.0, seq_classif_dropout=0.0, num_labels=NUM_LABELS, initializer_range=INIT_RANGE)


def _gpt2():
    return tf.GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64, resid_pdrop=0.0, embd_pdrop=0.0,
                         attn_pdrop=0.0, use_cache=False, initializer_range=INIT_RANGE, pad_token_id=0, bos_token_id=0, eos_token_id=0)


def _decoder(cls, **kw):
    return cls(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
               max_position_embeddings=64, use_cache=False, pad_token_id=0, bos_token_id=0, eos_token_id=0,
               tie_word_embeddings=False, initializer_range=INIT_RANGE, **kw)


def _electra():
    # embedding_size < hidden_size: ELECTRA projects its embeddings (embeddings_project, a Linear).
    return tf.ElectraConfig(vocab_size=VOCAB, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            intermediate_size=64, max_position_embeddings=64, num_labels=NUM_LABELS, initializer_range=INIT_RANGE,
                            **_COMMON_DROPOUT_OFF)


def _vit():
    return tf.ViTConfig(image_size=16, patch_size=4, num_channels=3, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, num_labels=NUM_LABELS, initializer_range=INIT_RANGE, **_COMMON_DROPOUT_OFF)


# name -> (config factory, model class, task, input kind, optimum task, Lily/LoRA target modules, PEFT Lily support)
ENTRIES = {
    'bert': (_bert, tf.BertForSequenceClassification, 'sequence-classification', 'text', 'text-classification', ['query', 'value']),
    'roberta': (_roberta, tf.RobertaForSequenceClassification, 'sequence-classification', 'text', 'text-classification', ['query', 'value']),
    'distilbert': (_distilbert, tf.DistilBertForSequenceClassification, 'sequence-classification', 'text', 'text-classification', ['q_lin', 'v_lin']),
    'gpt2': (_gpt2, tf.GPT2LMHeadModel, 'causal-lm', 'text', 'text-generation', ['c_attn']),
    'llama': (lambda: _decoder(tf.LlamaConfig, num_key_value_heads=4), tf.LlamaForCausalLM, 'causal-lm', 'text', 'text-generation', ['q_proj', 'v_proj']),
    'qwen2': (lambda: _decoder(tf.Qwen2Config, num_key_value_heads=2), tf.Qwen2ForCausalLM, 'causal-lm', 'text', 'text-generation', ['q_proj', 'v_proj']),
    'mistral': (lambda: _decoder(tf.MistralConfig, num_key_value_heads=2, sliding_window=None), tf.MistralForCausalLM, 'causal-lm', 'text', 'text-generation', ['q_proj', 'v_proj']),
    'electra': (_electra, tf.ElectraForSequenceClassification, 'sequence-classification', 'text', 'text-classification', ['query', 'value']),
    'gemma': (lambda: _decoder(tf.GemmaConfig, num_key_value_heads=1, head_dim=8), tf.GemmaForCausalLM, 'causal-lm', 'text', 'text-generation', ['q_proj', 'v_proj']),
    # Phi-3 fuses q, k and v into one qkv_proj Linear.
    'phi3': (lambda: _decoder(tf.Phi3Config, num_key_value_heads=4), tf.Phi3ForCausalLM, 'causal-lm', 'text', 'text-generation', ['qkv_proj', 'o_proj']),
    # Qwen3 normalises q and k per head (q_norm, k_norm) after the projections.
    'qwen3': (lambda: _decoder(tf.Qwen3Config, num_key_value_heads=2, head_dim=8), tf.Qwen3ForCausalLM, 'causal-lm', 'text', 'text-generation', ['q_proj', 'v_proj']),
    'vit': (_vit, tf.ViTForImageClassification, 'sequence-classification', 'image', 'image-classification', ['query', 'value']),
}

# GPT-2's attention/MLP are transformers' Conv1D, not nn.Linear: PEFT's Lily refuses them
# ("Lily does not support target modules of type Conv1D"), LoRA handles them (fan_in_fan_out).
PEFT_LILY_UNSUPPORTED = {'gpt2': "PEFT's Lily adapts nn.Linear only; GPT-2 uses transformers' Conv1D"}


# ONNX Runtime's transformer optimizer (optimum's O2) knows these text encoders: it fuses their
# attention into com.microsoft.Attention, which hides the query/key/value weights.
ORT_OPTIMIZABLE = {'bert', 'roberta', 'distilbert', 'electra'}


def exporters_for(task, name=None):
    names = ['torchscript-14', 'torchscript-17', 'dynamo', 'optimum']
    if task == 'causal-lm':
        names.append('optimum-with-past')
    if name in ORT_OPTIMIZABLE:
        names.append('optimum-O2')
    return names


def build_model(name, seed=0):
    factory, cls = ENTRIES[name][0], ENTRIES[name][1]
    torch.manual_seed(seed)
    cfg = factory()
    model = cls(cfg)
    model.eval()
    return model


def make_records(name, count, seed):
    """Deterministic records: right padding on some rows, labels for classification."""
    kind, task = ENTRIES[name][3], ENTRIES[name][2]
    cfg = ENTRIES[name][0]()
    rng = np.random.default_rng(seed)
    pad = getattr(cfg, 'pad_token_id', 0) or 0
    out = []
    for i in range(count):
        rec = {}
        if kind == 'image':
            rec['pixel_values'] = np.round(rng.standard_normal((3, 16, 16)), 4).tolist()
        else:
            real = SEQ - (i % 3)  # rows of length 8, 7, 6: some padding in every batch
            # Avoid special ids (0..3) inside the text so RoBERTa's padding-derived positions stay regular.
            ids = rng.integers(4, VOCAB, size=real).tolist() + [pad] * (SEQ - real)
            rec['input_ids'] = ids
            rec['attention_mask'] = [1] * real + [0] * (SEQ - real)
        if task == 'sequence-classification':
            rec['label'] = int(rng.integers(0, NUM_LABELS))
        out.append(rec)
    return out


def sample_inputs(name, records):
    kind = ENTRIES[name][3]
    if kind == 'image':
        return {'pixel_values': torch.tensor([r['pixel_values'] for r in records], dtype=torch.float32)}
    return {'input_ids': torch.tensor([r['input_ids'] for r in records], dtype=torch.int64),
            'attention_mask': torch.tensor([r['attention_mask'] for r in records], dtype=torch.int64)}


def _dynamic_axes(inputs):
    axes = {k: ({0: 'batch', 1: 'seq'} if v.dtype == torch.int64 else {0: 'batch'}) for k, v in inputs.items()}
    axes['logits'] = {0: 'batch'}
    return axes


def _sdpa_mask_by_broadcast(batch_size, cache_position, kv_length, kv_offset=0, mask_function=None, attention_mask=None, **_):
    """transformers' sdpa mask (True = attend) built by broadcasting index tensors instead of
    torch.vmap, which the TorchScript exporter cannot trace ("unordered_map::at")."""
    from transformers.masking_utils import causal_mask_function
    fn = mask_function or causal_mask_function
    kv = torch.arange(kv_length) + kv_offset
    allowed = fn(torch.arange(batch_size)[:, None, None, None], torch.zeros((1, 1, 1, 1), dtype=torch.long),
                 cache_position[None, None, :, None], kv[None, None, None, :])
    allowed = allowed.expand(batch_size, 1, cache_position.shape[0], kv_length)
    if attention_mask is not None:
        allowed = allowed & attention_mask[:, None, None, kv_offset:kv_offset + kv_length].bool()
    return allowed


class _TraceableMasks:
    """Swaps transformers' vmap-based sdpa mask for the broadcasting one while tracing."""

    def __enter__(self):
        from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS
        self.registry = ALL_MASK_ATTENTION_FUNCTIONS
        self.saved = ALL_MASK_ATTENTION_FUNCTIONS['sdpa']
        ALL_MASK_ATTENTION_FUNCTIONS.register('sdpa', _sdpa_mask_by_broadcast)

    def __exit__(self, *exc):
        self.registry.register('sdpa', self.saved)


def export_torchscript(model, inputs, out_file, opset):
    names = list(inputs)
    with _TraceableMasks():
        _export_torchscript(model, inputs, out_file, opset, names)


def _export_torchscript(model, inputs, out_file, opset, names):
    # The tracer gets a forward taking exactly the inputs, positionally, and returning logits: called
    # with the model's own forward, it turned a default argument into a stray graph input
    # ('onnx::Gather_2' on Llama). Overriding forward on the instance keeps the model as the root
    # module, so node names keep the module paths (/model/layers.0/self_attn/q_proj/MatMul).
    full = model.forward

    def logits_only(*args):
        return full(**dict(zip(names, args)), return_dict=False)[0]

    model.forward = logits_only
    try:
        torch.onnx.export(model, tuple(inputs.values()), out_file, input_names=names, output_names=['logits'],
                          dynamic_axes=_dynamic_axes(inputs), opset_version=opset, dynamo=False, do_constant_folding=True)
    finally:
        del model.forward


def export_dynamo(model, inputs, out_file):
    names = list(inputs)
    batch = torch.export.Dim('batch', min=1, max=64)
    shapes = {k: ({0: batch} if v.dtype != torch.int64 else {0: batch}) for k, v in inputs.items()}
    torch.onnx.export(model, (), out_file, kwargs=dict(inputs), input_names=names, output_names=['logits'],
                      dynamic_shapes=shapes, dynamo=True, external_data=False, verbose=False)


def export_optimum(hf_dir, out_dir, task):
    from optimum.exporters.onnx import main_export
    main_export(hf_dir, output=out_dir, task=task, device='cpu', do_validation=False, no_post_process=False)


def export_optimum_o2(optimum_dir, out_dir):
    """optimum's export optimised by ONNX Runtime at level O2 (fused attention, SkipLayerNormalization, BiasGelu)."""
    from optimum.onnxruntime import AutoOptimizationConfig, ORTOptimizer
    tmp = out_dir + '.tmp'
    ORTOptimizer.from_pretrained(optimum_dir, file_names=['model.onnx']).optimize(save_dir=tmp, optimization_config=AutoOptimizationConfig.O2())
    os.replace(os.path.join(tmp, 'model_optimized.onnx'), os.path.join(out_dir, 'model.onnx'))
    shutil.rmtree(tmp, ignore_errors=True)


def build_entry(name, out_root, log):
    """Builds one entry into out_root/<name> (replacing what is there)."""
    factory, cls, task, kind, optimum_task, targets = ENTRIES[name]
    root = os.path.join(out_root, name)
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    model = build_model(name)
    hf_dir = os.path.join(root, 'hf')
    model.save_pretrained(hf_dir, safe_serialization=True)
    train = make_records(name, TRAIN_RECORDS, seed=1)
    evalr = make_records(name, EVAL_RECORDS, seed=2)
    for fname, recs in (('train.jsonl', train), ('eval.jsonl', evalr)):
        with open(os.path.join(root, fname), 'w') as f:
            for r in recs:
                f.write(json.dumps(r) + '\n')
    inputs = sample_inputs(name, train[:BATCH])
    exports = {}
    for exporter in exporters_for(task, name):
        d = os.path.join(root, 'onnx', exporter)
        os.makedirs(d)
        f = os.path.join(d, 'model.onnx')
        try:
            if exporter.startswith('torchscript-'):
                export_torchscript(model, inputs, f, int(exporter.split('-')[1]))
            elif exporter == 'dynamo':
                export_dynamo(model, inputs, f)
            elif exporter == 'optimum':
                export_optimum(hf_dir, d, optimum_task)
            elif exporter == 'optimum-O2':
                export_optimum_o2(os.path.join(root, 'onnx', 'optimum'), d)
            elif exporter == 'optimum-with-past':
                export_optimum(hf_dir, d, optimum_task + '-with-past')
            if not os.path.exists(f):
                raise RuntimeError(f'the exporter wrote no model.onnx (files: {sorted(os.listdir(d))})')
            exports[exporter] = {'ok': True, 'opset': _opset(f)}
        except Exception as e:  # an exporter failing is a table row, not a crash
            log(f'zoo: {name} {exporter}: export failed: {e}')
            traceback.print_exc(file=sys.stderr)
            exports[exporter] = {'ok': False, 'error': f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}'[:300]}
        log(f'zoo: {name} {exporter}: {"ok" if exports[exporter]["ok"] else "FAILED"}')
    entry = {
        'name': name, 'model_class': cls.__name__, 'model_type': model.config.model_type, 'task': task, 'kind': kind,
        'targets': targets, 'num_labels': NUM_LABELS if task == 'sequence-classification' else None,
        'seq': SEQ, 'batch': BATCH, 'exports': exports,
        'peft_lily_unsupported': PEFT_LILY_UNSUPPORTED.get(name),
    }
    with open(os.path.join(root, 'entry.json'), 'w') as f:
        json.dump(entry, f, indent=1)
    return entry


def _opset(f):
    import onnx
    m = onnx.load(f, load_external_data=False)
    return next((o.version for o in m.opset_import if o.domain in ('', 'ai.onnx')), None)
