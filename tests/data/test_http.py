"""download_from: the canonical-download helper, tried offline with file:// URLs."""

from __future__ import annotations

import hashlib

import pytest

from sslbench.data import DataSpec, DataUnavailable, download_from, prepare

FILES = {"train.gz": b"\x1f\x8b" + bytes(range(200)) * 50, "test.gz": b"\x1f\x8b tiny"}


@pytest.fixture
def mirror(tmp_path):
    folder = tmp_path / "mirror"
    folder.mkdir()
    for name, data in FILES.items():
        (folder / name).write_bytes(data)
    return folder.as_uri() + "/"


def spec_with(source) -> DataSpec:
    pins = {n: hashlib.sha256(d).hexdigest() for n, d in FILES.items()}
    return DataSpec(name="web", sources=(source,), files=tuple(FILES), file_sha256=pins, license="CC0")


def test_fetches_each_file_from_the_first_mirror_that_has_it(root, tmp_path, mirror):
    dead = (tmp_path / "dead").as_uri() + "/"
    source = download_from([dead, mirror], list(FILES), "example mirrors")
    prepared = prepare(spec_with(source), root=root)
    assert {n: prepared.path(n).read_bytes() for n in FILES} == FILES
    assert source.urls == (dead, mirror)


def test_all_mirrors_failing_names_every_url(root, tmp_path):
    dead = (tmp_path / "dead").as_uri() + "/"
    with pytest.raises(DataUnavailable, match=f"{dead}train.gz"):
        prepare(spec_with(download_from([dead], list(FILES), "dead mirror")), root=root)
    assert [p.name for p in root.iterdir()] == [".web.lock"]
