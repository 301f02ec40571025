"""DataSpec and sources check their arguments at construction and say how to fix them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sslbench.data import DataSpec, Download, LocalPath, SystemFiles, WheelFiles
from sslbench.data.spec import check_relpath

SHA = "a" * 64


def wheel(**overrides) -> WheelFiles:
    args = dict(package="pkg", version="1.0", sha256=SHA, members={"pkg/data/f.csv": "f.csv"}) | overrides
    return WheelFiles(**args)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: DataSpec(name="Bad Name", sources=(wheel(),), files=("f.csv",), license="x"), "lowercase"),
        (lambda: DataSpec(name="d", sources=(), files=("f.csv",), license="x"), "at least one source"),
        (lambda: DataSpec(name="d", sources=(wheel(),), files="f.csv", license="x"), "tuple of distinct names"),
        (lambda: DataSpec(name="d", sources=(wheel(),), files=("g.csv",), license="x"), r"missing \['g.csv'\]"),
        (lambda: DataSpec(name="d", sources=("pkg",), files=("f.csv",), license="x"), "is not a LocalPath"),
        (
            lambda: DataSpec(name="d", sources=(wheel(),), files=("f.csv",), file_sha256={"h.csv": SHA}, license="x"),
            "not in files",
        ),
        (
            lambda: DataSpec(name="d", sources=(wheel(),), files=("f.csv",), file_sha256={"f.csv": "abc"}, license="x"),
            "64 lowercase hex",
        ),
        (lambda: DataSpec(name="d", sources=(wheel(),), files=("f.csv",)), "license"),
        (lambda: wheel(sha256=SHA.upper()), "64 lowercase hex"),
        (lambda: wheel(version=">=1.0"), "exact version"),
        (lambda: wheel(members={"../evil": "f.csv"}), "without '.' or '..'"),
        (lambda: wheel(members={"pkg/f.csv": "/etc/passwd"}), "relative path"),
        (lambda: wheel(members={"pkg/m.json": "sslbench-manifest.json"}), "reserved"),
        (lambda: LocalPath(), "env="),
        (lambda: LocalPath(env="NOT-A-VAR"), "environment variable"),
        (lambda: SystemFiles(root="relative/dir", files={"a": "a"}, apt_package="pkg"), "absolute"),
        (lambda: Download(urls="https://one.url/", fetch=print, description="d"), "tuple of URLs"),
        (lambda: Download(urls=("https://x/",), fetch="not callable", description="d"), "callable"),
    ],
)
def test_bad_arguments_fail_at_construction_with_the_fix(build, message):
    with pytest.raises((ValueError, TypeError), match=message):
        build()


@given(st.text(alphabet="ab./\\", max_size=8))
def test_relpath_check_accepts_only_paths_that_stay_inside(path):
    try:
        check_relpath(path, "file")
    except ValueError:
        return
    parts = path.split("/")
    assert path and not path.startswith("/") and "\\" not in path and ".." not in parts and "." not in parts


def test_real_specs_are_consistent(real_specs):
    names = [s.name for s in real_specs.ALL]
    assert len(set(names)) == len(names) == 6
    for spec in real_specs.ALL:
        kinds = [type(s).__name__ for s in spec.sources]
        assert kinds[0] == "LocalPath" and kinds[-1] == "Download", spec.name
        assert spec.license and spec.homepage and spec.size
