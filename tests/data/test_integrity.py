"""Checksums: a bad cached or delivered file is refused, named, and fetched again."""

from __future__ import annotations

import dataclasses
import hashlib
import logging

import pytest

from sslbench.data import MANIFEST_NAME, DataSpec, DataUnavailable, LocalPath, prepare

GOOD = {"digits.csv": b"0,1,2,3\n" * 500}
PIN = {"digits.csv": hashlib.sha256(GOOD["digits.csv"]).hexdigest()}


def spec_with(*sources, pins=PIN) -> DataSpec:
    return DataSpec(name="digits", sources=tuple(sources), files=tuple(GOOD), file_sha256=pins, license="CC0")


def test_corrupt_cached_file_is_refused_named_and_refetched(root, make_download, caplog):
    fake = make_download(GOOD)
    first = prepare(spec_with(fake.source), root=root)
    cached = first.path("digits.csv")
    cached.write_bytes(cached.read_bytes().replace(b"3", b"8"))  # same size: only the hash tells
    with caplog.at_level(logging.WARNING, logger="sslbench.data"):
        again = prepare(spec_with(fake.source), root=root)
    assert "refusing the cached copy of digits: digits.csv does not match" in caplog.text
    assert fake.calls == 2 and cached.read_bytes() == GOOD["digits.csv"]
    assert again.content_sha256 == first.content_sha256 and again.fetched_now


@pytest.mark.parametrize("damage", ["delete file", "delete manifest", "garble manifest"])
def test_damaged_cache_is_rebuilt(root, make_download, damage):
    fake = make_download(GOOD)
    folder = prepare(spec_with(fake.source), root=root).folder
    if damage == "delete file":
        (folder / "digits.csv").unlink()
    elif damage == "delete manifest":
        (folder / MANIFEST_NAME).unlink()
    else:
        (folder / MANIFEST_NAME).write_text("{not json")
    prepare(spec_with(fake.source), root=root)
    assert fake.calls == 2 and (folder / "digits.csv").read_bytes() == GOOD["digits.csv"]


def test_delivered_file_with_wrong_hash_is_refused_and_next_source_used(root, tmp_path, make_download, caplog):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "digits.csv").write_bytes(b"tampered")
    fake = make_download(GOOD)
    with caplog.at_level(logging.WARNING, logger="sslbench.data"):
        prepared = prepare(spec_with(LocalPath(path=str(bad)), fake.source), root=root)
    assert prepared.source == "download (example calls)"
    assert (
        f"digits.csv: SHA-256 is {hashlib.sha256(b'tampered').hexdigest()}, expected {PIN['digits.csv']}" in caplog.text
    )


def test_only_source_with_wrong_hash_fails_with_the_reason(root, make_download):
    fake = make_download({"digits.csv": b"tampered"})
    with pytest.raises(DataUnavailable, match=r"failed: digits.csv: SHA-256 is [0-9a-f]{64}, expected"):
        prepare(spec_with(fake.source), root=root)
    assert [p.name for p in root.iterdir()] == [".digits.lock"]


def test_changed_pin_in_spec_invalidates_the_cache(root, make_download):
    old = make_download({"digits.csv": b"version 1"}, name="v1")
    prepare(spec_with(old.source, pins=None), root=root)
    new = make_download(GOOD, name="v2")
    prepared = prepare(spec_with(new.source), root=root)  # the spec now pins the new bytes
    assert prepared.fetched_now and prepared.path("digits.csv").read_bytes() == GOOD["digits.csv"]


def test_changed_file_list_invalidates_the_cache(root, make_download):
    fake = make_download({**GOOD, "extra.csv": b"1"})
    prepare(spec_with(fake.source), root=root)
    bigger = dataclasses.replace(spec_with(fake.source), files=("digits.csv", "extra.csv"))
    assert prepare(bigger, root=root).fetched_now and fake.calls == 2
