"""prepare(): the cache layout, the manifest, warm reuse, source order, finalize."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from sslbench.data import MANIFEST_NAME, DataSpec, LocalPath, SourceFailed, SystemFiles, cache_root, prepare, status
from sslbench.data.integrity import content_sha256

FILES = {"a.csv": b"x,y\n1,2\n" * 100, "sub/b.bin": bytes(range(256)) * 10}


def spec_with(*sources, name="toy", pins=True, finalize=None) -> DataSpec:
    return DataSpec(
        name=name,
        sources=tuple(sources),
        files=tuple(FILES),
        file_sha256={n: hashlib.sha256(d).hexdigest() for n, d in FILES.items()} if pins else None,
        license="CC0",
        finalize=finalize,
    )


def local_folder(tmp_path: Path, files=FILES, name="local") -> Path:
    folder = tmp_path / name
    for n, data in files.items():
        (folder / n).parent.mkdir(parents=True, exist_ok=True)
        (folder / n).write_bytes(data)
    return folder


def test_cold_then_warm(root, make_download):
    fake = make_download(FILES)
    spec = spec_with(fake.source)
    cold = prepare(spec, root=root, progress=False)
    assert cold.folder == root / "toy" and cold.fetched_now
    assert {n: cold.path(n).read_bytes() for n in FILES} == FILES
    assert sorted(p.name for p in root.iterdir()) == [".toy.lock", "toy"]  # no staging left
    manifest = json.loads((cold.folder / MANIFEST_NAME).read_text())
    assert manifest["source"] == "download (example calls)" == cold.source
    assert manifest["files"]["a.csv"] == {
        "sha256": hashlib.sha256(FILES["a.csv"]).hexdigest(),
        "size": len(FILES["a.csv"]),
    }
    assert manifest["content_sha256"] == cold.content_sha256

    warm = prepare(spec, root=root)
    assert not warm.fetched_now and warm.content_sha256 == cold.content_sha256 and fake.calls == 1


def test_content_hash_depends_on_bytes_not_source(root, tmp_path, make_download):
    from_download = prepare(spec_with(make_download(FILES).source), root=root / "one")
    from_local = prepare(spec_with(LocalPath(path=str(local_folder(tmp_path)))), root=root / "two")
    assert from_download.content_sha256 == from_local.content_sha256
    expected = content_sha256({n: hashlib.sha256(d).hexdigest() for n, d in FILES.items()})
    assert from_local.content_sha256 == expected


def test_local_path_wins_over_later_sources(root, tmp_path, make_download, monkeypatch):
    fake = make_download(FILES)
    monkeypatch.setenv("TOY_DIR", str(local_folder(tmp_path)))
    prepared = prepare(spec_with(LocalPath(env="TOY_DIR"), fake.source), root=root)
    assert prepared.source == "local folder $TOY_DIR" and fake.calls == 0


def test_local_path_option_is_tried_first_and_overrides_env(root, tmp_path, make_download, monkeypatch):
    monkeypatch.setenv("TOY_DIR", str(tmp_path / "nowhere"))
    fake = make_download(FILES)
    given = local_folder(tmp_path, name="given")
    prepared = prepare(spec_with(fake.source, LocalPath(env="TOY_DIR")), root=root, local_path=given)
    assert prepared.source == f"local folder {given}" and fake.calls == 0


def test_unset_env_falls_through_to_next_source(root, make_download):
    fake = make_download(FILES)
    prepared = prepare(spec_with(LocalPath(env="TOY_DIR_UNSET"), fake.source), root=root)
    assert prepared.source == "download (example calls)" and fake.calls == 1


def test_system_files_with_renames(root, tmp_path):
    system = local_folder(tmp_path, {"data/A.CSV": FILES["a.csv"], "B.BIN": FILES["sub/b.bin"]}, "usr-share")
    source = SystemFiles(root=str(system), files={"data/A.CSV": "a.csv", "B.BIN": "sub/b.bin"}, apt_package="toy-data")
    prepared = prepare(spec_with(source), root=root)
    assert prepared.source == "system package toy-data"
    assert (prepared.folder / "sub" / "b.bin").read_bytes() == FILES["sub/b.bin"]


def test_only_the_declared_files_are_kept(root, tmp_path, make_download):
    fake = make_download({**FILES, "junk.tmp": b"junk"})
    prepared = prepare(spec_with(fake.source), root=root)
    assert not (prepared.folder / "junk.tmp").exists()


def test_finalize_runs_once_in_staging_and_may_reshape(root, make_download):
    seen = []

    def finalize(folder: Path) -> None:
        seen.append(folder)
        assert folder != root / "toy"  # runs before the rename into place
        (folder / "derived.txt").write_text(f"a.csv has {(folder / 'a.csv').stat().st_size} bytes")
        (folder / "sub" / "b.bin").unlink()

    fake = make_download(FILES)
    prepared = prepare(spec_with(fake.source, finalize=finalize), root=root)
    prepare(spec_with(fake.source, finalize=finalize), root=root)
    assert len(seen) == 1 and not seen[0].exists()
    assert (prepared.folder / "derived.txt").read_text() == f"a.csv has {len(FILES['a.csv'])} bytes"
    assert not (prepared.folder / "sub" / "b.bin").exists()
    manifest = json.loads((prepared.folder / MANIFEST_NAME).read_text())
    assert sorted(manifest["files"]) == ["a.csv", "derived.txt"] and sorted(manifest["fetched"]) == sorted(FILES)


def test_finalize_rejecting_data_moves_to_next_source(root, tmp_path, make_download):
    def finalize(folder: Path) -> None:
        if (folder / "a.csv").read_bytes() != FILES["a.csv"]:
            raise SourceFailed("a.csv does not parse")

    bad = local_folder(tmp_path, {**FILES, "a.csv": b"garbage"}, "bad")
    fake = make_download(FILES)
    prepared = prepare(spec_with(LocalPath(path=str(bad)), fake.source, pins=False, finalize=finalize), root=root)
    assert prepared.source == "download (example calls)"


def test_finalize_bug_propagates_and_leaves_nothing(root, make_download):
    def finalize(folder: Path) -> None:
        raise ZeroDivisionError("bug in the plugin")

    with pytest.raises(ZeroDivisionError):
        prepare(spec_with(make_download(FILES).source, finalize=finalize), root=root)
    assert [p.name for p in root.iterdir()] == [".toy.lock"]


def test_force_fetches_again(root, make_download):
    fake = make_download(FILES)
    prepare(spec_with(fake.source), root=root)
    prepare(spec_with(fake.source), root=root, force=True)
    assert fake.calls == 2


def test_status_reports_missing_ready_and_damaged(root, make_download):
    spec = spec_with(make_download(FILES).source)
    before = status(spec, root=root)
    assert not before.ready and before.problem == "not prepared" and before.size_bytes == 0
    prepared = prepare(spec, root=root)
    ready = status(spec, root=root)
    assert ready.ready and ready.source == prepared.source and ready.content_sha256 == prepared.content_sha256
    assert ready.size_bytes >= sum(map(len, FILES.values()))
    (prepared.folder / "sub" / "b.bin").unlink()
    damaged = status(spec, root=root)
    assert not damaged.ready and damaged.problem == "sub/b.bin is missing"


def test_status_verify_catches_same_size_corruption(root, make_download):
    spec = spec_with(make_download(FILES).source)
    prepared = prepare(spec, root=root)
    path = prepared.path("a.csv")
    path.write_bytes(path.read_bytes().replace(b"1", b"7"))
    assert status(spec, root=root).ready  # sizes only
    assert "a.csv does not match" in status(spec, root=root, verify=True).problem


def test_cache_root_from_environment(monkeypatch, tmp_path):
    assert cache_root() == Path(os.environ["HOME"]) / ".cache" / "sslbench"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # ignored, like the runner's data_root
    assert cache_root() == Path(os.environ["HOME"]) / ".cache" / "sslbench"
    monkeypatch.setenv("SSLBENCH_DATA", str(tmp_path / "data"))
    assert cache_root() == tmp_path / "data"


def test_default_root_is_cache_root(monkeypatch, tmp_path, make_download):
    monkeypatch.setenv("SSLBENCH_DATA", str(tmp_path / "envroot"))
    assert prepare(spec_with(make_download(FILES).source)).folder == tmp_path / "envroot" / "toy"
