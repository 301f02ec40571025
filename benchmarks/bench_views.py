"""SimCLR views on batched tensors (sslbench's image modality) vs the per-sample PIL pipeline in DataLoader workers.

Both sides turn the same uint8 images into two augmented float views per image, at
the same batch size, with the same augmentations at the same parameters:

* **sslbench**: per batch, ``split.batch(index)`` (uint8 → float) and the ``image``
  modality's ``views`` — every augmentation drawn per image and applied to the whole
  (B, C, H, W) batch at once (``sslbench_image.augment``), in the main process.
* **torchvision**: the recipe most SimCLR code uses — a ``Dataset`` whose
  ``__getitem__`` makes a PIL image and applies a ``transforms.v2.Compose`` twice
  (RandomResizedCrop, RandomHorizontalFlip, RandomApply(ColorJitter, p=0.8),
  RandomGrayscale, RandomApply(GaussianBlur, p=0.5), ToImage, ToDtype), batched by a
  ``DataLoader`` with ``NUM_WORKERS`` worker processes (persistent, started before the
  clock) and shuffling.

Crop scale and ratio, flip, jitter strength 0.8·s (s = 0.5, no hue: the modality does
not jitter hue), jitter and grey probabilities and the blur kernel and σ range come
from the modality object itself. Two image sets: Fashion-MNIST 28×28 grey (blur
switched on, which the modality leaves off below 32 px by default) and the same images
as 32×32 RGB (zero-padded, each tinted by a random colour), where saturation and
grey-scale conversion do work. Differences kept: torchvision jitters brightness,
contrast and saturation in random order, the modality in a fixed order; torchvision
retries a crop box that does not fit, the modality shrinks it.

Images/s = images ÷ seconds for one pass over ``IMAGES`` images. The sides alternate
``ROUNDS`` times; the ratio is the median of the rounds' ratios (sslbench ÷ torchvision).

Run::

    OMP_NUM_THREADS=1 .venv/bin/python -m pytest benchmarks/bench_views.py --benchmark-only -s
"""
from __future__ import annotations

import os
import statistics
import time
from typing import Any

import numpy as np
import pytest
import torch
from conftest import synchronize
from torch.utils.data import DataLoader, Dataset

IMAGES = 2048  # images per timed pass
BATCH = 256  # images per batch, both sides
NUM_WORKERS = 2  # DataLoader worker processes (this CPU has 2 cores)
ROUNDS = int(os.environ.get("SSLBENCH_BENCH_ROUNDS", "3"))
GOAL = 3.0  # sslbench at least 3x the per-sample pipeline's images/s


def tinted_rgb32(images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Grey 28×28 images as 32×32 RGB: zero-padded, each multiplied by its own random colour.

    Shape:
        (N, 1, 28, 28) uint8 → (N, 3, 32, 32) uint8.
    """
    colour = torch.rand(len(images), 3, 1, 1, generator=torch.Generator().manual_seed(seed)) * 0.7 + 0.3
    padded = torch.nn.functional.pad(images.float(), (2, 2, 2, 2))
    return (padded * colour).round().clamp(0, 255).to(torch.uint8)


class PILViews(Dataset):
    """Per-sample pipeline: PIL image → the v2 transform twice → (view 1, view 2)."""

    def __init__(self, images: np.ndarray, transform: Any) -> None:
        self.images, self.transform = images, transform  # images (N, H, W) or (N, H, W, 3) uint8

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        from PIL import Image

        image = Image.fromarray(self.images[i])
        return self.transform(image), self.transform(image)


def torchvision_transform(modality: Any, size: int) -> Any:
    """The v2 pipeline at the modality's own parameters."""
    from torchvision.transforms import v2

    s = 0.8 * modality.jitter
    steps = [v2.RandomResizedCrop(size, scale=modality.crop_scale, ratio=modality.crop_ratio, antialias=True)]
    if modality.flip:
        steps.append(v2.RandomHorizontalFlip())
    steps += [v2.RandomApply([v2.ColorJitter(brightness=s, contrast=s, saturation=s)], p=modality.jitter_prob),
              v2.RandomGrayscale(p=modality.grayscale_prob)]
    if modality.blur_kernel:
        steps.append(v2.RandomApply([v2.GaussianBlur(modality.blur_kernel, sigma=(0.1, 2.0))], p=0.5))
    return v2.Compose([*steps, v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])


def sslbench_pass(split: Any, modality: Any, device: torch.device) -> tuple[float, torch.Tensor]:
    """Seconds for two views of every image of ``split``, batched; and the last batch's first view."""
    order = torch.randperm(len(split))
    start = time.perf_counter()
    for index in order.split(BATCH):
        batch = {k: v.to(device, non_blocking=True) for k, v in split.batch(index).items()}
        a, _ = modality.views(batch)
    synchronize(device)
    return time.perf_counter() - start, a["image"].cpu()


def torchvision_pass(loader: DataLoader) -> tuple[float, torch.Tensor]:
    """Seconds for one pass of the (already started) loader; and the last batch's first view."""
    start = time.perf_counter()
    for a, _ in loader:
        pass
    return time.perf_counter() - start, a


@pytest.fixture(scope="module")
def fashion(registry: Any, data_ctx: Any) -> Any:
    """Fashion-MNIST's first ``IMAGES`` pretraining images (uint8) and the dataset's info."""
    spec = registry.get("dataset", "fashion-mnist")
    ds = spec.build(data_ctx, spec.options(pretrain_size=IMAGES, train_size=10, test_size=10))
    return ds.pretrain.data["image"], ds.pretrain.finish, ds.info


@pytest.mark.parametrize("images", ["fashion-mnist-28-grey", "fashion-mnist-32-rgb"])
def test_views_images_per_s(images, benchmark, registry, fashion, device, record):
    from sslbench import TensorSplit

    raw, finish, info = fashion
    if images.endswith("rgb"):
        raw = tinted_rgb32(raw)
        info = {**info, "channels": 3, "image_size": 32}
    image_spec = registry.get("modality", "image")
    modality = image_spec.build(info, image_spec.options(blur="on"))  # blur in both pipelines, also at 28 px
    split = TensorSplit({"image": raw}, finish=finish)
    pixels = raw.permute(0, 2, 3, 1).numpy() if raw.shape[1] == 3 else raw[:, 0].numpy()
    loader = DataLoader(PILViews(pixels, torchvision_transform(modality, raw.shape[-1])), batch_size=BATCH,
                        shuffle=True, num_workers=NUM_WORKERS, persistent_workers=True)
    torchvision_pass(loader)  # start the workers and warm both sides up
    sslbench_pass(split, modality, device)
    ours, theirs, views = [], [], {}

    def one_round() -> None:
        for side in ("ours", "theirs") if len(ours) % 2 else ("theirs", "ours"):
            seconds, views[side] = sslbench_pass(split, modality, device) if side == "ours" else torchvision_pass(loader)
            (ours if side == "ours" else theirs).append(len(split) / seconds)

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    ratio = statistics.median(o / t for o, t in zip(ours, theirs))
    stats = {side: {"mean": round(v.mean().item(), 4), "std": round(v.std().item(), 4)} for side, v in views.items()}
    record(
        f"views-{images}",
        f"{images} B={BATCH}: sslbench {statistics.median(ours):.0f} images/s (two views), torchvision per-sample PIL "
        f"with {NUM_WORKERS} workers {statistics.median(theirs):.0f} images/s, ratio {ratio:.1f}x (goal >= {GOAL}x)",
        images=images, shape=list(raw.shape[1:]), batch_size=BATCH, num_workers=NUM_WORKERS, images_per_pass=len(split),
        sslbench_images_per_s=[round(x) for x in ours], torchvision_images_per_s=[round(x) for x in theirs],
        ratio=round(ratio, 2), view_pixel_stats=stats, goal=f"ratio >= {GOAL}", met=ratio >= GOAL,
    )
    # Same augmentations: the views' pixel statistics agree (a loose check of the recipe, not of the RNG).
    assert stats["ours"]["mean"] == pytest.approx(stats["theirs"]["mean"], abs=0.05)
