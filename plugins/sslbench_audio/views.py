"""Two augmented views of an audio batch, for contrastive tasks (SimCLR-style).

Chen et al., 2020 (SimCLR) contrast two random views of each example; for audio
the usual view family (COLA, Saeed et al., 2021; BYOL-A, Niizumi et al., 2021)
is a random crop in time plus SpecAugment masks (Park et al., 2019), level
changes and noise. Everything here works on log-spectral-like frame features
(B, T, F) with lengths, vectorised over the batch, and keeps padding zero and
``lengths`` right.

Why not ``torchaudio.transforms.TimeMasking/FrequencyMasking``: with
``iid_masks=True`` on (B, 1, F, T) they do draw one mask per example, but they
draw from the global RNG (no ``torch.Generator``) and time masks are placed over
the padded length T, not each clip's own length, so short clips in a long batch
are barely masked. The functions below use torchaudio's sampling formula
(width = floor(u1 * param), start = floor(u2 * (size - u1 * param))) with a
generator and per-clip sizes; the tests compare the frequency masks'
distribution with torchaudio's.
"""

from __future__ import annotations


import torch
from torch import Tensor

from sslbench_audio.batching import lengths_to_mask
from sslbench_audio.options import ViewConfig  # noqa: F401  # torch-free: re-exported


def _rand(n: int, like: Tensor, generator: torch.Generator | None) -> Tensor:
    return torch.rand(n, device=like.device, generator=generator)


def random_crop(
    features: Tensor, lengths: Tensor, crop_min: float, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """A random contiguous crop of each clip, crop_min..1 of its length.

    Shape:
        features: (B, T, F), lengths: (B,). Returns features (B, T_new, F) with
        T_new = max new length, zero past each new length, and lengths (B,).
    """
    b = lengths.shape[0]
    fraction = crop_min + (1.0 - crop_min) * _rand(b, lengths, generator)
    new_lengths = (fraction * lengths).round().long().clamp(1, None).minimum(lengths)
    start = (_rand(b, lengths, generator) * (lengths - new_lengths + 1)).long()
    start = start.minimum(lengths - new_lengths)
    t_new = int(new_lengths.max())
    index = (start[:, None] + torch.arange(t_new, device=lengths.device)).clamp_max(features.shape[1] - 1)
    cropped = features.gather(1, index[..., None].expand(-1, -1, features.shape[2]))
    keep = lengths_to_mask(new_lengths, t_new)[..., None]
    return cropped * keep.to(features.dtype), new_lengths


def _interval_mask(size: Tensor, max_width: Tensor, n_positions: int, generator: torch.Generator | None) -> Tensor:
    """One [start, start + width) interval per row, torchaudio's formula, per-row size.

    Shape:
        size, max_width: (B,) float. Returns (B, n_positions) bool.
    """
    value = _rand(size.shape[0], size, generator) * max_width
    start = (_rand(size.shape[0], size, generator) * (size - value)).long()
    end = start + value.long()
    positions = torch.arange(n_positions, device=size.device)
    return (positions >= start[:, None]) & (positions < end[:, None])


def time_mask(
    features: Tensor, lengths: Tensor, max_fraction: float, generator: torch.Generator | None = None
) -> Tensor:
    """Zero one run of up to max_fraction x length frames inside each clip.

    Shape:
        features: (B, T, F), lengths: (B,). Returns (B, T, F).
    """
    size = lengths.to(torch.float32)
    mask = _interval_mask(size, max_fraction * size, features.shape[1], generator)
    return features.masked_fill(mask[..., None], 0.0)


def frequency_mask(features: Tensor, max_bands: int, generator: torch.Generator | None = None) -> Tensor:
    """Zero one run of up to max_bands feature dims per clip (all frames).

    Shape:
        features: (B, T, F). Returns (B, T, F).
    """
    b, _, f = features.shape
    size = torch.full((b,), float(f), device=features.device)
    mask = _interval_mask(size, torch.full_like(size, float(max_bands)), f, generator)
    return features.masked_fill(mask[:, None, :], 0.0)


def random_gain(features: Tensor, lengths: Tensor, gain: float, generator: torch.Generator | None = None) -> Tensor:
    """Add one offset from U(-gain, gain) per clip to its real frames.

    Shape:
        features: (B, T, F), lengths: (B,). Returns (B, T, F), padding still zero.
    """
    offset = (2.0 * _rand(lengths.shape[0], features, generator) - 1.0) * gain
    real = lengths_to_mask(lengths, features.shape[1])[..., None].to(features.dtype)
    return features + offset[:, None, None].to(features.dtype) * real


def add_noise(features: Tensor, lengths: Tensor, std: float, generator: torch.Generator | None = None) -> Tensor:
    """Add N(0, std^2) noise to real frames.

    Shape:
        features: (B, T, F), lengths: (B,). Returns (B, T, F), padding still zero.
    """
    noise = torch.randn(features.shape, device=features.device, generator=generator, dtype=features.dtype)
    real = lengths_to_mask(lengths, features.shape[1])[..., None].to(features.dtype)
    return features + std * noise * real


def augment(
    batch: dict[str, Tensor], config: ViewConfig | None = None, generator: torch.Generator | None = None
) -> dict[str, Tensor]:
    """One random view: crop, gain, noise, then time and frequency masks.

    The masks come last so that masked regions are exactly zero (the mean of
    standardised features).

    Shape:
        batch: features (B, T, F), lengths (B,). Returns features (B, T_new, F),
        lengths (B,) with T_new = max of the new lengths.
    """
    config = config or ViewConfig()
    features, lengths = random_crop(batch["features"], batch["lengths"], config.crop_min, generator)
    features = random_gain(features, lengths, config.gain, generator)
    features = add_noise(features, lengths, config.noise_std, generator)
    features = time_mask(features, lengths, config.time_mask, generator)
    features = frequency_mask(features, int(config.freq_mask * features.shape[2]), generator)
    return {"features": features, "lengths": lengths}


def two_views(
    batch: dict[str, Tensor], config: ViewConfig | None = None, generator: torch.Generator | None = None
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Two independent :func:`augment` views of the same batch."""
    return augment(batch, config, generator), augment(batch, config, generator)
