"""Images that stay on disk: fixed-size uint8 rows in a file, read a batch at a time.

A split of a dataset larger than memory (STL-10's 100,000 unlabeled images are 2.8 GB
decoded; a user's folder may be any size) keeps only its row numbers in memory: the
split's data tensor is ``row`` (N,) long, and its ``finish`` reads the gathered rows'
pixels from the file (:class:`RowFile`) and turns them into floats. ``TensorSplit`` is
used unchanged.

Why ``os.pread`` and not a ``numpy.memmap``: pages of a memory map that a process has
touched count in its resident set until the kernel needs them back, so one epoch over a
memory-mapped file grows RSS to the file's size; explicit reads go through the page
cache, which is shared, reclaimable and not the process's. Consecutive rows are read in
one call.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from sslbench import Batch, TensorSplit
from sslbench.data import DataError

ROW_KEY = "row"
"""The data key of a row-backed split: (N,) long row numbers into its file."""


@dataclass
class RowFile:
    """``count`` rows of ``shape`` uint8 each, stored back to back from byte ``offset`` of ``path``.

    ``swap_last`` transposes each row's last two axes when read (STL-10's binaries store
    every channel column-major).
    """

    path: Path
    offset: int
    count: int
    shape: tuple[int, ...]
    swap_last: bool = False
    _fd: int | None = field(default=None, init=False, repr=False, compare=False)
    _pid: int = field(default=-1, init=False, repr=False, compare=False)

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.shape))

    def check_size(self) -> None:
        """Raise a one-line ``DataError`` when the file is shorter than its rows."""
        have, need = self.path.stat().st_size, self.offset + self.count * self.row_bytes
        if have < need:
            raise DataError(f"{self.path}: {have:,} bytes, {self.count:,} images of {self.shape} need {need:,}; "
                            "the file is truncated, prepare the dataset again")

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked child opens its own descriptor
            self._fd, self._pid = os.open(self.path, os.O_RDONLY), os.getpid()
        return self._fd

    def read(self, rows: np.ndarray) -> np.ndarray:
        """The rows ``rows`` (any order, repeats allowed). Shape: (B,) → (B, *shape) uint8."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if len(rows) and (rows.min() < 0 or rows.max() >= self.count):
            raise IndexError(f"row out of range [0, {self.count}) in {self.path}")
        out = np.empty((len(rows), self.row_bytes), dtype=np.uint8)
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        starts = np.flatnonzero(np.diff(ordered, prepend=-2) != 1)  # a run of consecutive rows starts here
        ends = np.append(starts[1:], len(rows))
        fd = self._file()
        for s, e in zip(starts.tolist(), ends.tolist()):
            buf = np.empty((e - s, self.row_bytes), dtype=np.uint8)
            got = os.preadv(fd, [buf], self.offset + int(ordered[s]) * self.row_bytes)
            if got != buf.nbytes:
                raise DataError(f"{self.path}: ended early while reading rows; prepare the dataset again")
            out[order[s:e]] = buf
        images = out.reshape(len(rows), *self.shape)
        return np.ascontiguousarray(images.swapaxes(-1, -2)) if self.swap_last else images

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_fd": None, "_pid": -1}

    def __del__(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)


@dataclass
class ReadRows:
    """``TensorSplit.finish`` of a row-backed split: rows → ``image`` floats in [0, 1].

    Shape: batch["row"] (B,) long → batch["image"] (B, C, H, W) float32.
    """

    store: RowFile

    def __call__(self, batch: Batch) -> Batch:
        rest = {k: v for k, v in batch.items() if k != ROW_KEY}
        images = torch.from_numpy(self.store.read(batch[ROW_KEY].numpy()))
        return {**rest, "image": images.float().div_(255.0)}


def row_split(store: RowFile, rows: Tensor, labels: dict[str, Tensor] | None = None) -> TensorSplit:
    """A split of ``store``'s rows ``rows`` (N,) long, with optional labels (N,) each."""
    return TensorSplit({ROW_KEY: rows.long()}, labels=labels or {}, finish=ReadRows(store))


def store_moments(store: RowFile, rows: Tensor, most: int = 20_000, chunk: int = 512) -> tuple[Tensor, Tensor]:
    """Per-channel mean and (unbiased) std of ``image / 255`` over ``rows``, from 256-bin histograms.

    Exact over at most ``most`` rows: beyond that, over ``most`` evenly spaced ones (an
    estimate for normalisation, read in ``chunk``-row pieces so memory stays bounded).

    Shape: rows (N,) long → (C,), (C,) float32.
    """
    rows = rows.long()
    if len(rows) > most:
        rows = rows[torch.linspace(0, len(rows) - 1, most).round().long()]
    channels = store.shape[0]
    counts = np.zeros((channels, 256), dtype=np.int64)
    for start in range(0, len(rows), chunk):
        images = store.read(rows[start:start + chunk].numpy())
        for c in range(channels):
            counts[c] += np.bincount(images[:, c].reshape(-1), minlength=256)
    return moments_from_counts(torch.from_numpy(counts))


def moments_from_counts(counts: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and unbiased std of ``value / 255`` per channel from (C, 256) histogram counts."""
    values = torch.arange(256, dtype=torch.float64) / 255.0
    counts = counts.double()
    n = counts.sum(dim=1)
    mean = (counts * values).sum(dim=1) / n
    var = (counts * (values - mean[:, None]) ** 2).sum(dim=1) / (n - 1)
    return mean.float(), var.sqrt().float()
