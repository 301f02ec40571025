"""Span masking of frame sequences, in the spirit of wav2vec 2.0.

Baevski et al., 2020, "wav2vec 2.0: A Framework for Self-Supervised Learning of
Speech Representations", §3.1/§4.2: every time step is a span start with
probability ``p``; each start masks the ``M`` following steps; spans may overlap.
With p = 0.065 and M = 10 on 50 Hz frames about 49% of the steps are masked.

Parameterisation. ``mask_prob`` here is the paper's per-step start probability
``p``. fairseq's and transformers' ``mask_time_prob`` is ``p * M`` (0.65 for
wav2vec 2.0 base) and draws a fixed number of spans; for long clips both give the
same masked fraction, ``1 - (1 - p) ** M`` (checked in the tests).

Defaults for short clips. FSDD MFCC clips have 18 frames on average (min 6,
max 92); the audio encoders subsample time by 2, so the mask is drawn at ~9
frames a clip (min 3). wav2vec 2.0's 200 ms span would be half such a clip.
We keep the paper's masked fraction (~49%) and shorten the span to 2 model
frames (4 MFCC frames, about one phone), with p = 0.3: 1 - 0.7**2 = 51% of a
very long clip, 48% on average over the FSDD clips at stride 2 (exact, from
:func:`expected_mask_fraction`; frames near clip edges are covered by fewer
starts, the at-least-one-span rule adds a little on very short clips).

Rules, all vectorised over the batch:

* starts are drawn only where a whole span fits inside the clip
  (0 <= start <= length - span), so padding is never masked and every span has
  exactly ``span`` frames;
* a clip where no start fired gets one start drawn uniformly among its valid
  starts, so every clip has at least one masked span;
* a clip shorter than one span (1 <= length < span) is masked entirely —
  documented behaviour instead of an error, so one short user recording does not
  stop a run; a clip of length 0 is a ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from sslbench_audio.batching import lengths_to_mask


@dataclass(frozen=True)
class SpanMaskConfig:
    """Settings of :func:`span_mask`.

    mask_prob: probability that a frame starts a span (wav2vec 2.0's p). 0.3 with
        span 2 masks ~48% of the frames of FSDD clips at stride 2 (module docstring).
    span: frames masked from each start (wav2vec 2.0's M), in frames of the rate the
        mask is applied at (the encoder's output rate for the masked-frames task).
    """

    mask_prob: float = 0.3
    span: int = 2

    def __post_init__(self) -> None:
        if not 0.0 < self.mask_prob <= 1.0:
            raise ValueError(f"mask_prob must be in (0, 1], got {self.mask_prob}")
        if self.span < 1:
            raise ValueError(f"span must be an integer >= 1, got {self.span}")


def span_mask(
    lengths: Tensor,
    max_len: int | None = None,
    mask_prob: float = SpanMaskConfig.mask_prob,
    span: int = SpanMaskConfig.span,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Draw a span mask per clip; True = masked frame.

    Shape:
        lengths: (B,) long, >= 1. Returns (B, max_len) bool; max_len defaults to
        lengths.max(). Frames at or beyond a clip's length are never True.

    The generator must live on ``lengths.device``; with the same generator state
    the mask is the same.
    """
    SpanMaskConfig(mask_prob, span)  # validates
    if lengths.numel() and int(lengths.min()) < 1:
        raise ValueError(f"span_mask: every clip needs length >= 1, got min {int(lengths.min())}")
    if max_len is None:
        max_len = int(lengths.max()) if lengths.numel() else 0
    device = lengths.device
    n_starts = (lengths - span + 1).clamp_min(0)  # (B,) valid start positions 0..n_starts-1
    positions = torch.arange(max_len, device=device)
    valid = positions < n_starts[:, None]
    draw = torch.rand(lengths.shape[0], max_len, device=device, generator=generator)
    starts = (draw < mask_prob) & valid
    # at least one span: a uniformly chosen valid start where none fired
    fallback = (torch.rand(lengths.shape[0], device=device, generator=generator) * n_starts).long()
    none_fired = ~starts.any(1) & (n_starts > 0)
    starts |= none_fired[:, None] & (positions == fallback[:, None])
    masked = starts.clone()
    for k in range(1, min(span, max_len)):
        masked[:, k:] |= starts[:, :-k]
    too_short = (n_starts == 0)[:, None] & lengths_to_mask(lengths, max_len)
    return masked | too_short


def expected_mask_fraction(length: int, mask_prob: float, span: int) -> float:
    """Exact expected fraction of masked frames of :func:`span_mask` on one clip.

    With S = length - span + 1 valid starts and n_t of them covering frame t,
    P(t masked) = 1 - (1-p)^n_t + (1-p)^S * n_t / S  (the second term is the
    "at least one span" fallback). Clips shorter than a span are fully masked.
    """
    if length < span:
        return 1.0
    n_starts = length - span + 1
    q = 1.0 - mask_prob
    total = 0.0
    for t in range(length):
        covering = min(t, n_starts - 1) - max(0, t - span + 1) + 1
        total += 1.0 - q**covering + q**n_starts * covering / n_starts
    return total / length
