"""The ``audio`` modality: batches of frame features with lengths, and their views.

Batch contract: ``features`` (B, T, F) float, zero at padding frames, and
``lengths`` (B,) long, 1 <= lengths <= T. Waveform datasets (``audiofolder``,
``klettres``) arrive as log-mel frames, feature datasets (``fsdd-mfcc``) as their
own frames; both are standardised per feature with train statistics, so the views
and the masked-frames targets see the same scale everywhere.

Capabilities: ``frames`` (:meth:`AudioModality.frames`) and ``views``
(:meth:`AudioModality.views`: random crop, gain, noise, time and frequency masks —
COLA, Saeed et al., 2021; BYOL-A, Niizumi et al., 2021; SpecAugment, Park et al.,
2019), drawn from torch's global generator, which the runner seeds per (cell, seed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor

from sslbench import Batch, Modality

from sslbench_audio.batching import lengths_to_mask
from sslbench_audio.views import ViewConfig, augment


class AudioModality(Modality):
    """Frame sequences (B, T, F) with lengths; provides ``frames`` and ``views``.

    Args:
        info: the dataset's facts (``num_features``: F).
        options: the view augmentation strengths.
    """

    name = "audio"

    def __init__(self, info: Mapping[str, Any], options: ViewConfig) -> None:
        self.num_features = int(info.get("num_features", 0))
        self.options = options

    def frames(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """The batch's frames and which are real (capability ``frames``).

        Shape:
            Returns features (B, T, F) and valid (B, T) bool, True on a prefix of each row.
        """
        features = batch["features"]
        return features, lengths_to_mask(batch["lengths"], features.shape[1])

    def views(self, batch: Batch) -> tuple[Batch, Batch]:
        """Two independent augmentations of the batch (capability ``views``).

        Shape:
            Each view: features (B, T_view, F) with T_view = its longest crop, lengths (B,).
        """
        return augment(batch, self.options, generator=None), augment(batch, self.options, generator=None)


def build_audio_modality(info: Mapping[str, Any], options: ViewConfig) -> AudioModality:
    """The ``ModalitySpec.build`` factory."""
    return AudioModality(info, options)
