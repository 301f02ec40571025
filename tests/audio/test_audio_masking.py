"""Span masking: placement rules, masked fraction against the exact expectation and
against transformers' wav2vec 2.0 masking as a peer, reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sslbench_audio.masking import SpanMaskConfig, expected_mask_fraction, span_mask


def _runs(row: torch.Tensor) -> list[int]:
    """Lengths of the runs of True in a 1-D bool tensor."""
    runs, n = [], 0
    for v in row.tolist() + [False]:
        if v:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    return runs


def test_padding_never_masked_and_every_clip_masked():
    lengths = torch.tensor([1, 2, 3, 5, 9, 18, 40])
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        mask = span_mask(lengths, 50, mask_prob=0.1, span=3, generator=g)
        assert mask.shape == (7, 50)
        assert not mask[torch.arange(50) >= lengths[:, None]].any()
        assert (mask.sum(1) >= 1).all()
        for row, length in zip(mask, lengths.tolist()):
            if length >= 3:  # overlapping spans merge, so every run is at least one span long
                assert min(_runs(row)) >= 3


def test_clip_shorter_than_span_is_fully_masked_and_empty_clip_is_an_error():
    mask = span_mask(torch.tensor([1, 2, 6]), span=3, mask_prob=0.01, generator=torch.Generator().manual_seed(1))
    assert mask[0, :1].all() and mask[1, :2].all() and not mask[:2, 2:].any()
    with pytest.raises(ValueError, match="length >= 1"):
        span_mask(torch.tensor([3, 0]))
    with pytest.raises(ValueError, match="mask_prob"):
        SpanMaskConfig(mask_prob=0.0)
    with pytest.raises(ValueError, match="span"):
        SpanMaskConfig(span=0)


@pytest.mark.parametrize("length,span,p", [(3, 2, 0.3), (9, 2, 0.3), (18, 3, 0.2), (46, 2, 0.3), (7, 3, 0.05)])
def test_masked_fraction_matches_exact_expectation(length, span, p):
    n = 4000
    mask = span_mask(torch.full((n,), length), mask_prob=p, span=span, generator=torch.Generator().manual_seed(2))
    per_clip = mask.float().mean(1)
    expected = expected_mask_fraction(length, p, span)
    tolerance = 4 * per_clip.std().item() / math.sqrt(n) + 1e-6
    assert abs(per_clip.mean().item() - expected) < tolerance


def test_expected_fraction_reproduces_wav2vec2_paper():
    # Baevski et al. 2020: p = 0.065, M = 10 masks "approximately 49%" of time steps.
    assert expected_mask_fraction(10_000, 0.065, 10) == pytest.approx(0.49, abs=0.005)
    # and our default masks ~48% of FSDD-sized clips at stride 2 (9 frames)
    assert 0.45 < expected_mask_fraction(9, SpanMaskConfig.mask_prob, SpanMaskConfig.span) < 0.52


def test_masked_fraction_agrees_with_transformers_compute_mask_indices():
    """On long clips, start probability p with span M equals transformers'
    mask_time_prob = p * M (fixed span count, fairseq style): same masked fraction."""
    from transformers.models.wav2vec2.modeling_wav2vec2 import _compute_mask_indices

    length, span, p = 400, 10, 0.065
    np.random.seed(0)
    peer = np.mean([_compute_mask_indices((64, length), p * span, span).mean() for _ in range(20)])
    ours = span_mask(torch.full((1280,), length), mask_prob=p, span=span, generator=torch.Generator().manual_seed(3))
    assert ours.float().mean().item() == pytest.approx(peer, abs=0.015)


def test_same_generator_seed_same_mask():
    lengths = torch.tensor([5, 12, 30])
    a = span_mask(lengths, generator=torch.Generator().manual_seed(7))
    b = span_mask(lengths, generator=torch.Generator().manual_seed(7))
    c = span_mask(lengths, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)
