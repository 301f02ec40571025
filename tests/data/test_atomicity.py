"""The cache is never half-written: interrupted fetches, killed processes, races."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from sslbench.data import DataSpec, DataUnavailable, Download, prepare

FILES = {"big.bin": os.urandom(200_000), "small.txt": b"hello\n"}


def spec_with(*sources) -> DataSpec:
    return DataSpec(name="atomic", sources=tuple(sources), files=tuple(FILES), license="CC0")


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name != ".atomic.lock")


def test_fetch_failing_midway_leaves_no_partial_file_and_next_prepare_succeeds(root, make_download):
    broken = make_download(FILES, fail=ConnectionResetError("connection reset by peer"), name="broken")
    with pytest.raises(DataUnavailable, match="ConnectionResetError: connection reset by peer"):
        prepare(spec_with(broken.source), root=root)
    assert leftovers(root) == []
    prepared = prepare(spec_with(make_download(FILES).source), root=root)
    assert prepared.path("big.bin").read_bytes() == FILES["big.bin"]


def test_partial_files_of_a_failed_source_never_mix_with_the_next(root, make_download):
    broken = make_download(FILES, fail=TimeoutError("timed out"), name="broken")
    good = make_download({"small.txt": FILES["small.txt"]}, name="partial")  # does not deliver big.bin
    with pytest.raises(DataUnavailable, match="did not deliver big.bin"):
        prepare(spec_with(broken.source, good.source), root=root)


def test_keyboard_interrupt_propagates_and_cleans_up(root, make_download):
    interrupted = make_download(FILES, fail=KeyboardInterrupt(), name="ctrl-c")
    with pytest.raises(KeyboardInterrupt):
        prepare(spec_with(interrupted.source), root=root)
    assert leftovers(root) == []


def _prepare_in_child(spec: DataSpec, root: Path, queue) -> None:
    try:
        queue.put(("ok", prepare(spec, root=root, progress=False).content_sha256))
    except BaseException as e:  # report anything, the parent asserts
        queue.put(("error", repr(e)))


def test_killed_process_leaves_only_staging_which_the_next_prepare_removes(root, tmp_path, make_download):
    """SIGKILL mid-download: no dataset folder appears; the next prepare removes the staging."""
    started = tmp_path / "started"

    def slow_fetch(folder: Path) -> None:
        (folder / "big.bin").write_bytes(FILES["big.bin"][:1000])  # half a download …
        started.touch()
        time.sleep(60)  # … then the process is killed

    slow = Download(urls=("https://example.org/",), fetch=slow_fetch, description="slow")
    ctx = multiprocessing.get_context("fork")
    child = ctx.Process(target=_prepare_in_child, args=(spec_with(slow), root, ctx.Queue()))
    child.start()
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    assert not (root / "atomic").exists()
    assert [n.split("-")[0] for n in leftovers(root)] == [".atomic.partial"]

    prepared = prepare(spec_with(make_download(FILES).source), root=root)
    assert leftovers(root) == ["atomic"] and prepared.path("big.bin").read_bytes() == FILES["big.bin"]


def test_two_processes_preparing_at_once_fetch_once_and_share_one_copy(root, make_download):
    fake = make_download(FILES, delay=0.5)  # long enough for the second process to arrive
    spec = spec_with(fake.source)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    children = [ctx.Process(target=_prepare_in_child, args=(spec, root, queue)) for _ in range(2)]
    for c in children:
        c.start()
    results = [queue.get(timeout=60) for _ in children]
    for c in children:
        c.join(timeout=60)
        assert c.exitcode == 0
    assert [r[0] for r in results] == ["ok", "ok"], results
    assert results[0][1] == results[1][1]
    assert fake.calls == 1
    assert leftovers(root) == ["atomic"]
    assert (root / "atomic" / "big.bin").read_bytes() == FILES["big.bin"]
