"""Fixtures for the data layer's tests: an isolated cache, fake sources, tiny wheels."""

from __future__ import annotations

import importlib.util
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from sslbench.data import Download


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "network: needs PyPI; deselect with -m 'not network'")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the user's cache, pip options or local-folder variables."""
    for var in ("SSLBENCH_DATA", "SSLBENCH_PIP_ARGS", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")  # the machine's pip.conf cannot add an index


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The cache root for one test."""
    return tmp_path / "cache"


@dataclass(frozen=True)
class FakeDownload:
    """A ``Download`` source for tests and the file that counts its calls (across processes)."""

    source: Download
    counter: Path

    @property
    def calls(self) -> int:
        return len(self.counter.read_text())


@pytest.fixture
def make_download(tmp_path: Path) -> Callable[..., FakeDownload]:
    """Build a fake ``Download`` source that writes ``files`` and counts its calls.

    ``fail`` (an exception) is raised after half of the first file is written, like a
    dropped connection; ``delay`` seconds pass before writing, to overlap processes.
    """

    def make(
        files: Mapping[str, bytes], *, fail: BaseException | None = None, delay: float = 0.0, name: str = "calls"
    ) -> FakeDownload:
        calls = tmp_path / f"{name}.count"
        calls.touch()

        def fetch(folder: Path) -> None:
            with open(calls, "a") as f:
                f.write("x")
            time.sleep(delay)
            for i, (fname, data) in enumerate(files.items()):
                (folder / fname).parent.mkdir(parents=True, exist_ok=True)
                with open(folder / fname, "wb") as out:
                    out.write(data[: len(data) // 2])
                    out.flush()
                    if fail is not None and i == 0:
                        raise fail
                    out.write(data[len(data) // 2 :])

        download = Download(urls=(f"https://example.org/{name}/",), fetch=fetch, description=f"example {name}")
        return FakeDownload(download, calls)

    return make


@pytest.fixture
def make_wheel(tmp_path: Path) -> Callable[..., Path]:
    """Build a minimal valid wheel ``<dist>-<version>-py3-none-any.whl`` in a find-links folder."""

    def make(dist: str, version: str, files: Mapping[str, bytes], folder: str = "wheelhouse") -> Path:
        house = tmp_path / folder
        house.mkdir(exist_ok=True)
        norm = dist.replace("-", "_")
        info = f"{norm}-{version}.dist-info"
        meta = {
            f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n".encode(),
            f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        }
        everything = {**files, **meta}
        record = "".join(f"{n},,\n" for n in everything) + f"{info}/RECORD,,\n"
        path = house / f"{norm}-{version}-py3-none-any.whl"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for n, data in everything.items():
                zf.writestr(n, data)
            zf.writestr(f"{info}/RECORD", record)
        return path

    return make


@pytest.fixture(scope="session")
def real_specs() -> ModuleType:
    """``real_specs.py`` (the DATA.md datasets), loaded by path so any import mode works."""
    path = Path(__file__).with_name("real_specs.py")
    spec = importlib.util.spec_from_file_location("sslbench_data_real_specs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
