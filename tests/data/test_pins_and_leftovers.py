"""The spec, not the cache's own manifest, is the authority on file hashes; prepare leftovers are removed."""

from __future__ import annotations

import hashlib
import json

import pytest

from sslbench.data import MANIFEST_NAME, DataSpec, DataUnavailable, prepare

FILES = {"a.csv": b"x,y\n1,2\n" * 100}
UPPER = b"X,Y\n1,2\n" * 100


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upper(folder):
    (folder / "A.CSV").write_bytes((folder / "a.csv").read_bytes().upper())
    (folder / "a.csv").unlink()


def spec_with(source, *, finalize=None, extracted=None):
    return DataSpec(name="toy", sources=(source,), files=tuple(FILES), license="CC0",
                    file_sha256={n: sha(d) for n, d in FILES.items()}, finalize=finalize, extracted_sha256=extracted)


def forge(folder, name, data):
    """Edit a cached file and its hash in the cache's own manifest, consistently."""
    (folder / name).write_bytes(data)
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    manifest["files"][name] = {"sha256": sha(data), "size": len(data)}
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))


def test_a_cached_file_forged_with_its_manifest_hash_is_refused(root, make_download):
    fake = make_download(FILES)
    spec = spec_with(fake.source)
    prepared = prepare(spec, root=root, progress=False)
    forge(prepared.folder, "a.csv", b"x,y\n6,6\n" * 100)
    again = prepare(spec, root=root, progress=False)
    assert fake.calls == 2 and again.path("a.csv").read_bytes() == FILES["a.csv"]


def test_extracted_files_are_pinned_in_the_spec_and_checked_at_every_load(root, make_download):
    fake = make_download(FILES)
    spec = spec_with(fake.source, finalize=upper, extracted={"A.CSV": sha(UPPER)})
    prepared = prepare(spec, root=root, progress=False)
    assert prepared.path("A.CSV").read_bytes() == UPPER
    forge(prepared.folder, "A.CSV", b"forged\n")
    again = prepare(spec, root=root, progress=False)
    assert fake.calls == 2 and again.path("A.CSV").read_bytes() == UPPER


def test_an_extracted_file_that_misses_its_pin_fails_the_source(root, make_download):
    spec = spec_with(make_download(FILES).source, finalize=upper, extracted={"A.CSV": sha(b"other")})
    with pytest.raises(DataUnavailable, match="A.CSV"):
        prepare(spec, root=root, progress=False)


def test_extracted_pins_without_finalize_are_a_spec_error(make_download):
    with pytest.raises(ValueError, match="without finalize"):
        spec_with(make_download(FILES).source, extracted={"a.csv": sha(b"")})


def test_staging_folders_of_a_killed_prepare_are_removed_by_the_next_load(root, make_download):
    spec = spec_with(make_download(FILES).source)
    prepare(spec, root=root, progress=False)
    for leftover in (root / ".toy.partial-abc123", root / ".toy.old-deadbeef"):
        (leftover / "out").mkdir(parents=True)
        (leftover / "out" / "a.csv").write_bytes(b"half")
    prepare(spec, root=root, progress=False)  # a good cached copy: returns early, and still cleans
    assert sorted(p.name for p in root.iterdir()) == [".toy.lock", "toy"]
