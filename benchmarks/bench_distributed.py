"""Throughput of one cell on 1 vs 2 processes (DistributedDataParallel), and scaling efficiency.

The same SimCLR cell (cnn-small on scikit-learn's digits, global batch 256) is
trained through the real CLI, once with one process and once with ``--nproc 2``
(torchrun, gloo on CPU / NCCL on GPU), side by side in one run. Throughput is the
training samples/s each run records in its rows; scaling efficiency is
(samples/s with N processes) ÷ (N × samples/s with one). On a GPU machine the
script uses one process per GPU and reports per GPU count.

On a 2-core CPU two processes share the cores that one process already uses with
two threads, so efficiency well below 1 is expected there; the point of the CPU
number is that DDP's overhead is measured, not that it scales.

Run::

    .venv/bin/python -m pytest benchmarks/bench_distributed.py --benchmark-only -s
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
STEPS, BATCH = 60, 256

CONFIG = f"""
[run]
seeds = [0]
steps = {STEPS}
batch_size = {BATCH}
[grid]
datasets = ["digits"]
tasks = ["simclr"]
models = ["cnn-small"]
evaluators = ["knn"]
"""


def train(tmp: Path, nproc: int) -> float:
    """Samples/s of the simclr cell with ``nproc`` processes."""
    out = tmp / f"n{nproc}"
    threads = max(1, (os.cpu_count() or 1) // nproc)  # same cores in total for both runs
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    cmd = [sys.executable, "-m", "sslbench", "run", str(tmp / "cfg.toml"), "--out", str(out), "--nproc", str(nproc)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    return next(r["cost"]["samples_per_s"] for r in rows if r["task"] == "simclr")


def test_one_vs_two_processes(benchmark, tmp_path):
    (tmp_path / "cfg.toml").write_text(textwrap.dedent(CONFIG))
    counts = [1, 2] if not torch.cuda.is_available() else sorted({1, 2, torch.cuda.device_count()})
    speeds = {}

    def measure():
        for n in counts:
            speeds[n] = train(tmp_path, n)

    benchmark.pedantic(measure, rounds=1, iterations=1)
    table = {n: {"samples_per_s": round(v, 1), "efficiency": round(v / (n * speeds[1]), 3)} for n, v in speeds.items()}
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu {platform.machine()} x{os.cpu_count()}"
    report = {"cell": "digits/simclr/cnn-small", "global_batch": BATCH, "steps": STEPS, "device": device,
              "load_average": os.getloadavg(), "processes": table}
    benchmark.extra_info.update(report)
    (ROOT / "results" / "bench").mkdir(parents=True, exist_ok=True)
    (ROOT / "results" / "bench" / "distributed.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    assert all(v > 0 for v in speeds.values())
