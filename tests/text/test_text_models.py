"""BERT encoders: sizes, output contract, pooling semantics, padding invariance, errors."""

import pytest
import torch

from sslbench import EncoderOutput, ModelContext
from sslbench_text import models

VOCAB = 97


def batch_of(rows=3, width=10, seed=0):
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (rows, width), generator=gen)
    lengths = torch.tensor([width, width - 3, 4])[:rows]
    attention = (torch.arange(width) < lengths[:, None]).long()
    return {"input_ids": ids * attention, "attention_mask": attention, "token_type_ids": torch.zeros_like(ids)}


@pytest.mark.parametrize("name", sorted(models.BERT_SIZES))
def test_every_size_meets_the_encoder_contract(name):
    size = models.BERT_SIZES[name]
    encoder = models.create_bert_encoder(name, VOCAB, max_positions=32).eval()
    config = encoder.config
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == tuple(size)
    assert config.intermediate_size == 4 * size.hidden and config.vocab_size == VOCAB
    assert encoder.embed_dim == size.hidden and encoder.token_embeddings().weight.shape == (VOCAB, size.hidden)
    assert encoder.token_embeddings() is encoder.bert.embeddings.word_embeddings  # the token-embeddings capability
    assert encoder.bert.pooler is None  # the tanh pooler belongs to the NSP task
    out = encoder(batch_of())
    assert isinstance(out, EncoderOutput)  # the core's contract
    assert out.sequence.shape == (3, 10, size.hidden) and out.pooled.shape == (3, size.hidden)
    assert out.mask.dtype == torch.bool and out.mask.sum(1).tolist() == [10, 7, 4]
    assert out.sequence.dtype == out.pooled.dtype == torch.float32


def test_pooling_modes_and_padding_invariance():
    torch.manual_seed(0)
    mean = models.create_bert_encoder("bert-tiny", VOCAB, max_positions=32).eval()
    cls = models.BertTextEncoder(mean.config, pooling="cls").eval()
    cls.load_state_dict(mean.state_dict())
    batch = batch_of()
    with torch.no_grad():
        out, out_cls = mean(batch), cls(batch)
        m = batch["attention_mask"].unsqueeze(-1).float()
        assert torch.allclose(out.pooled, (out.sequence * m).sum(1) / m.sum(1), atol=1e-6)
        assert torch.equal(out_cls.pooled, out_cls.sequence[:, 0])
        # padding further, or changing what sits under padding, changes no real output
        wider = {k: torch.nn.functional.pad(v, (0, 6)) for k, v in batch.items()}
        wider["input_ids"][:, 10:] = 7
        out_wide = mean(wider)
        assert torch.allclose(out_wide.pooled, out.pooled, atol=1e-5)
        assert torch.allclose(out_wide.sequence[2, :4], out.sequence[2, :4], atol=1e-5)
        # token types default to 0 when absent
        no_types = {k: v for k, v in batch.items() if k != "token_type_ids"}
        assert torch.allclose(mean(no_types).pooled, out.pooled)


def test_seeded_random_init_is_reproducible():
    torch.manual_seed(1)
    a = models.create_bert_encoder("bert-tiny", VOCAB)
    torch.manual_seed(1)
    b = models.create_bert_encoder("bert-tiny", VOCAB)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert a.word_embeddings.weight.std().item() == pytest.approx(0.02, rel=0.1)  # BERT's init


def test_errors_name_the_fix():
    with pytest.raises(ValueError, match=r"unknown BERT size 'bert-huge'; choose one of \['bert-mini', 'bert-small', 'bert-tiny'\]"):
        models.create_bert_encoder("bert-huge", VOCAB)
    with pytest.raises(ValueError, match="pooling='max' is not one of"):
        models.create_bert_encoder("bert-tiny", VOCAB, pooling="max")
    encoder = models.create_bert_encoder("bert-tiny", VOCAB, max_positions=8)
    with pytest.raises(ValueError, match="sequence length 10 exceeds max_positions=8"):
        encoder(batch_of())


def test_builder_reads_the_dataset_info_and_options():
    info = {"vocab_size": 61, "max_length": 24, "pad_token_id": 0}
    options = models.BertOptions(pooling="cls", dropout=0.0)
    encoder = models.bert_builder("bert-mini")(ModelContext("toy", "text", info), options)
    config = encoder.config
    assert (config.vocab_size, config.max_position_embeddings, config.pad_token_id) == (61, 24, 0)
    assert (config.num_hidden_layers, config.hidden_size, encoder.pooling) == (4, 256, "cls")
    assert config.hidden_dropout_prob == config.attention_probs_dropout_prob == 0.0
    with pytest.raises(ValueError, match="dataset 'toy' gives no max_length in its info"):
        no_length = ModelContext("toy", "text", {"vocab_size": 61, "pad_token_id": 0})
        models.bert_builder("bert-tiny")(no_length, models.BertOptions())
    with pytest.raises(ValueError, match=r"dropout: must be in \[0, 1\)"):
        models.BertOptions(dropout=1.0)


def _naive_pre_ln_forward(encoder, batch):
    """Xiong et al. (2020), Fig. 1(b), written out: x + Attn(LN(x)), then x + FFN(LN(x)), LN at the end.

    Shape: returns (B, T, D)."""
    bert, f = encoder.bert, torch.nn.functional
    x = bert.embeddings(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"])
    heads, keep = encoder.config.num_attention_heads, batch["attention_mask"].bool()
    for layer in bert.encoder.layer:
        att = layer.attention
        h = att.LayerNorm(x)
        q, k, v = (m(h).unflatten(-1, (heads, -1)).transpose(1, 2) for m in (att.self.query, att.self.key, att.self.value))
        scores = (q @ k.transpose(-1, -2)) / q.shape[-1] ** 0.5
        scores = scores.masked_fill(~keep[:, None, None, :], float("-inf"))
        x = x + att.output.dense((scores.softmax(-1) @ v).transpose(1, 2).flatten(2))
        x = x + layer.output.dense(f.gelu(layer.intermediate.dense(layer.intermediate.LayerNorm(x))))
    return bert.LayerNorm(x)


def test_pre_ln_option_is_a_pre_ln_transformer_of_the_same_size():
    torch.manual_seed(0)
    post = models.create_bert_encoder("bert-tiny", VOCAB, max_positions=12, dropout=0.0).eval()
    pre = models.create_bert_encoder("bert-tiny", VOCAB, max_positions=12, dropout=0.0, norm="pre").eval()
    assert abs(sum(p.numel() for p in pre.parameters()) - sum(p.numel() for p in post.parameters())) < 1000  # LN moved
    batch = batch_of()
    with torch.no_grad():
        out = pre(batch)
        reference = _naive_pre_ln_forward(pre, batch)
    real = batch["attention_mask"].bool()
    assert torch.allclose(out.sequence[real], reference[real], atol=1e-5)
    assert pre.token_embeddings() is pre.bert.embeddings.word_embeddings
    with pytest.raises(ValueError, match="sequence length 13 exceeds max_positions=12"):
        pre(batch_of(width=13, rows=2))
    with pytest.raises(ValueError, match=r"norm='mid' is not one of \['post', 'pre'\]"):
        models.create_bert_encoder("bert-tiny", VOCAB, norm="mid")
