"""CIFAR-10, CIFAR-100 and STL-10 loaders: the archives of ``archives.py``, read from the prepared cache.

CIFAR (Krizhevsky, 2009): each batch file is a pickled dict whose ``data`` is (N, 3072)
uint8, the 1,024 red, then green, then blue values of each 32×32 image row-major, and
whose ``labels`` (CIFAR-10) or ``fine_labels`` (CIFAR-100) list the classes; 186 MB in
all, held in memory. Read here, not with torchvision's ``CIFAR10``, because torchvision's
class re-checks every file against its hard-coded MD5s, which the prepared cache already
guarantees (its manifest's SHA-256s are re-checked at every load), and would refuse the
small archives the tests fabricate in the same format.

STL-10 (Coates et al., 2011): ``*_X.bin`` are raw uint8 images 3×96×96, each channel
stored column-major; ``*_y.bin`` one uint8 label 1–10 per image. The 100,000 unlabeled
images (2.8 GB) are the pretraining split; all three files stay on disk and batches are
read from them (``rowstore``), where torchvision's ``STL10`` would read them into memory.

Splits: ``valid`` is carved from the labelled train images first (``carve_valid``,
``VALID_SEED``), as for every built-in dataset; ``train`` and (for CIFAR) ``pretrain`` are
drawn from the rest.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from sslbench import DatasetContext, LoadedDataset
from sslbench.data import DataError
from sslbench.splits import carve_valid, stratified_subset
from sslbench_image import archives
from sslbench_image.datasets import (
    SPLIT_SEED,
    image_info,
    info_from_moments,
    subset_dataset,
    subset_fingerprint,
)
from sslbench_image.options import CIFAR10Options, CIFAR100Options, STL10Options
from sslbench_image.rowstore import RowFile, row_split, store_moments

CIFAR_TRAIN = {"cifar10": [f"data_batch_{i}" for i in range(1, 6)], "cifar100": ["train"]}
CIFAR_TEST = {"cifar10": ["test_batch"], "cifar100": ["test"]}
CIFAR_LABEL_KEY = {"cifar10": "labels", "cifar100": "fine_labels"}
STL_SIDE = 96


def read_cifar_batches(folder: Path, files: list[str], label_key: str) -> tuple[Tensor, Tensor]:
    """Images and labels of CIFAR batch files (python pickles, as the authors distribute them).

    The files' bytes are those of the checked archive (the cache's manifest pins them).

    Shape:
        returns images (N, 3, 32, 32) uint8, labels (N,) long.
    """
    images, labels = [], []
    for name in files:
        try:
            with open(folder / name, "rb") as f:
                entry = pickle.load(f, encoding="latin1")
            data, y = np.asarray(entry["data"], dtype=np.uint8), np.asarray(entry[label_key], dtype=np.int64)
        except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as e:
            raise DataError(f"{folder / name}: not a CIFAR batch file ({type(e).__name__}: {e}); "
                            "prepare the dataset again") from None
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(y) != len(data):
            raise DataError(f"{folder / name}: data is {data.shape} with {len(y)} labels, expected (N, 3072) and N")
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(y)
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))


def load_cifar(ctx: DatasetContext, options: CIFAR10Options, name: str) -> LoadedDataset:
    """CIFAR-10 or CIFAR-100 from the prepared cache; subsets and splits as Fashion-MNIST's.

    Shape:
        split["image"] (N, 3, 32, 32) uint8 stored, float in [0, 1] per batch; labels["category"] (N,) long.
    """
    archive = archives.ARCHIVES[name]
    prepared = archives.prepare_archive(archive, root=ctx.data_root, path=options.path, progress=ctx.progress)
    folder = prepared.folder / archive.folder
    train = read_cifar_batches(folder, CIFAR_TRAIN[name], CIFAR_LABEL_KEY[name])
    test = read_cifar_batches(folder, CIFAR_TEST[name], CIFAR_LABEL_KEY[name])
    return subset_dataset(train, test, options, label_set="category", hflip_invariant=True,  # a mirrored cat is a cat
                          content_sha256=prepared.content_sha256)


def load_cifar10(ctx: DatasetContext, options: CIFAR10Options) -> LoadedDataset:
    """``DatasetSpec.build`` of ``cifar10``."""
    return load_cifar(ctx, options, "cifar10")


def load_cifar100(ctx: DatasetContext, options: CIFAR100Options) -> LoadedDataset:
    """``DatasetSpec.build`` of ``cifar100`` (fine labels, 100 classes)."""
    return load_cifar(ctx, options, "cifar100")


def stl_images(path: Path) -> RowFile:
    """An STL-10 ``*_X.bin`` file as rows of (3, 96, 96), read on demand."""
    row = 3 * STL_SIDE * STL_SIDE
    size = path.stat().st_size
    if size % row:
        raise DataError(f"{path}: {size:,} bytes is not a whole number of 3×96×96 images; prepare the dataset again")
    return RowFile(path, 0, size // row, (3, STL_SIDE, STL_SIDE), swap_last=True)


def stl_labels(path: Path, count: int) -> Tensor:
    """An STL-10 ``*_y.bin`` file: one byte 1–10 per image, returned as 0–9. Shape: (count,) long."""
    y = np.fromfile(path, dtype=np.uint8).astype(np.int64)
    if len(y) != count or (len(y) and (y.min() < 1 or y.max() > 10)):
        raise DataError(f"{path}: {len(y)} labels for {count} images (labels must be 1–10); prepare the dataset again")
    return torch.from_numpy(y - 1)


def load_stl10(ctx: DatasetContext, options: STL10Options) -> LoadedDataset:
    """STL-10: ``pretrain`` = the unlabeled images (or a fixed draw of ``pretrain_size``), labelled train → valid + train.

    Shape:
        split["image"] (N, 3, 96, 96) float in [0, 1] per batch, read from disk; labels["category"] (N,) long.
    """
    archive = archives.ARCHIVES["stl10"]
    prepared = archives.prepare_archive(archive, root=ctx.data_root, path=options.path, progress=ctx.progress)
    folder = prepared.folder / archive.folder
    unlabeled, train_x, test_x = (stl_images(folder / f"{s}_X.bin") for s in ("unlabeled", "train", "test"))
    y_train, y_test = stl_labels(folder / "train_y.bin", train_x.count), stl_labels(folder / "test_y.bin", test_x.count)
    if options.valid_size > len(y_train) - 10:
        raise DataError(f"[datasets.stl10] valid_size: {options.valid_size} leaves too few of the {len(y_train)} "
                        "training images to fit on; lower it")
    held, rest = carve_valid(y_train, options.valid_size)
    fit = rest[stratified_subset(y_train[rest], options.train_size)]
    score = stratified_subset(y_test, options.test_size)
    pre = torch.arange(unlabeled.count)
    if options.pretrain_size is not None and options.pretrain_size < unlabeled.count:
        pre = torch.randperm(unlabeled.count, generator=torch.Generator().manual_seed(SPLIT_SEED))
        pre = pre[: options.pretrain_size].sort().values
    sizes = {"pretrain_size": len(pre), "train_size": len(fit), "test_size": len(score), "valid_size": len(held)}
    mean, std = store_moments(unlabeled, pre)
    return LoadedDataset(
        pretrain=row_split(unlabeled, pre),
        train=row_split(train_x, fit, {"category": y_train[fit]}),
        test=row_split(test_x, score, {"category": y_test[score]}),
        valid=row_split(train_x, held, {"category": y_train[held]}) if len(held) else None,
        info={**info_from_moments(mean, std, channels=3, image_size=STL_SIDE, num_classes=10, hflip_invariant=True),
              **sizes},
        fingerprint=subset_fingerprint(prepared.content_sha256, sizes),
    )


__all__ = ["image_info", "load_cifar10", "load_cifar100", "load_stl10", "read_cifar_batches"]
