"""The device call end to end on the CPU (its dry run), so that only the device is new on a GPU.

``benchmarks/device/prepare.py`` builds the carried folder (wheels for this interpreter's
Python, the data cache of the dry-run config compressed, ``carry.json``) and
``benchmarks/device/run.sh`` does what it does on the lent machine: installs the wheels
into a fresh ``--target`` folder, checks that sslbench and its plugins come from there,
unpacks the data, runs ``benchmarks/gpu.sh`` (``SSLBENCH_GPU_DRYRUN=1``: every stage the GPU
call runs, on a grid of a few steps) inside its time limit, and packs every result into at
most 8 files. A second call with the same work folder checks that a retry continues.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from sslbench.results import read_rows

ROOT = Path(__file__).resolve().parents[1]
DEVICE = ROOT / "benchmarks" / "device"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


estimate_full = _load("estimate_full", ROOT / "benchmarks" / "estimate_full.py")
carry = _load("sslbench_device_carry", DEVICE / "carry.py")
STAGES = ["env", "data", "estimate", "mfu", "eval", "text", "grid", "report"]
WORKTREE_PATH = os.pathsep.join([str(ROOT), str(ROOT / "plugins")])


def one_line(text: str) -> str:
    """The single line a user mistake prints (asserts there is one and no traceback)."""
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


def run_gpu_sh(out: Path, runs: Path, budget: int = 300, py: str = sys.executable) -> subprocess.CompletedProcess:
    """One dry-run call of gpu.sh itself (no wrapper) writing into ``out`` and ``runs``."""
    env = {**os.environ, "SSLBENCH_GPU_DRYRUN": "1", "SSLBENCH_GPU_OUT": str(out), "SSLBENCH_GPU_RUNS": str(runs),
           "SSLBENCH_GPU_BUDGET": str(budget), "PY": py, "OMP_NUM_THREADS": "1", "PYTHONPATH": WORKTREE_PATH}
    return subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu.sh")], env=env, capture_output=True, text=True,
                          timeout=budget + 60)


def prepare(dest: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess:
    """prepare.py for the dry-run config and this interpreter's Python, the data cache in ``cache``."""
    env = {**os.environ, "SSLBENCH_DATA": str(cache), "PYTHONPATH": WORKTREE_PATH}
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return subprocess.run([sys.executable, str(DEVICE / "prepare.py"), "--dest", str(dest), "--python-version", version,
                           "--config", str(ROOT / "benchmarks" / "gpu-dryrun.toml"), *extra],
                          env=env, capture_output=True, text=True, timeout=600)


def run_wrapper(carried: Path, out: Path, work: Path, budget: int = 300) -> subprocess.CompletedProcess:
    """run.sh as on the lent machine, with this interpreter as the machine's python3.

    PYTHONPATH is unset, as there: sslbench must come from the wrapper's install (this
    interpreter's own editable copy would fail the check)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {"SSLBENCH_GPU_DRYRUN": "1", "OUT": str(out), "SSLBENCH_DEVICE_CARRY": str(carried),
            "SSLBENCH_DEVICE_WORK": str(work), "SSLBENCH_DEVICE_PYTHON": sys.executable,
            "SSLBENCH_DEVICE_BUDGET": str(budget), "OMP_NUM_THREADS": "1"}
    return subprocess.run(["bash", str(DEVICE / "run.sh")], env=env, capture_output=True, text=True,
                          timeout=budget + 90)


def stage_table(path: Path) -> dict[str, str]:
    """stage -> status from a stages.tsv."""
    lines = path.read_text().splitlines()
    assert lines[0].split("\t") == ["stage", "status", "seconds", "limit", "note"]
    return {cols[0]: cols[1] for cols in (line.split("\t") for line in lines[1:])}


def unpacked(out: Path, dest: Path) -> Path:
    """What comes back from the machine, checked against the tool's limits, with results.tar.xz unpacked."""
    files = sorted(out.iterdir())
    assert all(p.is_file() for p in files) and len(files) <= 8, [p.name for p in files]
    assert all(p.stat().st_size <= 16 * 2**20 and carry.SAFE_NAME.match(p.name) for p in files)
    with tarfile.open(out / "results.tar.xz") as tar:
        names = tar.getnames()
        tar.extractall(dest, filter="data")
    assert not [n for n in names if n.endswith((".pt", ".ckpt")) or "/checkpoints/" in n], names
    return dest


@pytest.mark.slow
@pytest.mark.network  # prepare.py downloads this Python's soundfile/cffi/pycparser wheels and MovieLens' recbole wheel
def test_device_wrapper_dry_run_installs_unpacks_runs_and_packs(tmp_path):
    carried, out, work = tmp_path / "carry", tmp_path / "out", tmp_path / "work"
    made = prepare(carried, tmp_path / "cache")
    assert made.returncode == 0, made.stdout + made.stderr
    assert "the device call carries" in made.stdout
    meta = json.loads((carried / "carry.json").read_text())
    wheels = {w["file"].split("-")[0] for w in meta["wheels"]}
    assert wheels == {"sslbench", "soundfile", "cffi", "pycparser"}  # never torch: the machine has its own
    assert "movielens-100k" in meta["data"]["folders"] and "digits" not in meta["data"]["folders"]  # digits is bundled

    first = run_wrapper(carried, out, work)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    log = (out / "wrapper.log").read_text()
    assert f"from {work / 'site' / 'sslbench'}" in log  # the installed copy, not this interpreter's own
    assert "carry.py unpack: " in log and "movielens-100k" in log
    got = unpacked(out, tmp_path / "back")
    gpu = got / "gpu"

    status = stage_table(gpu / "stages.tsv")
    assert list(status) == STAGES
    assert {s: status[s] for s in STAGES if s not in ("estimate", "text")} == dict.fromkeys(
        [s for s in STAGES if s not in ("estimate", "text")], "ok")
    assert status["text"] == status["estimate"] == "skipped"  # said why in the note, not silently
    assert (out / "stages.tsv").read_text() == (gpu / "stages.tsv").read_text()

    rows = read_rows(gpu / "rows.jsonl")
    assert {(r["dataset"], r["task"]) for r in rows} == {
        ("digits", "random-init"), ("digits", "no-encoder"), ("digits", "simclr"), ("digits", "supervised"),
        ("movielens-100k", "random-init"), ("movielens-100k", "no-encoder"), ("movielens-100k", "popularity"),
        ("movielens-100k", "cooccurrence")}
    assert all(r["status"] == "ok" for r in rows)
    for name in ("curves.jsonl", "manifest.json", "LEADERBOARD.md", "leaderboard.csv", "report.html",
                 "mfu-rows.jsonl", "env.json", "bench/bench_eval.json", "logs/grid.log", "logs/eval.log"):
        assert (gpu / name).stat().st_size > 0, name
    assert (got / "runs" / "full" / "rows.jsonl").read_text() == (gpu / "rows.jsonl").read_text()

    summary = json.loads((gpu / "benchmarks.json").read_text())
    assert summary["environment"]["dry_run"] is True
    assert summary["grid"]["cell_seeds"] == 8 and summary["grid"]["pretrained_cell_seeds"] == 3
    assert {m["cell"] for m in summary["mfu"]} >= {"digits/simclr/cnn-small", "digits/supervised/cnn-small"}
    assert all(m["mfu"] is None for m in summary["mfu"])  # no peak on a CPU: blank, not a made-up number
    assert set(summary["eval"]) == {"eval-knn-small", "eval-linear-probe-small"}
    assert summary["elapsed_seconds"] <= summary["budget_seconds"]
    readme = (out / "README.md").read_text()
    for entry in ("| grid | ok |", "| digits/simclr/cnn-small | 0 | 32 | 3 |", "| eval-knn-small | 300x512 | 100 |",
                  "dry run on the CPU", "not measured in this call"):
        assert entry in readme, entry

    second = run_wrapper(carried, tmp_path / "out2", work)  # a retry on the same machine continues
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
    again = stage_table(tmp_path / "out2" / "stages.tsv")
    assert {s: again[s] for s in ("data", "grid", "mfu", "eval")} == dict.fromkeys(
        ("data", "grid", "mfu", "eval"), "done-before")
    assert read_rows(unpacked(tmp_path / "out2", tmp_path / "back2") / "gpu" / "rows.jsonl") == rows


def test_wrapper_without_a_prepared_folder_says_so_and_still_packs_its_log(tmp_path):
    done = run_wrapper(tmp_path / "nothing", tmp_path / "out", tmp_path / "work")
    assert done.returncode == 2
    assert "carry.json is missing" in one_line(done.stderr) and "prepare.py" in done.stderr
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"wrapper.log", "results.tar.xz", "PACKED.txt"}


def test_verify_refuses_an_sslbench_imported_from_elsewhere(tmp_path):
    """This interpreter imports sslbench from the worktree: the wrapper must not run that copy."""
    (tmp_path / "site").mkdir()
    env = {**os.environ, "PYTHONPATH": WORKTREE_PATH}
    done = subprocess.run([sys.executable, str(DEVICE / "carry.py"), "verify", "--site", str(tmp_path / "site")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "not from the install target" in one_line(done.stderr)


def test_prepare_check_reports_the_carried_size_and_fails_over_the_limit(tmp_path):
    dest = tmp_path / "carry"
    dest.mkdir()
    (dest / "data.tar.xz").write_bytes(b"x" * 300_000)
    ok = subprocess.run([sys.executable, str(DEVICE / "prepare.py"), "--check", "--dest", str(dest)],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "+ carry/ 0.3 MiB (limit 64 MiB)" in ok.stdout, ok.stdout + ok.stderr
    tree = float(ok.stdout.split("working tree ")[1].split(" MiB")[0])
    over = subprocess.run([sys.executable, str(DEVICE / "prepare.py"), "--check", "--dest", str(dest),
                           "--limit-mib", str(tree + 0.1)], capture_output=True, text=True, timeout=60)
    assert over.returncode == 2 and over.stdout == ""
    assert "over the limit" in one_line(over.stderr)


def test_pack_leaves_checkpoints_out_splits_a_large_archive_and_refuses_more_than_eight_files(tmp_path, monkeypatch):
    src = tmp_path / "gpu"
    (src / "logs").mkdir(parents=True)
    (src / "rows.jsonl").write_text('{"a": 1}\n')
    (src / "README.md").write_text("# table\n")
    (src / "logs" / "grid.log").write_bytes(os.urandom(10_000))  # incompressible: 3 parts of 4 KiB
    (src / "model.pt").write_bytes(b"weights")
    monkeypatch.setattr(carry, "PART_BYTES", 4096)
    monkeypatch.setattr(carry, "MAX_FILE_BYTES", 5000)
    written = carry.pack(tmp_path / "out", [src])
    assert [p.name for p in written] == [f"results.tar.xz.part{i:02d}" for i in range(3)]
    joined = tmp_path / "joined.tar.xz"
    joined.write_bytes(b"".join(p.read_bytes() for p in written))
    with tarfile.open(joined) as tar:
        assert sorted(tar.getnames()) == ["gpu/README.md", "gpu/logs/grid.log", "gpu/rows.jsonl"]
    assert (tmp_path / "out" / "README.md").read_text() == "# table\n"
    (src / "logs" / "grid.log").write_bytes(os.urandom(40_000))  # 10 parts: more than the tool gives back
    with pytest.raises(carry.CarryError, match="at most 8"):
        carry.pack(tmp_path / "out2", [src])


def test_gpu_sh_refuses_a_python_without_sslbench(tmp_path):
    bare = tmp_path / "python3"
    bare.write_text(f'#!/bin/sh\nexec {sys.executable} -S "$@"\n')  # -S: no site-packages, so no sslbench
    bare.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PY": str(bare)}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu.sh")], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "cannot import sslbench" in one_line(done.stderr)


def test_gpu_sh_skips_a_stage_that_does_not_fit_and_says_so(tmp_path):
    out, runs = tmp_path / "gpu", tmp_path / "runs"
    done = run_gpu_sh(out, runs, budget=9)  # 8 s are kept for the summary: nothing else fits
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    status = stage_table(out / "stages.tsv")
    assert status["env"] == "ok" and status["grid"] == "skipped"
    assert "budget spent" in (out / "stages.tsv").read_text()
    assert "| grid | skipped |" in (out / "README.md").read_text()


def test_full_toml_fits_one_h100_call_with_every_modality():
    """The issue's sizing: every modality, >= 12 pretrained cells, >= 3 seeds, text cells at tens
    of millions of token positions with finetune beside the probe and kNN, the whole call within
    9.5 minutes of an H100 by the written estimate."""
    config = ROOT / "benchmarks" / "full.toml"
    text, total = estimate_full.render(config, estimate_full.CALL_LIMIT_SECONDS)
    cells, _, _, _, seeds, (_, tuned) = estimate_full.estimate(config)
    pretrained = [c for c in cells if c.cell.split("/")[1] != "supervised"]
    assert total <= estimate_full.CALL_LIMIT_SECONDS <= 570 and seeds >= 3 and len(pretrained) >= 12
    assert {c.cell.split("/")[0] for c in cells} == {"fashion-mnist", "20newsgroups", "fsdd-mfcc", "movielens-100k"}
    bert = {f"20newsgroups/{task}/bert-tiny" for task in ("mlm", "nsp", "mlm-nsp", "supervised")}
    assert bert <= {c.cell for c in cells}  # the seed's example; simclr on text is the cross-modal cell, shorter
    assert all(c.steps * c.batch_size * 126 >= 20e6 for c in cells if c.cell in bert)  # tens of millions of positions
    assert tuned >= 3 * 4  # finetune on mlm, nsp, mlm-nsp and random-init, 3 seeds each at least
    assert f"**{total:.0f}**" in text and "H100" in text
