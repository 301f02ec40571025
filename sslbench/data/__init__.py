"""sslbench's data layer: materialise dataset files into a verified cache.

Modality-agnostic: a plugin declares a :class:`DataSpec` (files, pinned hashes,
sources in order of preference) and calls :func:`prepare`, which returns the folder
holding the files. See ``prepare.py`` for the steps and ``spec.py`` for the sources.
"""

from __future__ import annotations

from .cache import ROOT_ENV, CacheStatus, cache_root, status
from .errors import Attempt, ChecksumMismatch, DataError, DataUnavailable, SourceFailed, SourceSkipped
from .http import download_from
from .integrity import sha256_file
from .prepare import Prepared, prepare
from .spec import MANIFEST_NAME, DataSpec, Download, LocalPath, Source, SystemFiles, WheelFiles
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
    "download_from",
    "prepare",
    "sha256_file",
    "status",
]
