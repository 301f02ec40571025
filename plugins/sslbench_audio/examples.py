"""``DatasetSpec.example`` functions of the audio datasets: a few synthetic clips, no files.

Its own module (imported only when the conformance kit asks for an example), so that the
plugin's hook module imports no torch.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from sslbench import DatasetContext, LoadedDataset

from sslbench_audio import batching, datasets


def tiny_clips(label_set: str, features: int | None) -> Callable[[DatasetContext, object], LoadedDataset]:
    """``DatasetSpec.example``: 30 random clips of 12-30 frames, 3 classes (F = ``features`` or options.n_mels);
    6 test, 6 valid (two per class), 18 train."""

    def example(ctx: DatasetContext, options: object) -> LoadedDataset:
        generator = torch.Generator().manual_seed(0)
        lengths = torch.randint(12, 31, (30,), generator=generator)
        frames = torch.randn(30, 30, features or options.n_mels, generator=generator)  # type: ignore[attr-defined]
        frames[batching.lengths_to_mask(lengths, 30).logical_not()] = 0.0
        clips = batching.AudioSplit(frames, lengths, {label_set: torch.arange(30) % 3}, {label_set: ["a", "b", "c"]})
        return datasets.loaded_dataset(batching.train_test_splits(clips, label_set, valid_fraction=0.25), label_set)

    return example


example_fsdd_mfcc = tiny_clips("digit", 13)
example_audiofolder = tiny_clips("label", None)
example_klettres = tiny_clips("language", None)
