"""``imagefolder``: a folder of your images, one sub-folder per class, decoded once into the cache.

Layout: ``path/<class>/**/*.{png,jpg,jpeg,webp,bmp}`` (any depth below the class folder,
suffixes in any case), or ``path/train/<class>/…`` and ``path/test/<class>/…`` when both
``train`` and ``test`` exist: then they are the train and test splits, else a fixed
stratified ``test_fraction`` of each class is the test split. ``valid`` is carved from the
training images as for every built-in dataset (``carve_valid``, ``VALID_SEED``).

First load: every file is decoded (``decode.decode_image``: RGB, shorter side resized to
``size``, centre crop) in ``workers`` processes straight into a ``.npy`` file under
``<data root>/artifacts/image/imagefolder-<key>/`` (``numpy.lib.format.open_memmap``),
with a progress bar; a file that cannot be read stops it with one line naming the file.
The key hashes the folder's path, the size and every file's name, byte size and mtime, so
adding, editing or removing an image decodes again. The folder is written under a
temporary name and renamed when complete, so a killed run leaves no half-written cache.

Later loads read only the labels; batches are read from the ``.npy`` file as they are
gathered (``rowstore``), so a folder larger than memory works.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from sslbench import DatasetContext, LoadedDataset
from sslbench.data import DataError
from sslbench.splits import carve_valid, stratified_subset
from sslbench_image.datasets import SPLIT_SEED, info_from_moments
from sslbench_image.decode import decode_rows
from sslbench_image.options import ImageFolderOptions
from sslbench_image.rowstore import RowFile, row_split, store_moments

log = logging.getLogger(__name__)

SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
FORMAT = 1  # bump when the stored layout changes
CHUNK = 64  # images per decoding job


@dataclass(frozen=True)
class Listing:
    """The image files of a folder, their classes and (with train/ and test/) which are test images."""

    root: Path
    files: list[str]  # relative to root, sorted within each part
    labels: list[int]
    classes: list[str]
    is_test: list[bool] | None  # None: no train/ and test/ sub-folders


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())


def _classes(folder: Path) -> dict[str, list[Path]]:
    """Class folder name → its image files; folders holding no image are not classes."""
    found = {d.name: _images_under(d) for d in sorted(folder.iterdir()) if d.is_dir() and not d.name.startswith(".")}
    return {name: files for name, files in found.items() if files}


def scan(root: Path) -> Listing:
    """List ``root``'s images; a one-line ``DataError`` when the layout is not one of the two above."""
    allowed = "/".join(s[1:] for s in SUFFIXES)
    if not root.is_dir():
        raise DataError(f"[datasets.imagefolder] path: {root} is not a folder; give a folder with one sub-folder "
                        f"of {allowed} images per class")
    parts = {"train": root / "train", "test": root / "test"}
    split = all(p.is_dir() for p in parts.values())
    by_part = {name: _classes(p) for name, p in parts.items()} if split else {"train": _classes(root)}
    classes = sorted(by_part["train"])
    if len(classes) < 2:
        where = root / "train" if split else root
        raise DataError(f"[datasets.imagefolder] path: {where} has {len(classes)} class folder(s) holding "
                        f"{allowed} images; give at least 2 (path/<class>/*.png, ...)")
    if split and sorted(set(by_part["test"]) - set(classes)):
        extra = ", ".join(sorted(set(by_part["test"]) - set(classes)))
        raise DataError(f"[datasets.imagefolder] path: {root / 'test'} has classes not in {root / 'train'}: {extra}")
    files, labels, is_test = [], [], []
    for part, found in by_part.items():
        for c, name in enumerate(classes):
            for f in found.get(name, []):
                files.append(f.relative_to(root).as_posix())
                labels.append(c)
                is_test.append(part == "test")
    return Listing(root, files, labels, classes, is_test if split else None)


def cache_key(listing: Listing, size: int) -> str:
    """16 hex digits naming the decoded copy: folder, size, and every file's name, byte size and mtime."""
    digest = hashlib.sha256(json.dumps({"root": str(listing.root.resolve()), "size": size, "format": FORMAT}).encode())
    for rel in listing.files:
        st = (listing.root / rel).stat()
        digest.update(f"{rel}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def default_workers() -> int:
    """One decoding process per CPU core this process may use, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


def decode_folder(listing: Listing, folder: Path, size: int, workers: int, progress: bool) -> None:
    """Decode every file of ``listing`` into ``folder/images.npy`` (N, 3, size, size) uint8; write labels and meta.

    Raises a one-line ``DataError`` naming the first file (in listing order) that cannot be read.
    """
    from numpy.lib.format import open_memmap
    from tqdm import tqdm

    n = len(listing.files)
    npy = folder / "images.npy"
    images = open_memmap(npy, mode="w+", dtype=np.uint8, shape=(n, 3, size, size))
    del images  # workers open it themselves; the header is written
    indexed = list(enumerate(listing.files))
    jobs = [indexed[i:i + CHUNK] for i in range(0, n, CHUNK)]
    start = time.perf_counter()
    log.info("imagefolder: decoding %d images of %s at %d px in %d process(es) into %s",
             n, listing.root, size, max(1, workers), folder)
    errors = []
    with tqdm(total=n, desc=f"imagefolder: decoding {n:,} images at {size} px", unit="img",
              disable=None if progress else True) as bar:
        if workers <= 1:
            for job in jobs:
                errors.append(decode_rows(str(npy), str(listing.root), job, size))
                bar.update(len(job))
                if errors[-1]:
                    break
        else:  # spawned workers: safe after torch's threads started, and they import only PIL and numpy
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                futures = [pool.submit(decode_rows, str(npy), str(listing.root), job, size) for job in jobs]
                for job, future in zip(jobs, futures):
                    errors.append(future.result())
                    bar.update(len(job))
                    if errors[-1]:
                        for f in futures:
                            f.cancel()
                        break
    failed = next((e for e in errors if e), None)
    if failed:
        _, rel, reason = failed
        raise DataError(f"[datasets.imagefolder] cannot read image {listing.root / rel} ({reason}); "
                        "fix or remove the file")
    np.save(folder / "labels.npy", np.asarray(listing.labels, dtype=np.int64))
    meta = {"format": FORMAT, "size": size, "classes": listing.classes, "files": listing.files,
            "is_test": listing.is_test}
    (folder / "meta.json").write_text(json.dumps(meta))
    log.info("imagefolder: decoded %d images at %d px in %.1f s (%d workers) into %s",
             n, size, time.perf_counter() - start, max(1, workers), folder)


def prepared_folder(listing: Listing, cache: Path, size: int, workers: int, progress: bool) -> Path:
    """The decoded copy of ``listing`` under ``cache``, decoding it first when absent."""
    folder = cache / f"imagefolder-{cache_key(listing, size)}"
    if (folder / "meta.json").is_file():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    staging = cache / f".{folder.name}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        decode_folder(listing, staging, size, workers or default_workers(), progress)
        try:
            os.rename(staging, folder)
        except OSError:  # another process finished the same folder first
            if not (folder / "meta.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def open_images(folder: Path) -> RowFile:
    """The decoded images of a prepared folder, as rows read on demand."""
    header = np.load(folder / "images.npy", mmap_mode="r")  # reads the header only
    store = RowFile(folder / "images.npy", int(header.offset), int(header.shape[0]), tuple(header.shape[1:]))
    del header
    store.check_size()
    return store


def split_rows(labels: Tensor, is_test: list[bool] | None, options: ImageFolderOptions) -> dict[str, Tensor]:
    """Row numbers of each split: test (given or a fixed stratified draw), valid carved from train, subsets."""
    n = len(labels)
    if is_test is None:
        test = stratified_subset(labels, round(options.test_fraction * n), seed=SPLIT_SEED)
        mask = torch.ones(n, dtype=torch.bool)
        mask[test] = False
        train = torch.nonzero(mask).flatten()
    else:
        flags = torch.tensor(is_test, dtype=torch.bool)
        train, test = torch.nonzero(~flags).flatten(), torch.nonzero(flags).flatten()
    if len(test) == 0:
        raise DataError("[datasets.imagefolder] path: the test split is empty; add images to test/ or "
                        "raise test_fraction")
    held, rest = carve_valid(labels[train], round(options.valid_fraction * len(train)))
    valid, rest = train[held], train[rest]
    if len(rest) == 0:
        raise DataError("[datasets.imagefolder] valid_fraction leaves no training image; lower it or add images")
    return {
        "pretrain": rest[stratified_subset(labels[rest], options.pretrain_size)],
        "train": rest[stratified_subset(labels[rest], options.train_size)],
        "valid": valid,
        "test": test[stratified_subset(labels[test], options.test_size)],
    }


def load_imagefolder(ctx: DatasetContext, options: ImageFolderOptions) -> LoadedDataset:
    """``DatasetSpec.build`` of ``imagefolder``.

    Shape:
        split["image"] (N, 3, size, size) float in [0, 1] per batch, read from the cache; labels["label"] (N,) long.
    """
    if not options.path:
        raise DataError("[datasets.imagefolder] path: give the folder of your images (one sub-folder per class), "
                        "e.g. path = \"~/photos\"")
    listing = scan(Path(options.path).expanduser())
    folder = prepared_folder(listing, Path(ctx.data_root) / "artifacts" / "image", options.size, options.workers,
                             ctx.progress)
    store = open_images(folder)
    labels = torch.from_numpy(np.load(folder / "labels.npy"))
    rows = split_rows(labels, listing.is_test, options)
    mean, std = store_moments(store, rows["pretrain"])
    sizes = {f"{name}_size": len(r) for name, r in rows.items()}

    def labelled(name: str):
        return row_split(store, rows[name], {"label": labels[rows[name]]})

    digest = hashlib.sha256(json.dumps({"cache": folder.name, **sizes, "options": [
        options.test_fraction, options.valid_fraction]}).encode()).hexdigest()[:16]
    return LoadedDataset(
        pretrain=row_split(store, rows["pretrain"]),
        train=labelled("train"), test=labelled("test"), valid=labelled("valid") if len(rows["valid"]) else None,
        info={**info_from_moments(mean, std, channels=3, image_size=options.size, num_classes=len(listing.classes),
                                  hflip_invariant=options.hflip_invariant),
              **sizes},
        fingerprint=digest,
    )
