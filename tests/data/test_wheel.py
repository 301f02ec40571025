"""WheelFiles: a real ``pip download`` run offline against wheels the tests build."""

from __future__ import annotations

import hashlib
import logging

import pytest

from sslbench.data import DataSpec, DataUnavailable, LocalPath, SourceFailed, SystemFiles, WheelFiles, prepare
from sslbench.data.wheel import extract_members, pip_command

DATA = {"toydata/data/table.csv": b"a,b\n" + b"1,2\n" * 1000, "toydata/data/readme.txt": b"about\n"}
CODE = {"toydata/__init__.py": b"raise SystemExit('the package must never be imported')\n"}


def wheel_source(wheel, sha256=None) -> WheelFiles:
    return WheelFiles(
        package="toydata",
        version="1.0",
        sha256=sha256 or hashlib.sha256(wheel.read_bytes()).hexdigest(),
        members={"toydata/data/table.csv": "table.csv", "toydata/data/readme.txt": "docs/readme.txt"},
        size=wheel.stat().st_size,
    )


def spec_with(*sources) -> DataSpec:
    return DataSpec(name="toy-wheel", sources=tuple(sources), files=("table.csv", "docs/readme.txt"), license="CC0")


def offline(wheel) -> list[str]:
    return ["--no-index", "--find-links", str(wheel.parent)]


def test_pip_download_offline_keeps_only_the_named_files(root, make_wheel):
    wheel = make_wheel("toydata", "1.0", {**DATA, **CODE})
    prepared = prepare(spec_with(wheel_source(wheel)), root=root, pip_args=offline(wheel))
    assert prepared.source == "wheel toydata==1.0 (pip download)"
    assert prepared.path("table.csv").read_bytes() == DATA["toydata/data/table.csv"]
    assert prepared.path("docs/readme.txt").read_bytes() == DATA["toydata/data/readme.txt"]
    kept = sorted(p.relative_to(prepared.folder).as_posix() for p in prepared.folder.rglob("*") if p.is_file())
    assert kept == ["docs/readme.txt", "sslbench-manifest.json", "table.csv"]  # no wheel, no code
    assert sorted(p.name for p in root.iterdir()) == [".toy-wheel.lock", "toy-wheel"]


def test_pip_args_from_environment(root, make_wheel, monkeypatch):
    wheel = make_wheel("toydata", "1.0", DATA)
    monkeypatch.setenv("SSLBENCH_PIP_ARGS", f"--no-index --find-links '{wheel.parent}'")
    assert prepare(spec_with(wheel_source(wheel)), root=root).source.startswith("wheel toydata==1.0")


def test_wheel_wins_over_system_files_and_local_over_wheel(root, tmp_path, make_wheel, monkeypatch):
    wheel = make_wheel("toydata", "1.0", DATA)
    system = tmp_path / "usr-share-toy"
    (system / "docs").mkdir(parents=True)
    (system / "table.csv").write_bytes(b"system copy\n")
    (system / "docs" / "readme.txt").write_bytes(b"system copy\n")
    sys_source = SystemFiles(
        root=str(system), files={"table.csv": "table.csv", "docs/readme.txt": "docs/readme.txt"}, apt_package="toy-data"
    )
    spec = spec_with(LocalPath(env="TOY_WHEEL_DIR"), wheel_source(wheel), sys_source)

    from_wheel = prepare(spec, root=root / "a", pip_args=offline(wheel))
    assert from_wheel.source == "wheel toydata==1.0 (pip download)"

    monkeypatch.setenv("TOY_WHEEL_DIR", str(system))
    from_local = prepare(spec, root=root / "b", pip_args=["--no-index", "--find-links", str(tmp_path / "empty")])
    assert from_local.source == "local folder $TOY_WHEEL_DIR"


def test_wheel_with_wrong_sha256_is_refused_refetched_and_named(root, make_wheel, caplog):
    wheel = make_wheel("toydata", "1.0", DATA)
    source = wheel_source(wheel, sha256="0" * 64)
    with caplog.at_level(logging.WARNING, logger="sslbench.data"), pytest.raises(DataUnavailable) as err:
        prepare(spec_with(source), root=root, pip_args=offline(wheel))
    assert "downloading it again without pip's cache" in caplog.text  # fetched a second time
    assert f"wheel toydata-1.0-py3-none-any.whl: SHA-256 is {hashlib.sha256(wheel.read_bytes()).hexdigest()}" in str(
        err.value
    )


def test_extract_refuses_a_wheel_lacking_a_member(tmp_path, make_wheel):
    wheel = make_wheel("toydata", "1.0", {"toydata/data/table.csv": b"1"})
    with pytest.raises(SourceFailed, match="has no toydata/data/readme.txt"):
        extract_members(wheel, {"toydata/data/readme.txt": "readme.txt"}, tmp_path)


def test_extract_refuses_a_corrupt_wheel(tmp_path, make_wheel):
    wheel = make_wheel("toydata", "1.0", {"toydata/data/table.csv": bytes(range(256)) * 64})
    raw = bytearray(wheel.read_bytes())
    raw[100] ^= 0xFF  # inside the first member's compressed bytes: its CRC no longer matches
    wheel.write_bytes(bytes(raw))
    with pytest.raises(SourceFailed, match="not a valid wheel"):
        extract_members(wheel, {"toydata/data/table.csv": "table.csv"}, tmp_path)


def test_pip_command_never_installs_or_resolves_dependencies(tmp_path):
    cmd = pip_command("toydata==1.0", tmp_path, ["--index-url", "https://mirror.example/simple"])
    assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd and "--only-binary=:all:" in cmd
    assert cmd[-2:] == ["--index-url", "https://mirror.example/simple"]
    assert "install" not in cmd
