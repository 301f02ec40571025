"""CIFAR-10, CIFAR-100 and STL-10 as their canonical archives, through ``sslbench.data``: torch-free.

Each dataset is one ``.tar.gz`` from its authors' site, the same file (URL, size and MD5)
that torchvision's ``CIFAR10`` / ``CIFAR100`` / ``STL10`` classes download. Sources, in
order: a folder already holding the archive (the ``path`` option, or ``$SSLBENCH_<NAME>_DIR``;
torchvision's ``root`` works, it keeps the archive), then the authors' URL.

Pins: the authors and torchvision publish MD5s only, and the archives cannot be fetched on
the machines this project is built on, so no SHA-256 was computed (nothing here is a pin
we could not verify). ``finalize`` checks the archive's size and MD5 against the published
ones before it reads a byte of it, extracts the expected members (and nothing else) and
drops the archive; the cache's manifest then records every extracted file's SHA-256, which
each later load re-checks.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from sslbench.data import (
    DataError,
    DataSpec,
    DataUnavailable,
    LocalPath,
    SourceFailed,
    download_from,
)


@dataclass(frozen=True)
class Archive:
    """A dataset's canonical archive and the members sslbench keeps from it."""

    name: str  # the dataset's (and cache folder's) name, e.g. "cifar10"
    url: str  # the authors' URL (torchvision's ``url``)
    md5: str  # torchvision's ``tgz_md5``: the only published checksum
    size: int  # bytes of the archive (the server's Content-Length)
    folder: str  # the archive's top folder, e.g. "cifar-10-batches-py"
    members: tuple[str, ...]  # files under ``folder`` to keep
    env: str  # environment variable naming a folder that holds the archive
    license: str
    citation: str
    homepage: str
    extracted: str  # human size once extracted

    @property
    def filename(self) -> str:
        """The archive's file name, e.g. ``cifar-10-python.tar.gz``."""
        return self.url.rsplit("/", 1)[1]

    @property
    def base_url(self) -> str:
        return self.url.rsplit("/", 1)[0] + "/"


_NO_LICENCE = "none stated by the authors (research use); cite "

CIFAR10 = Archive(
    name="cifar10",
    url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    md5="c58f30108f718f92721af3b95e74349a",
    size=170_498_071,
    folder="cifar-10-batches-py",
    members=("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch",
             "batches.meta"),
    env="SSLBENCH_CIFAR10_DIR",
    license=_NO_LICENCE + "Krizhevsky 2009",
    citation="Krizhevsky, 2009, Learning Multiple Layers of Features from Tiny Images (tech. report, U. Toronto)",
    homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
    extracted="186 MB",
)

CIFAR100 = Archive(
    name="cifar100",
    url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    md5="eb9058c3a382ffc7106e4002c42a8d85",
    size=169_001_437,
    folder="cifar-100-python",
    members=("train", "test", "meta"),
    env="SSLBENCH_CIFAR100_DIR",
    license=_NO_LICENCE + "Krizhevsky 2009",
    citation="Krizhevsky, 2009, Learning Multiple Layers of Features from Tiny Images (tech. report, U. Toronto)",
    homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
    extracted="186 MB",
)

STL10 = Archive(
    name="stl10",
    url="http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz",
    md5="91f7769df0f17e558f3565bffb0c7dfb",
    size=2_640_397_119,
    folder="stl10_binary",
    members=("train_X.bin", "train_y.bin", "test_X.bin", "test_y.bin", "unlabeled_X.bin", "class_names.txt"),
    env="SSLBENCH_STL10_DIR",
    license=_NO_LICENCE + "Coates et al. 2011; images from ImageNet",
    citation="Coates, Lee & Ng, 2011, An Analysis of Single-Layer Networks in Unsupervised Feature Learning (AISTATS)",
    homepage="https://cs.stanford.edu/~acoates/stl10/",
    extracted="3.1 GB",  # 113,000 images of 27,648 bytes
)

ARCHIVES: dict[str, Archive] = {a.name: a for a in (CIFAR10, CIFAR100, STL10)}
"""The archives by dataset name; loaders look them up here at call time (tests swap in their own)."""


def md5_file(path: Path) -> str:
    """Hex MD5 of a file, read in 1 MiB chunks (only to compare with a published MD5)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_archive(archive: Archive, path: Path) -> None:
    """Raise ``SourceFailed`` (one line) unless ``path`` has the archive's published size and MD5."""
    size = path.stat().st_size
    if size != archive.size:
        how = "truncated (an interrupted download?)" if size < archive.size else "not the published archive"
        raise SourceFailed(f"{archive.filename} is {size:,} bytes, the published archive {archive.size:,}: {how}")
    actual = md5_file(path)
    if actual != archive.md5:
        raise SourceFailed(f"{archive.filename}: MD5 is {actual}, the published archive's is {archive.md5}")


def extract_members(archive: Archive, path: Path, dest: Path) -> None:
    """Stream the expected members of the ``.tar.gz`` at ``path`` into ``dest/<folder>/``.

    Only regular files named in ``archive.members`` are written, under names chosen
    here (never the archive's own paths), so a hostile archive cannot write elsewhere.
    Raises ``SourceFailed`` (one line) on a damaged or incomplete archive.
    """
    wanted = {f"{archive.folder}/{m}": m for m in archive.members}
    out = dest / archive.folder
    out.mkdir(parents=True, exist_ok=True)
    found: set[str] = set()
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                if name not in wanted or not member.isfile():
                    continue
                source = tar.extractfile(member)
                assert source is not None  # a regular file
                with source, open(out / wanted[name], "wb") as target:
                    shutil.copyfileobj(source, target, 1 << 20)
                found.add(name)
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        reason = " ".join(str(e).split()) or type(e).__name__
        raise SourceFailed(f"{archive.filename} is not a complete .tar.gz archive ({reason})") from e
    missing = sorted(wanted[n] for n in set(wanted) - found)
    if missing:
        raise SourceFailed(f"{archive.filename} lacks {archive.folder}/{', '.join(missing)}")


def finalize_archive(archive: Archive, folder: Path) -> None:
    """``DataSpec.finalize``: check the archive, extract its members, drop it."""
    path = folder / archive.filename
    check_archive(archive, path)
    extract_members(archive, path, folder)
    os.unlink(path)


def archive_spec(archive: Archive) -> DataSpec:
    """The ``DataSpec`` of a canonical archive: a local folder, then the authors' URL."""
    return DataSpec(
        name=archive.name,
        sources=(
            LocalPath(env=archive.env),
            download_from([archive.base_url], [archive.filename], f"the authors' archive, {archive.size / 1e6:,.0f} MB"),
        ),
        files=(archive.filename,),
        license=archive.license,
        size=f"{archive.size / 1e6:,.0f} MB download, {archive.extracted} extracted",
        homepage=archive.homepage,
        finalize=functools.partial(finalize_archive, archive),
    )


def unavailable_line(archive: Archive, err: DataUnavailable) -> str:
    """One line for a dataset no source could provide: why each tried source failed, and both ways to get it."""
    failed = [f"{a.label}: {' '.join(a.reason.split())}" for a in err.attempts if a.outcome == "failed"]
    why = "; ".join(failed) or "no folder given"
    return (f"dataset {archive.name!r} is not in the cache ({why}); get it either online (sslbench downloads "
            f"{archive.url}, {archive.size / 1e6:,.0f} MB, MD5-checked) or offline: put {archive.filename} in a folder "
            f"and give it as path = \"/that/folder\" under [datasets.{archive.name}] (or set {archive.env}, or run "
            f"'sslbench data prepare {archive.name} --path /that/folder')")


def prepare_archive(archive: Archive, *, root: Path | None, path: str | None, progress: bool):
    """``sslbench.data.prepare`` for an archive, with a one-line ``DataError`` when nothing works.

    Returns the ``Prepared`` folder, which holds ``<archive.folder>/<member>`` for each member.
    """
    from sslbench.data import prepare

    local = Path(path).expanduser() if path else None
    quiet = logging.getLogger("sslbench.data.prepare")  # its per-source warnings repeat what the one line says
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        return prepare(archive_spec(archive), root=root, local_path=local, progress=progress)
    except DataUnavailable as err:
        raise DataError(unavailable_line(archive, err)) from None
    finally:
        quiet.setLevel(level)
