"""CIFAR-10/100 and STL-10 through the data cache, on small archives in the authors' formats (offline)."""
from __future__ import annotations

import dataclasses
import hashlib

import pytest
import torch
from sslbench_image import archives, canonical
from sslbench_image.options import CIFAR10Options, CIFAR100Options, STL10Options
from sslbench_image.rowstore import ROW_KEY

from sslbench import DatasetContext
from sslbench.data import DataError


def ctx(root) -> DatasetContext:
    return DatasetContext(data_root=root, progress=False)


def all_rows(split) -> dict:
    return split.batch(torch.arange(len(split)))


def test_published_pins_are_torchvisions():
    """Same URLs and MD5s as torchvision's own downloaders (the only checksums the authors publish)."""
    from torchvision.datasets import CIFAR10, CIFAR100, STL10

    for ours, theirs in ((archives.CIFAR10, CIFAR10), (archives.CIFAR100, CIFAR100), (archives.STL10, STL10)):
        assert (ours.url, ours.md5, ours.filename, ours.folder) == (theirs.url, theirs.tgz_md5, theirs.filename,
                                                                    theirs.base_folder)


def test_cifar10_from_a_folder_matches_torchvisions_reader(fake_archive, tmp_path, monkeypatch):
    folder, _ = fake_archive("cifar10")
    data = canonical.load_cifar10(ctx(tmp_path / "cache"), CIFAR10Options(path=str(folder), valid_size=20))
    # torchvision's CIFAR10 reads the extracted cache folder the same way (its MD5 list is the real archive's)
    from torchvision.datasets import CIFAR10, cifar

    monkeypatch.setattr(CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(cifar, "check_integrity", lambda *a, **k: True)
    theirs = CIFAR10(str(tmp_path / "cache" / "cifar10"), train=False)
    test = all_rows(data.test)
    assert torch.equal(test["image"], torch.from_numpy(theirs.data).permute(0, 3, 1, 2).float() / 255)
    assert test["label:category"].tolist() == theirs.targets
    assert (len(data.pretrain), len(data.train), len(data.valid), len(data.test)) == (80, 80, 20, 20)
    assert torch.bincount(data.valid.labels["category"]).tolist() == [2] * 10  # class-balanced, carved first
    assert data.info["channels"] == 3 and data.info["image_size"] == 32 and data.info["num_classes"] == 10
    assert not (tmp_path / "cache" / "cifar10" / archives.CIFAR10.filename).exists()  # archive dropped
    # a second load comes from the cache without the folder
    again = canonical.load_cifar10(ctx(tmp_path / "cache"), CIFAR10Options(valid_size=20))
    assert again.fingerprint == data.fingerprint


def test_cifar100_reads_fine_labels(fake_archive, tmp_path):
    folder, batches = fake_archive("cifar100", per_class=2)
    data = canonical.load_cifar100(ctx(tmp_path / "cache"), CIFAR100Options(path=str(folder), valid_size=100))
    assert data.info["num_classes"] == 100
    assert torch.equal(data.test.labels["category"], torch.tensor(batches["test"]["fine_labels"]))
    first = torch.from_numpy(batches["test"]["data"][0].reshape(3, 32, 32))  # red plane, then green, then blue
    assert torch.equal(all_rows(data.test)["image"][0], first.float() / 255)


def test_wrong_checksum_is_refused_in_one_line_and_nothing_is_cached(fake_archive, tmp_path, monkeypatch):
    folder, _ = fake_archive("cifar10")
    monkeypatch.setitem(archives.ARCHIVES, "cifar10", dataclasses.replace(archives.ARCHIVES["cifar10"], md5="0" * 32))
    with pytest.raises(DataError) as err:
        canonical.load_cifar10(ctx(tmp_path / "cache"), CIFAR10Options(path=str(folder), valid_size=20))
    message = str(err.value)
    assert "\n" not in message
    assert "MD5 is " in message and "the published archive's is 00000000" in message
    assert not (tmp_path / "cache" / "cifar10").exists()


def test_a_truncated_archive_is_refused_by_its_size_and_by_its_reader(fake_archive, tmp_path, monkeypatch):
    folder, _ = fake_archive("cifar10")
    path = folder / "cifar-10-python.tar.gz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError) as err:  # pinned to the whole archive: its size gives it away
        canonical.load_cifar10(ctx(tmp_path / "cache"), CIFAR10Options(path=str(folder), valid_size=20))
    assert "\n" not in str(err.value) and "truncated (an interrupted download?)" in str(err.value)
    # pinned to the truncated bytes themselves: the tar.gz reader refuses it
    monkeypatch.setitem(archives.ARCHIVES, "cifar10", dataclasses.replace(
        archives.ARCHIVES["cifar10"], md5=hashlib.md5(path.read_bytes()).hexdigest(), size=path.stat().st_size))
    with pytest.raises(DataError) as err:
        canonical.load_cifar10(ctx(tmp_path / "cache"), CIFAR10Options(path=str(folder), valid_size=20))
    assert "\n" not in str(err.value) and "is not a complete .tar.gz archive" in str(err.value)
    assert not (tmp_path / "cache" / "cifar10").exists()


def test_without_network_one_line_says_both_ways(fake_archive, tmp_path):
    fake_archive("cifar100")  # pins a URL on a closed local port: the download fails at once
    with pytest.raises(DataError) as err:
        canonical.load_cifar100(ctx(tmp_path / "cache"), CIFAR100Options(valid_size=100))
    message = str(err.value)
    assert "\n" not in message
    assert "online (sslbench downloads http://127.0.0.1:9/cifar-100-python.tar.gz" in message
    assert 'put cifar-100-python.tar.gz in a folder and give it as path = "/that/folder" under [datasets.cifar100]' \
        in message and "SSLBENCH_CIFAR100_DIR" in message


def test_stl10_pretrains_on_unlabeled_and_reads_images_from_disk(fake_archive, tmp_path, monkeypatch):
    folder, made = fake_archive("stl10")
    data = canonical.load_stl10(ctx(tmp_path / "cache"), STL10Options(path=str(folder), valid_size=10))
    assert (len(data.pretrain), len(data.train), len(data.valid), len(data.test)) == (30, 30, 10, 20)
    assert set(data.pretrain.data) == {ROW_KEY}  # row numbers in memory, pixels on disk
    assert torch.equal(all_rows(data.pretrain)["image"], torch.from_numpy(made["unlabeled"]).float() / 255)
    valid = all_rows(data.valid)
    assert torch.bincount(valid["label:category"]).tolist() == [1] * 10
    # torchvision's STL10 reader on the same extracted files agrees on images and labels
    from torchvision.datasets import STL10

    monkeypatch.setattr(STL10, "_check_integrity", lambda self: True)
    theirs = STL10(str(tmp_path / "cache" / "stl10"), split="test")
    test = all_rows(data.test)
    assert torch.equal(test["image"], torch.from_numpy(theirs.data).float() / 255)
    assert test["label:category"].tolist() == theirs.labels.tolist()
    mean = torch.from_numpy(made["unlabeled"]).double().div(255).mean(dim=(0, 2, 3))
    assert torch.allclose(torch.tensor(data.info["mean"]).double(), mean, atol=1e-6)


def test_stl10_pretrain_size_is_a_fixed_draw_of_the_unlabeled_images(fake_archive, tmp_path):
    folder, made = fake_archive("stl10")
    options = STL10Options(path=str(folder), pretrain_size=12, valid_size=10, train_size=10, test_size=10)
    a = canonical.load_stl10(ctx(tmp_path / "cache"), options)
    b = canonical.load_stl10(ctx(tmp_path / "cache"), options)
    rows = a.pretrain.data[ROW_KEY]
    assert len(rows) == 12 and torch.equal(rows, b.pretrain.data[ROW_KEY]) and len(rows.unique()) == 12
    assert torch.equal(a.pretrain.batch(torch.tensor([3, 0]))["image"],
                       torch.from_numpy(made["unlabeled"][rows[[3, 0]].numpy()]).float() / 255)


def test_options_refuse_out_of_range_sizes():
    with pytest.raises(ValueError, match="valid_size: must be 0 .* from 100 "):
        CIFAR100Options(valid_size=50)
    with pytest.raises(ValueError, match="pretrain_size"):
        STL10Options(pretrain_size=0)


def test_sslbench_run_without_the_archive_exits_2_with_one_line_and_writes_nothing(fake_archive, tmp_path, capsys,
                                                                                    monkeypatch):
    from sslbench.cli import main

    fake_archive("cifar10")  # its download is a closed local port; no path given
    monkeypatch.setenv("SSLBENCH_DATA", str(tmp_path / "cache"))
    config = tmp_path / "c.toml"
    config.write_text('[run]\nsteps = 1\nbatch_size = 4\n[grid]\ndatasets = ["cifar10"]\ntasks = ["simclr"]\n'
                      'models = ["cnn-small"]\nevaluators = ["knn"]\n')
    assert main(["run", str(config), "--out", str(tmp_path / "out"), "--device", "cpu", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("sslbench: error: dataset 'cifar10' is not in the cache")
    assert not (tmp_path / "out").exists()
