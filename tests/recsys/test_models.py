"""Encoders: the output contract, masked-mean pooling, last-position pooling, causality."""

from __future__ import annotations

import pytest
import torch
from sslbench import EncoderOutput
from sslbench_recsys.models import ItemEmbeddingEncoder, ItemTransformerEncoder

V, D = 12, 8
ITEMS = torch.tensor([[2, 3, 4, 0, 0], [5, 6, 7, 8, 9], [10, 0, 0, 0, 0]])
BATCH = {"items": ITEMS, "mask": ITEMS > 0}
ENCODERS = {
    "item-embedding": lambda: ItemEmbeddingEncoder(V, D),
    "item-transformer": lambda: ItemTransformerEncoder(V, D, num_heads=2, max_len=8),
    "item-transformer-bidirectional": lambda: ItemTransformerEncoder(V, D, num_heads=2, max_len=8, causal=False),
}


@pytest.fixture(params=list(ENCODERS))
def encoder(request):
    torch.manual_seed(0)
    return ENCODERS[request.param]().eval()


def test_every_encoder_meets_the_contract(encoder):
    out = encoder(BATCH)
    assert isinstance(out, EncoderOutput)
    assert out.sequence.shape == (3, 5, D) and out.pooled.shape == (3, D)
    assert torch.equal(out.mask, BATCH["mask"]) and encoder.embed_dim == D
    assert encoder.item_embeddings().shape == (V, D)
    assert torch.all(out.sequence[~BATCH["mask"]] == 0)  # padded positions carry nothing
    (out.pooled * torch.randn(3, D)).sum().backward()  # not .sum(): a final LayerNorm makes that constant
    assert encoder.item_embeddings().grad.abs().sum() > 0  # the item table learns through pooled


def test_extra_padding_columns_change_nothing(encoder):
    wider = torch.cat([ITEMS, torch.zeros(3, 2, dtype=torch.long)], 1)
    out, out_wide = encoder(BATCH), encoder({"items": wider, "mask": wider > 0})
    torch.testing.assert_close(out_wide.pooled, out.pooled)
    torch.testing.assert_close(out_wide.sequence[:, :5], out.sequence)


def test_item_embedding_pools_the_masked_mean_of_the_history():
    encoder = ItemEmbeddingEncoder(V, D)
    table = encoder.item_embeddings()
    assert torch.all(table[0] == 0)  # padding row
    expected = torch.stack([table[[2, 3, 4]].mean(0), table[[5, 6, 7, 8, 9]].mean(0), table[10]])
    torch.testing.assert_close(encoder(BATCH).pooled, expected)


def test_transformer_pools_the_last_real_position():
    out = ItemTransformerEncoder(V, D, max_len=8).eval()(BATCH)
    torch.testing.assert_close(out.pooled, out.sequence[torch.arange(3), torch.tensor([2, 4, 0])])


def test_causal_transformer_does_not_look_ahead_and_bidirectional_does():
    changed = ITEMS.clone()
    changed[1, 4] = 11  # a later item
    for causal, same in ((True, True), (False, False)):
        torch.manual_seed(0)
        encoder = ItemTransformerEncoder(V, D, max_len=8, causal=causal).eval()
        before = encoder(BATCH).sequence[1, :4]
        after = encoder({"items": changed, "mask": changed > 0}).sequence[1, :4]
        assert torch.allclose(before, after, atol=1e-6) is same


def test_an_empty_row_gives_zeros_not_nan():
    items = torch.zeros(2, 4, dtype=torch.long)
    items[0, :2] = torch.tensor([3, 4])
    out = ItemTransformerEncoder(V, D, max_len=8).eval()({"items": items, "mask": items > 0})
    assert torch.isfinite(out.sequence).all() and torch.all(out.pooled[1] == 0)


def test_bad_construction_arguments_say_what_to_fix():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        ItemTransformerEncoder(V, 10, num_heads=3)
    with pytest.raises(ValueError, match=">= 3"):
        ItemEmbeddingEncoder(2, D)
    with pytest.raises(ValueError, match="max_len=8"):
        ItemTransformerEncoder(V, D, max_len=8)({"items": torch.ones(1, 9, dtype=torch.long), "mask": torch.ones(1, 9, dtype=torch.bool)})
