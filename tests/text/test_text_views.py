"""Contrastive views: layout stays valid, crops are contiguous spans, dropout rate holds."""

import itertools
import math

import pytest
import torch

from sslbench_text.views import SpanCropTokenDropout

PAD, CLS, SEP, MASK = 0, 2, 3, 4


def batch_of(lengths, width=24):
    """Rows [CLS] 100*r+1 .. 100*r+n [SEP] pad: distinct, increasing content tokens."""
    ids = torch.full((len(lengths), width), PAD)
    for r, n in enumerate(lengths):
        ids[r, : n + 2] = torch.tensor([CLS, *range(100 * r + 1, 100 * r + n + 1), SEP])
    attention = (ids != PAD).long()
    return {"input_ids": ids, "attention_mask": attention, "token_type_ids": torch.zeros_like(ids)}


def check_layout(view, width):
    ids, attention = view["input_ids"], view["attention_mask"]
    assert ids.shape[1] == width and (view["token_type_ids"] == 0).all()
    for row, mask in zip(ids, attention):
        length = int(mask.sum())
        assert mask.tolist() == [1] * length + [0] * (width - length)
        assert row[0] == CLS and row[length - 1] == SEP and (row[length:] == PAD).all()
        assert not torch.isin(row[1 : length - 1], torch.tensor([CLS, SEP, PAD])).any()


LENGTHS = [0, 1, 2, 5, 12, 20, 22]


@pytest.mark.parametrize("mode", ["mask", "drop"])
def test_views_keep_layout_and_are_contiguous_spans(mode):
    batch = batch_of(LENGTHS)
    aug = SpanCropTokenDropout(MASK, PAD, crop=(0.3, 0.8), dropout=0.2, mode=mode)
    gen = torch.Generator().manual_seed(0)
    for _ in range(30):
        for view in aug(batch, gen):
            check_layout(view, 24)
            for r, n in enumerate(LENGTHS):
                content = view["input_ids"][r, 1 : int(view["attention_mask"][r].sum()) - 1].tolist()
                if n == 0:
                    assert content == []
                    continue
                assert content, "a row with content lost every token"
                real = [t for t in content if t != MASK]
                assert all(b > a for a, b in itertools.pairwise(real))  # order kept, no repeats
                if mode == "mask":  # positions preserved: a contiguous span, some tokens masked
                    first = next((t - 100 * r - i for i, t in enumerate(content) if t != MASK), 1)
                    span = list(range(100 * r + first, 100 * r + first + len(content)))
                    assert all(t in (MASK, s) for t, s in zip(content, span)) and span[-1] <= 100 * r + n
                    assert math.ceil(0.3 * n) <= len(content) <= math.ceil(0.8 * n)
                else:  # deletions: kept tokens lie inside a span no longer than the crop allows
                    assert MASK not in content and real[-1] - real[0] + 1 <= math.ceil(0.8 * n)


def test_identity_without_augmentation_and_dropout_rate():
    batch = batch_of(LENGTHS)
    same = SpanCropTokenDropout(MASK, PAD, crop=(1.0, 1.0), dropout=0.0)(batch)[0]
    assert all(torch.equal(same[k], batch[k]) for k in batch)
    aug = SpanCropTokenDropout(MASK, PAD, crop=(1.0, 1.0), dropout=0.3)
    big = batch_of([22] * 200)
    masked = (aug.view(big, torch.Generator().manual_seed(0))["input_ids"] == MASK).float().sum() / (22 * 200)
    assert masked.item() == pytest.approx(0.3, abs=0.02)
    dropped = SpanCropTokenDropout(MASK, PAD, crop=(1.0, 1.0), dropout=0.3, mode="drop")
    lengths = dropped.view(big, torch.Generator().manual_seed(0))["attention_mask"].sum(1) - 2
    assert lengths.float().mean().item() == pytest.approx(0.7 * 22, rel=0.03)


def test_views_differ_and_are_reproducible():
    batch = batch_of([20] * 8)
    aug = SpanCropTokenDropout(MASK, PAD)
    one, two = aug(batch, torch.Generator().manual_seed(3))
    again, _ = aug(batch, torch.Generator().manual_seed(3))
    assert not torch.equal(one["input_ids"], two["input_ids"])
    assert torch.equal(one["input_ids"], again["input_ids"])


def test_bad_input_and_options():
    pair = batch_of([4])
    pair["token_type_ids"][0, 3:] = 1
    with pytest.raises(ValueError, match="single-segment rows"):
        SpanCropTokenDropout(MASK, PAD).view(pair)
    with pytest.raises(ValueError, match=r"crop=\(0.0, 1.0\) must satisfy"):
        SpanCropTokenDropout(MASK, PAD, crop=(0.0, 1.0))
    with pytest.raises(ValueError, match="mode='cut' is not one of"):
        SpanCropTokenDropout(MASK, PAD, mode="cut")
    with pytest.raises(ValueError, match="dropout=1.0 must be in"):
        SpanCropTokenDropout(MASK, PAD, dropout=1.0)
