"""Tiny Hugging Face model folders, as save_pretrained writes them, for `lily import` tests.

Random weights from transformers' own modeling code (nothing is downloaded), plus a real
tokenizer.json (a WordPiece tokenizer over the test vocabulary, saved by PreTrainedTokenizerFast).

    python tiny_hf.py --out ROOT --kinds bert,gpt2,llama,bert-mlm    # writes ROOT/<kind>/
"""

import argparse
import json
import os

VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'the', 'movie', 'was', 'great', 'bad', 'good', 'not', 'play', '##ing', 'fun', 'a', 'film', '.']


def tokenizer(out):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    t = Tokenizer(models.WordPiece(vocab={w: i for i, w in enumerate(VOCAB)}, unk_token='[UNK]'))
    t.normalizer = normalizers.BertNormalizer(lowercase=True)
    t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    t.post_processor = processors.TemplateProcessing(
        single='[CLS] $A [SEP]', pair='[CLS] $A [SEP] $B:1 [SEP]:1', special_tokens=[('[CLS]', 2), ('[SEP]', 3)])
    PreTrainedTokenizerFast(tokenizer_object=t, pad_token='[PAD]', unk_token='[UNK]', cls_token='[CLS]', sep_token='[SEP]').save_pretrained(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--out', required=True)
    p.add_argument('--kinds', required=True, help='comma-separated: bert, gpt2, llama, bert-mlm')
    a = p.parse_args()
    written = {}
    for kind in a.kinds.split(','):
        out = os.path.join(a.out, kind)
        written[kind] = save(kind, out)
    print(json.dumps(written))


def save(kind, out):
    import torch
    import transformers as tf

    torch.manual_seed(0)
    small = dict(vocab_size=64, max_position_embeddings=64)
    if kind in ('bert', 'bert-mlm'):
        cfg = tf.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, **small,
                            id2label={0: 'negative', 1: 'positive'}, label2id={'negative': 0, 'positive': 1})
        model = (tf.BertForSequenceClassification if kind == 'bert' else tf.BertForMaskedLM)(cfg)
    elif kind == 'gpt2':
        model = tf.GPT2LMHeadModel(tf.GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=64, n_positions=64))
    else:
        model = tf.LlamaForCausalLM(tf.LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                                   num_key_value_heads=1, **small))
    model.save_pretrained(out)
    tokenizer(out)
    return type(model).__name__


if __name__ == '__main__':
    main()
