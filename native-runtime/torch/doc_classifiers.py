"""Packed sequence classifiers (data.packing for sequence classification): transformers' own
BERT, RoBERTa and ELECTRA classification models, with the inputs a packed row needs.

    input_ids        [B, T]
    attention_mask   [B, T] document numbers (1, 2, ...; 0 = padding): a query sees the keys of
                     its own document only (a padding query sees every real key, as transformers'
                     2D-mask path does)
    position_ids     [B, T] restarting at 0 for each document
    document_starts  [B, D] the position of each document's first token (an empty slot repeats
                     any position; the engine labels it -100)
    -> logits        [B, D, num_labels]: each document's first token through the model's own head
                     modules (BERT: bert.pooler + classifier; RoBERTa/ELECTRA: classifier, whose
                     head reads position 0 of what it is given)

The mask goes to transformers as a 3D [B, T, T] 0/1 mask, which its encoders turn into the
additive mask exactly as they do a 2D padding mask: for a 0/1 mask with document_starts 0 these
models compute what the transformers classes compute (scripts/oracle/hf_models.py --selfcheck).
Used by `lily import --packing` (hf_export.py) and by scripts/oracle/hf_models.py (kinds
bert-doc, roberta-doc, electra-doc).
"""
import torch
from transformers import (BertForSequenceClassification, ElectraForSequenceClassification,
                          RobertaForSequenceClassification)


def packed_class(model_type):
    """The packed classifier for a config.json model_type, or None."""
    return PACKED.get(model_type)


def document_pairs(doc):
    """[B, T] document numbers -> [B, T, T] 0/1 mask (query, key)."""
    q, k = doc[:, :, None], doc[:, None, :]
    return ((k > 0) & ((q == k) | (q == 0))).long()


def first_tokens(hidden, document_starts):
    """[B, T, H] hidden states -> [B * D, 1, H]: each document's first token as a row of its own
    (the heads take position 0 of each row)."""
    b, d = document_starts.shape
    h = hidden.shape[-1]
    first = torch.gather(hidden, 1, document_starts[:, :, None].expand(b, d, h))
    return first.reshape(b * d, 1, h)


class DocumentMaskBert(BertForSequenceClassification):
    def forward(self, input_ids, attention_mask, position_ids, document_starts):  # noqa: D401
        # BertModel calls its pooler on the hidden states; the hook hands it each document's
        # first token instead, so that the pooler runs where it always does (its ONNX nodes keep
        # the module path bert.pooler, as in a plain export) and reads position 0 of each row.
        hook = self.bert.pooler.register_forward_pre_hook(lambda _m, args: (first_tokens(args[0], document_starts),))
        try:
            pooled = self.bert(input_ids=input_ids, attention_mask=document_pairs(attention_mask),
                               position_ids=position_ids).pooler_output
        finally:
            hook.remove()
        b, d = document_starts.shape
        return self.classifier(self.dropout(pooled)).reshape(b, d, self.config.num_labels)


class DocumentMaskRoberta(RobertaForSequenceClassification):
    def forward(self, input_ids, attention_mask, position_ids, document_starts):  # noqa: D401
        # RoBERTa numbers real tokens from padding_idx + 1 and gives padding padding_idx
        # (create_position_ids_from_input_ids, when the padding holds the pad token).
        pad = self.config.pad_token_id
        positions = torch.where(attention_mask > 0, position_ids + pad + 1, torch.full_like(position_ids, pad))
        hidden = self.roberta(input_ids=input_ids, attention_mask=document_pairs(attention_mask),
                              position_ids=positions).last_hidden_state
        b, d = document_starts.shape
        return self.classifier(first_tokens(hidden, document_starts)).reshape(b, d, self.config.num_labels)


class DocumentMaskElectra(ElectraForSequenceClassification):
    def forward(self, input_ids, attention_mask, position_ids, document_starts):  # noqa: D401
        hidden = self.electra(input_ids=input_ids, attention_mask=document_pairs(attention_mask),
                              position_ids=position_ids).last_hidden_state
        b, d = document_starts.shape
        return self.classifier(first_tokens(hidden, document_starts)).reshape(b, d, self.config.num_labels)


# model_type -> packed classifier (transformers' *ForSequenceClassification of that family).
PACKED = {"bert": DocumentMaskBert, "roberta": DocumentMaskRoberta, "electra": DocumentMaskElectra}
INPUTS = ["input_ids", "attention_mask", "position_ids", "document_starts"]


def sample_inputs(batch=2, seq=8, vocab=16):
    """Inputs for tracing: row 0 holds two documents, row 1 one and padding."""
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(3, vocab, (batch, seq), generator=g)
    doc = torch.ones(batch, seq, dtype=torch.long)
    doc[1:, seq // 2:] = 0
    doc[0, seq // 2:] = 2
    pos = torch.arange(seq).expand(batch, seq).contiguous()
    pos[0, seq // 2:] -= seq // 2
    starts = torch.zeros(batch, 2, dtype=torch.long)
    starts[0, 1] = seq // 2
    return ids, doc, pos, starts


def export_packed(model, path):
    """torch.onnx.export (TorchScript, opset 17: node names keep the module paths PEFT uses) of a
    packed classifier with dynamic batch, sequence and document axes."""
    axes = {n: {0: "batch", 1: "seq"} for n in INPUTS}
    axes["document_starts"] = {0: "batch", 1: "documents"}
    axes["logits"] = {0: "batch", 1: "documents"}
    with torch.no_grad():
        torch.onnx.export(model, sample_inputs(vocab=model.config.vocab_size), path, input_names=INPUTS,
                          output_names=["logits"], dynamic_axes=axes, opset_version=17, do_constant_folding=True,
                          dynamo=False)


def selfcheck(cls, plain_cls, config, pad_id=0):
    """`cls` (a DocumentMask* class) against transformers' `plain_cls` with the same weights: the
    largest logit gap on unpacked rows with a 0/1 mask, and between a packed row's documents
    (three, one of a single token, then padding) and each document alone."""
    torch.manual_seed(3)
    model = cls(config).eval()
    plain = plain_cls(config).eval()
    plain.load_state_dict(model.state_dict())
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(pad_id + 3, config.vocab_size, (3, 10), generator=g)
    mask = torch.ones(3, 10, dtype=torch.long)
    mask[1:, 5:] = 0
    ids = ids.masked_fill(mask == 0, pad_id)
    with torch.no_grad():
        theirs = plain(input_ids=ids, attention_mask=mask).logits
        ours = model(ids, mask, torch.arange(10).expand(3, 10), torch.zeros(3, 1, dtype=torch.long))[:, 0]
        a, b, c = ids[0, :4], ids[1, :5], ids[2, :1]
        row = torch.cat([a, b, c, torch.tensor([pad_id])])[None]
        packed = model(row, torch.tensor([[1] * 4 + [2] * 5 + [3] + [0]]),
                       torch.tensor([list(range(4)) + list(range(5)) + [0, 0]]), torch.tensor([[0, 4, 9, 0]]))[0]
        alone = [plain(input_ids=x[None]).logits[0] for x in (a, b, c)]
    return {"plain": (ours - theirs).abs().max().item(),
            "packed": max((packed[i] - alone[i]).abs().max().item() for i in range(3))}
