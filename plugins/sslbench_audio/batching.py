"""Padded tensor storage for audio splits, so gathering a batch is indexing.

A split holds every clip of one partition padded to the longest clip:
``features`` (N, Tmax, F) with zero padding and ``lengths`` (N,). A batch is
``split.gather(index)``: one advanced-indexing call plus a trim to the batch's own
longest clip, no per-sample Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from sslbench.splits import VALID_SEED


def lengths_to_mask(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """True at real frames, False at padding.

    Shape:
        lengths: (B,) long. Returns (B, max_len) bool, max_len defaults to lengths.max().
    """
    if max_len is None:
        max_len = int(lengths.max()) if lengths.numel() else 0
    return torch.arange(max_len, device=lengths.device) < lengths[:, None]


def pad_sequences(sequences: Sequence[Tensor | np.ndarray]) -> tuple[Tensor, Tensor]:
    """Stack variable-length (T_i, F) sequences into a zero-padded float tensor.

    Shape:
        sequences: N items of (T_i, F). Returns features (N, max T_i, F) float32
        and lengths (N,) long.
    """
    if len(sequences) == 0:
        raise ValueError("pad_sequences: got no sequences; pass at least one (T, F) array")
    tensors = [torch.as_tensor(np.asarray(s), dtype=torch.float32) for s in sequences]
    lengths = torch.tensor([t.shape[0] for t in tensors], dtype=torch.long)
    features = torch.nn.utils.rnn.pad_sequence(tensors, batch_first=True)
    return features, lengths


def stratified_split(labels: np.ndarray | Tensor, test_fraction: float = 0.2, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Seeded per-class shuffle; round(n_c * test_fraction) of each class go to test.

    Deterministic for a given (labels, test_fraction, seed). Indices come back
    sorted so the split does not depend on class order.

    Shape:
        labels: (N,) int. Returns train_index (N - n_test,), test_index (n_test,) long.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    test: list[np.ndarray] = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        n_test = int(round(len(members) * test_fraction))
        test.append(rng.permutation(members)[:n_test])
    test_index = np.sort(np.concatenate(test))
    train_index = np.setdiff1d(np.arange(len(labels)), test_index)
    return torch.from_numpy(train_index).long(), torch.from_numpy(test_index).long()


def trim_batch(batch: dict[str, Tensor]) -> dict[str, Tensor]:
    """Cut ``features`` to the batch's longest clip (a gathered batch's ``finish`` step).

    Shape:
        features (B, T, F), lengths (B,). Returns features (B, lengths.max(), F).
    """
    return {**batch, "features": batch["features"][:, : int(batch["lengths"].max())]}


@dataclass
class AudioSplit:
    """One partition of an audio dataset, stored as padded tensors.

    Shape:
        features: (N, Tmax, F) float, zero at padding frames.
        lengths: (N,) long, 1 <= lengths <= Tmax.
        labels: label-set name -> (N,) long class ids (empty for unlabeled splits).
    """

    features: Tensor
    lengths: Tensor
    labels: dict[str, Tensor] = field(default_factory=dict)
    classes: dict[str, list[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def gather(self, index: Tensor) -> dict[str, Tensor]:
        """The batch ``{"features", "lengths"}`` of the clips at ``index``.

        Shape:
            index: (B,) long. Returns features (B, max lengths[index], F), lengths (B,).
        """
        lengths = self.lengths[index]
        return {"features": self.features[index, : int(lengths.max())], "lengths": lengths}

    def subset(self, index: Tensor) -> AudioSplit:
        """A new split with the clips at ``index``, trimmed to their longest clip."""
        batch = self.gather(index)
        labels = {name: y[index] for name, y in self.labels.items()}
        return AudioSplit(batch["features"], batch["lengths"], labels, dict(self.classes))


def frame_stats(features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    """Per-feature mean and std over real frames only (padding ignored).

    Shape:
        features: (N, T, F), lengths: (N,). Returns mean (F,), std (F,).
    """
    frames = features[lengths_to_mask(lengths, features.shape[1])]
    return frames.mean(0), frames.std(0).clamp_min(1e-8)


def standardize(features: Tensor, lengths: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """(x - mean) / std on real frames; padding stays exactly zero.

    Shape:
        features: (N, T, F), lengths: (N,), mean/std: (F,). Returns (N, T, F).
    """
    real = lengths_to_mask(lengths, features.shape[1])[..., None]
    return torch.where(real, (features - mean) / std, torch.zeros((), dtype=features.dtype))


def train_test_splits(
    full: AudioSplit,
    label_set: str,
    test_fraction: float = 0.2,
    seed: int = 0,
    standardize_features: bool = True,
    valid_fraction: float = 0.0,
) -> dict[str, AudioSplit]:
    """``pretrain``/``train``/``test`` splits, and ``valid`` when ``valid_fraction`` > 0, from one labeled collection.

    The split is stratified on ``label_set`` (:func:`stratified_split`); ``valid``
    is then ``valid_fraction`` of each class's train clips, drawn with the fixed
    ``VALID_SEED`` (whatever ``seed``), and leaves ``train`` (no ``valid`` key when
    that rounds to no clip). ``pretrain`` holds the same clips as ``train`` with no
    labels: valid and test clips never reach pretraining, the standardisation
    statistics or k-means. With
    ``standardize_features`` every feature is scaled by the train split's per-
    feature mean/std over real frames (global CMVN), which keeps one MFCC/mel
    coefficient from dominating L1 targets and k-means distances.
    """
    if label_set not in full.labels:
        raise ValueError(f"label_set {label_set!r} not in this data; available: {sorted(full.labels)}")
    train_index, test_index = stratified_split(full.labels[label_set], test_fraction, seed)
    valid_index = train_index[:0]
    if valid_fraction > 0:
        keep, held = stratified_split(full.labels[label_set][train_index], valid_fraction, VALID_SEED)
        train_index, valid_index = train_index[keep], train_index[held]
    parts = {"train": full.subset(train_index), "test": full.subset(test_index)}
    if len(valid_index):
        parts["valid"] = full.subset(valid_index)
    if standardize_features:
        mean, std = frame_stats(parts["train"].features, parts["train"].lengths)
        for part in parts.values():
            part.features = standardize(part.features, part.lengths, mean, std)
    return {"pretrain": AudioSplit(parts["train"].features, parts["train"].lengths), **parts}
