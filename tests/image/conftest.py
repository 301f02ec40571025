"""Small archives in the real on-disk formats of CIFAR-10/100 and STL-10, made by the tests.

``fake_archive`` writes one and swaps it into ``sslbench_image.archives.ARCHIVES`` with
its own size and MD5 (and a URL on a closed local port, so that no test reaches the
network); the loaders then read it exactly as they read the authors' archive.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import pickle
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sslbench_image import archives

OFFLINE_BASE = "http://127.0.0.1:9/"  # the discard port: connection refused at once


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def cifar_members(name: str, per_class: int, classes: int, rng: np.random.Generator) -> dict[str, dict]:
    """CIFAR batch dicts as the authors pickle them: ``data`` (N, 3072) uint8, labels, names."""
    label_key = "labels" if name == "cifar10" else "fine_labels"
    files = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"] if name == "cifar10" else ["train", "test"]
    members = {}
    for f in files:
        labels = np.tile(np.arange(classes), per_class)
        data = rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8)
        batch = {"batch_label": f, label_key: labels.tolist(), "data": data,
                 "filenames": [f"img_{i}.png" for i in range(len(labels))]}
        if name == "cifar100":
            batch["coarse_labels"] = (labels // 5).tolist()
        members[f] = batch
    meta = ({"label_names": [f"c{i}" for i in range(classes)], "num_cases_per_batch": 10, "num_vis": 3072}
            if name == "cifar10" else {"fine_label_names": [f"f{i}" for i in range(classes)],
                                       "coarse_label_names": [f"k{i}" for i in range(classes // 5)]})
    members["batches.meta" if name == "cifar10" else "meta"] = meta
    return members


def write_cifar(path: Path, name: str, per_class: int = 2) -> dict[str, dict]:
    """A ``cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz`` at ``path``; returns its batches."""
    classes = 10 if name == "cifar10" else 100
    members = cifar_members(name, per_class, classes, np.random.default_rng(0))
    folder = archives.ARCHIVES[name].folder
    with tarfile.open(path, "w:gz") as tar:
        for f, content in members.items():
            _add(tar, f"{folder}/{f}", pickle.dumps(content, protocol=2))
    return members


def stl_bytes(images: np.ndarray) -> bytes:
    """STL-10's ``*_X.bin`` layout: per image, each channel column-major. (N, 3, 96, 96) → bytes."""
    return np.ascontiguousarray(images.transpose(0, 1, 3, 2)).tobytes()


def write_stl(path: Path, unlabeled: int = 30, per_class: int = 4, test_per_class: int = 2) -> dict[str, np.ndarray]:
    """An ``stl10_binary.tar.gz`` at ``path`` with few images; returns them (N, 3, 96, 96) and labels 0-9."""
    rng = np.random.default_rng(1)
    out = {
        "unlabeled": rng.integers(0, 256, (unlabeled, 3, 96, 96), dtype=np.uint8),
        "train": rng.integers(0, 256, (10 * per_class, 3, 96, 96), dtype=np.uint8),
        "test": rng.integers(0, 256, (10 * test_per_class, 3, 96, 96), dtype=np.uint8),
        "train_y": np.tile(np.arange(10), per_class), "test_y": np.tile(np.arange(10), test_per_class),
    }
    with tarfile.open(path, "w:gz") as tar:
        for part in ("train", "test", "unlabeled"):
            _add(tar, f"stl10_binary/{part}_X.bin", stl_bytes(out[part]))
        for part in ("train", "test"):
            _add(tar, f"stl10_binary/{part}_y.bin", (out[f"{part}_y"] + 1).astype(np.uint8).tobytes())
        _add(tar, "stl10_binary/class_names.txt", "\n".join(f"c{i}" for i in range(10)).encode())
        _add(tar, "stl10_binary/fold_indices.txt", b"0 1 2\n")
    return out


def pin(archive: archives.Archive, path: Path) -> archives.Archive:
    """``archive`` with ``path``'s size and MD5, and an unreachable URL."""
    return dataclasses.replace(archive, md5=hashlib.md5(path.read_bytes()).hexdigest(), size=path.stat().st_size,
                               url=OFFLINE_BASE + archive.filename)


@pytest.fixture(autouse=True)
def _no_user_folders(monkeypatch):
    for a in archives.ARCHIVES.values():
        monkeypatch.delenv(a.env, raising=False)


@pytest.fixture
def fake_archive(tmp_path, monkeypatch) -> Callable[..., tuple[Path, object]]:
    """``fake_archive(name)`` → (folder holding the archive, what it holds); the loaders then use it."""

    def make(name: str, **kwargs) -> tuple[Path, object]:
        folder = tmp_path / f"user-{name}"
        folder.mkdir()
        real = archives.ARCHIVES[name]
        path = folder / real.filename
        content = write_stl(path, **kwargs) if name == "stl10" else write_cifar(path, name, **kwargs)
        monkeypatch.setitem(archives.ARCHIVES, name, pin(real, path))
        return folder, content

    return make
