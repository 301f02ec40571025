"""Prepare, on this (CPU) machine, the folder a device call carries to the lent GPU machine.

The lent machine runs its own Python (3.12) and torch, reaches no network, takes at most
64 MiB of working tree and carried files in, and lacks some of sslbench's requirements
(``soundfile`` and its ``cffi``/``pycparser``). This writes, into ``--dest`` (default
``.device/``, git-ignored):

- ``wheels/``: sslbench itself with its built-in plugins (``pip wheel --no-deps`` of this
  checkout: the wheel's dist-info carries the entry points plugins are found by), and the
  missing requirements as binary wheels for the machine's Python (``pip download
  --no-deps --only-binary=:all: --python-version``), at the versions installed here.
  Nothing pulls torch or any other package the machine already has (``--no-deps``).
- ``data.tar.xz``: the data cache of the configs' datasets, xz-compressed: their folders
  (copied from ``$SSLBENCH_DATA`` when there, else fetched by ``sslbench data prepare``) and
  the derived files their first build writes (``warm_cache.py``: text tokenizer, segments).
- ``carry.json``: the Python version the wheels are for, each file's SHA-256 and size.

Then it checks what the call would carry — this checkout's tracked and untracked,
not-ignored files plus ``--dest`` — against the limit, and exits 2 with one line when it
is over (``--check`` does only that, for a folder prepared earlier).

    python benchmarks/device/prepare.py                     # .device/ for benchmarks/full.toml + gpu-mfu.toml
    python benchmarks/device/prepare.py --check             # only the size check
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIGS = ("benchmarks/full.toml", "benchmarks/gpu-mfu.toml")
DEVICE_PYTHON = "3.12"  # the lent machine's python3 (docs/gpu.md)
LIMIT_MIB = 64.0  # working tree plus carried paths, per device call
# sslbench's requirements the lent machine's image lacks, with what they need in turn; every
# other requirement (torch, transformers, pandas, …) is in the image and is never carried.
MISSING_ON_DEVICE = ("soundfile", "cffi", "pycparser")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")
NEVER_CARRIED = ("torch", "torchvision", "torchaudio", "nvidia", "triton")  # prefixes of wheel names


class PrepareError(Exception):
    """A problem reported as one line with exit status 2."""


def config_datasets(configs: list[Path]) -> list[str]:
    """The dataset names of every ``[[grid]]`` in ``configs``, in order, once each."""
    names: dict[str, None] = {}
    for path in configs:
        try:
            raw = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise PrepareError(f"{path}: cannot read the config ({e})") from None
        grids = raw.get("grid", [])
        for grid in grids if isinstance(grids, list) else [grids]:
            names.update(dict.fromkeys(grid.get("datasets", [])))
    return list(names)


def run(cmd: list[str], what: str, env: dict[str, str] | None = None) -> None:
    """Run ``cmd``; on failure raise with its last line of output."""
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise PrepareError(f"{what} failed (exit {done.returncode}): {last}")


def checkout_files() -> list[str]:
    """This checkout's tracked and untracked, not-ignored files: what a device call sends."""
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.decode().split("\0")
    return sorted({name for name in listed if name and (ROOT / name).is_file()})


def build_wheels(dest: Path, python_version: str) -> list[Path]:
    """sslbench's wheel from this checkout and the missing requirements' wheels for ``python_version``.

    sslbench is built from a copy of the checkout's files (as a device call sends them), so
    the wheel holds exactly them and the build leaves nothing behind in the checkout.
    """
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    with tempfile.TemporaryDirectory(prefix="sslbench-wheel-") as tmp:
        for name in checkout_files():
            if name.startswith(("sslbench/", "plugins/sslbench_")) or "/" not in name:
                (Path(tmp) / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, Path(tmp) / name)
        run([*pip, "wheel", "--no-deps", "--wheel-dir", str(dest), tmp], "pip wheel of sslbench")
    pins = []
    for name in MISSING_ON_DEVICE:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            raise PrepareError(f"{name} is not installed here: install sslbench's requirements first "
                               "(the carried wheels are pinned to the versions tested here)") from None
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    run([*pip, "download", "--no-deps", "--only-binary=:all:", "--python-version", python_version,
         "--implementation", "cp", *platforms, "--dest", str(dest), *pins],
        f"pip download of {' '.join(pins)} for Python {python_version}")
    wheels = sorted(dest.glob("*.whl"))
    pulled = [w.name for w in wheels if w.name.lower().startswith(NEVER_CARRIED)]
    if pulled:
        raise PrepareError(f"{dest} holds {pulled}: the machine's own torch stack must never be replaced")
    return wheels


def pack_cache(configs: list[Path], archive: Path) -> list[str]:
    """The data cache of ``configs``, built in a staging folder, into ``archive`` (tar.xz).

    The configs' dataset folders are copied from the user's cache (``$SSLBENCH_DATA``,
    default ``~/.cache/sslbench``) when there, else fetched by ``sslbench data prepare``
    from their usual sources; then ``warm_cache.py`` builds each dataset with the configs'
    options, so that derived files (text: tokenizer and segments) travel too. Bundled
    datasets (``digits``) have no folder. Returns the top-level names packed.
    """
    datasets = config_datasets(configs)
    user_cache = Path(os.environ.get("SSLBENCH_DATA") or "~/.cache/sslbench").expanduser()
    with tempfile.TemporaryDirectory(prefix="sslbench-carry-cache-") as staging:
        for name in datasets:
            if (user_cache / name / "sslbench-manifest.json").is_file():
                shutil.copytree(user_cache / name, Path(staging) / name)
        env = {**os.environ, "SSLBENCH_DATA": staging,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), str(ROOT / "plugins"),
                                                           os.environ.get("PYTHONPATH")]))}
        if datasets:
            run([sys.executable, "-m", "sslbench", "data", "prepare", *datasets], "sslbench data prepare", env=env)
        run([sys.executable, str(Path(__file__).with_name("warm_cache.py")), *map(str, configs)],
            "warm_cache.py (building the datasets with the configs' options)", env=env)
        packed = sorted(p.name for p in Path(staging).iterdir() if p.is_dir())
        archive.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive, "w:xz", preset=9 | lzma.PRESET_EXTREME) as tar:
            for name in packed:
                tar.add(Path(staging) / name, arcname=name, filter=lambda m: None if m.name.endswith(".lock") else m)
    return packed


def file_entry(path: Path) -> dict:
    """Name, size and SHA-256 of one carried file."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"file": path.name, "bytes": path.stat().st_size, "sha256": digest}


def travel_bytes(dest: Path) -> tuple[int, int]:
    """(bytes of the checkout's files a device call sends, leaving ``dest`` out; bytes under ``dest``)."""
    dest = dest.resolve()
    tree = sum((ROOT / n).stat().st_size for n in checkout_files() if not (ROOT / n).resolve().is_relative_to(dest))
    carried = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    return tree, carried


def check_size(dest: Path, limit_mib: float) -> str:
    """One line with the carried size; raises when it is over ``limit_mib``."""
    tree, carried = travel_bytes(dest)
    total = (tree + carried) / 2**20
    line = (f"the device call carries {total:.1f} MiB: working tree {tree / 2**20:.1f} MiB + {dest.name}/ "
            f"{carried / 2**20:.1f} MiB (limit {limit_mib:g} MiB)")
    if total > limit_mib:
        raise PrepareError(f"{line}: over the limit; carry fewer datasets (--config) or untrack large files")
    return line


def check_ignored(dest: Path) -> None:
    """Refuse a ``dest`` inside the checkout that git does not ignore (wheels and data are never committed)."""
    if dest.resolve().is_relative_to(ROOT):
        dest.mkdir(parents=True, exist_ok=True)  # git matches a folder pattern (/.device/) only to a folder
        ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", str(dest.resolve())]).returncode == 0
        if not ignored:
            raise PrepareError(f"{dest} is inside the checkout but not git-ignored; use .device/ (in .gitignore)")


def prepare(dest: Path, configs: list[Path], python_version: str) -> dict:
    """Write wheels, the data archive and carry.json into ``dest``; return carry.json's content."""
    check_ignored(dest)
    wheels = build_wheels(dest / "wheels", python_version)
    archive = dest / "data.tar.xz"
    packed = pack_cache(configs, archive)
    meta = {
        "python_version": python_version,
        "configs": [str(c.resolve().relative_to(ROOT)) if c.resolve().is_relative_to(ROOT) else str(c)
                    for c in configs],
        "wheels": [file_entry(w) for w in wheels],
        "data": {**file_entry(archive), "folders": packed},
    }
    (dest / "carry.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main(argv: list[str] | None = None) -> int:
    """Prepare (or only check) the carried folder; one line and exit 2 on a problem."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=ROOT / ".device", help="the folder to carry (default .device)")
    parser.add_argument("--config", type=Path, action="append",
                        help=f"configs whose datasets are carried (default {' '.join(DEFAULT_CONFIGS)})")
    parser.add_argument("--python-version", default=DEVICE_PYTHON, help="the lent machine's Python (default 3.12)")
    parser.add_argument("--limit-mib", type=float, default=LIMIT_MIB, help="the carried size limit (default 64)")
    parser.add_argument("--check", action="store_true", help="only check the size of a folder prepared earlier")
    args = parser.parse_args(argv)
    configs = args.config or [ROOT / c for c in DEFAULT_CONFIGS]
    try:
        if not args.check:
            meta = prepare(args.dest, configs, args.python_version)
            print(f"prepare.py: {len(meta['wheels'])} wheels for Python {args.python_version} "
                  f"({', '.join(w['file'] for w in meta['wheels'])}); data.tar.xz "
                  f"{meta['data']['bytes'] / 2**20:.1f} MiB of {', '.join(meta['data']['folders']) or 'nothing'}")
        elif not args.dest.is_dir():
            raise PrepareError(f"{args.dest} does not exist; run prepare.py without --check first")
        print(f"prepare.py: {check_size(args.dest, args.limit_mib)}")
    except PrepareError as e:
        print(f"prepare.py: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
