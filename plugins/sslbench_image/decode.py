"""Decoding image files into fixed-size uint8 rows of a ``.npy`` file, in worker processes: torch-free.

Kept apart from ``imagefolder.py`` so that the decoding processes import only PIL and
numpy (a spawned worker that imported torch would spend seconds starting).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def decode_image(path: Path, size: int) -> np.ndarray:
    """One file as RGB, shorter side resized to ``size`` (bilinear), centre-cropped to size × size.

    The geometry is torchvision's ``Resize(size)`` then ``CenterCrop(size)`` on a PIL image
    (long side ``int(size · long / short)``, crop offset ``int(round((d − size) / 2))``).
    Grey, palette, CMYK and RGBA images are converted with ``Image.convert("RGB")``, which
    drops alpha, as torchvision's ``ImageFolder`` loader does. A JPEG is decoded at the
    smallest DCT scale that still covers ``size`` (``Image.draft``, what PIL's ``thumbnail``
    does), which is much faster for large photos and changes pixels only slightly.

    Shape: returns (3, size, size) uint8.
    """
    with Image.open(path) as image:
        image.draft("RGB", (size, size))
        rgb = image.convert("RGB")
    w, h = rgb.size
    if (w <= h and w == size) or (h <= w and h == size):
        resized = rgb
    elif w <= h:
        resized = rgb.resize((size, int(size * h / w)), Image.Resampling.BILINEAR)
    else:
        resized = rgb.resize((int(size * w / h), size), Image.Resampling.BILINEAR)
    w, h = resized.size
    left, top = round((w - size) / 2.0), round((h - size) / 2.0)
    cropped = resized.crop((left, top, left + size, top + size))
    return np.ascontiguousarray(np.asarray(cropped, dtype=np.uint8).transpose(2, 0, 1))


def decode_rows(npy: str, root: str, jobs: list[tuple[int, str]], size: int) -> tuple[int, str, str] | None:
    """Decode ``jobs`` (row, file relative to ``root``) into rows of the ``.npy`` at ``npy``.

    Returns ``None``, or ``(row, file, reason)`` for the first file that cannot be read
    (the rest of the chunk is not decoded).
    """
    rows = np.load(npy, mmap_mode="r+")
    try:
        for row, rel in jobs:
            try:
                rows[row] = decode_image(Path(root) / rel, size)
            except Exception as e:  # noqa: BLE001  # PIL raises many kinds (UnidentifiedImageError, OSError, SyntaxError, ...)
                return row, rel, " ".join(f"{type(e).__name__}: {e}".split())
        rows.flush()
        return None
    finally:
        del rows
