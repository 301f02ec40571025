"""Image datasets: scikit-learn's bundled 8×8 digits (more arrive through the data layer)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from sslbench import DatasetContext, LoadedDataset, TensorSplit, fingerprint

SPLIT_SEED = 0  # fixed: every run and every machine sees the same train/test split


@dataclass(frozen=True)
class DigitsOptions:
    """scikit-learn's 1,797 handwritten digits, 8×8 grey, 10 classes."""

    test_fraction: float = 0.3  # stratified hold-out for evaluators

    def __post_init__(self) -> None:
        if not 0.05 <= self.test_fraction <= 0.5:
            raise ValueError(f"test_fraction: must be in [0.05, 0.5], got {self.test_fraction}")


def load_digits(ctx: DatasetContext, options: DigitsOptions) -> LoadedDataset:
    """Digits as images in [0, 1] with a fixed stratified split; pretrain = train images.

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
    train_idx, test_idx = torch.as_tensor(train_idx), torch.as_tensor(test_idx)
    return LoadedDataset(
        pretrain=TensorSplit({"image": images[train_idx]}),
        train=_labeled(images, labels, train_idx),
        test=_labeled(images, labels, test_idx),
        info=image_info(images[train_idx], num_classes=10, hflip_invariant=False),
        fingerprint=fingerprint(images, labels),
    )


def _labeled(images: Tensor, labels: Tensor, index: Tensor) -> TensorSplit:
    return TensorSplit({"image": images[index]}, labels={"digit": labels[index]})


def image_info(images: Tensor, *, num_classes: int, hflip_invariant: bool) -> dict:
    """Facts encoders and views need, computed from the (pretrain) images in [0, 1].

    Shape:
        images (N, C, H, W) float or uint8 (uint8 is scaled by 1/255).
    """
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images
    return {
        "channels": int(x.shape[1]),
        "image_size": int(x.shape[-1]),
        "mean": x.mean(dim=(0, 2, 3)).tolist(),
        "std": x.std(dim=(0, 2, 3)).clamp_min(1e-3).tolist(),
        "num_classes": num_classes,
        "hflip_invariant": hflip_invariant,
    }
