"""What a dataset plugin hands the runner: splits of tensors, labels and facts.

A split keeps its samples as tensors so that gathering a batch is one indexing
operation per tensor — no per-sample Python in the training loop.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from sslbench.specs import LABEL_KINDS  # noqa: F401  # re-exported: defined with the specs, torch-free

Batch = dict[str, Tensor]
"""A batch: named tensors whose first dimension is the batch size B."""



def label_key(label_set: str) -> str:
    """The batch key under which a split's labels of ``label_set`` travel: ``label:<label_set>``."""
    return f"label:{label_set}"


@dataclass
class TensorSplit:
    """One split of a dataset, stored as tensors with a common first dimension N.

    Args:
        data: name → tensor of shape (N, ...); a batch holds the same names.
        labels: label-set name → labels, (N,) long for ``class`` label sets,
            (N, C) float for ``multilabel`` ones.
        finish: optional function applied to each gathered batch (e.g. uint8 → float
            images, trimming padding to the batch's longest sequence).
    """

    data: Mapping[str, Tensor]
    labels: Mapping[str, Tensor] = field(default_factory=dict)
    finish: Callable[[Batch], Batch] | None = None

    def __post_init__(self) -> None:
        sizes = {name: len(t) for name, t in {**self.data, **self.labels}.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"split tensors differ in length: {sizes}")
        if not self.data:
            raise ValueError("a split needs at least one data tensor")

    def __len__(self) -> int:
        return len(next(iter(self.data.values())))

    def batch(self, index: Tensor) -> Batch:
        """Gather samples ``index`` (shape (B,), long) into a batch.

        Labels ride along as ``label:<label set>`` keys (added after ``finish``), so a
        task that trains on a labeled split (e.g. the supervised reference) reads them
        from its batch; encoders and views ignore keys they do not know.
        """
        out = {name: t[index] for name, t in self.data.items()}
        out = self.finish(out) if self.finish else out
        return {**out, **{label_key(name): y[index] for name, y in self.labels.items()}}


@dataclass
class LoadedDataset:
    """A dataset ready for the runner.

    Args:
        pretrain: unlabeled samples used for pretraining.
        train: labeled samples evaluators fit on (probe weights, kNN memory bank).
        test: labeled samples evaluators score.
        info: facts builders need, keyed by plain names (e.g. ``channels``,
            ``image_size``, ``vocab_size``, ``num_features``, ``mean``, ``std``).
        extras: anything else that a dataset-specific evaluator consumes, by name.
        fingerprint: a hash of the data this was built from (for provenance).
        extra_splits: further named splits a task may train on instead of ``pretrain``
            (``TaskSpec.split``), e.g. sentence pairs for next-sentence prediction.
        valid: labeled samples evaluators select hyper-parameters on (fit on ``train``,
            score ``valid``, pick the best, then score ``test`` once), or None. Built-in
            datasets carve it from their labelled training data, disjoint from ``train``
            and ``test``, by a fixed seed; a plugin dataset declares one by filling this
            field (evaluators fall back to fixed hyper-parameters when it is None).
    """

    pretrain: TensorSplit
    train: TensorSplit
    test: TensorSplit
    info: Mapping[str, Any] = field(default_factory=dict)
    extras: Mapping[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    extra_splits: Mapping[str, TensorSplit] = field(default_factory=dict)
    valid: TensorSplit | None = None

    def split(self, name: str) -> TensorSplit:
        """The split called ``name``: ``pretrain``, ``train``, ``valid``, ``test`` or an extra split."""
        if name in ("pretrain", "train", "test") or (name == "valid" and self.valid is not None):
            return getattr(self, name)
        if name in self.extra_splits:
            return self.extra_splits[name]
        raise KeyError(f"this dataset has no split {name!r}; splits: {', '.join(self.split_names())}")

    def split_names(self) -> list[str]:
        """Names of the splits this dataset has, ``valid`` only when it is set."""
        return ["pretrain", "train", *(["valid"] if self.valid is not None else []), "test", *self.extra_splits]


def move_batch(batch: Batch, device: torch.device, pin: bool = True) -> Batch:
    """Copy every tensor of ``batch`` to ``device``.

    To CUDA the tensors go through page-locked (pinned) memory, so the copy is
    asynchronous and overlaps the GPU's work on the previous step — what a
    ``DataLoader(pin_memory=True)`` does; on the CPU nothing is copied.
    """
    if device.type != "cuda":
        return {k: v.to(device) for k, v in batch.items()}
    if pin:
        batch = {k: v if v.is_cuda else v.pin_memory() for k, v in batch.items()}
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def batch_size_of(batch: Batch) -> int:
    """The batch dimension B shared by every tensor of ``batch``."""
    return len(next(iter(batch.values())))


def fingerprint(*tensors: Tensor) -> str:
    """SHA-256 (first 16 hex digits) of the tensors' bytes, for provenance."""
    import hashlib

    digest = hashlib.sha256()
    for t in tensors:
        digest.update(str((t.dtype, tuple(t.shape))).encode())
        digest.update(t.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]
