"""Hot-path options: training steps/s with ``compile`` and ``fused_optimizer`` on and off.

One image cell (simclr / cnn-small on Fashion-MNIST, planned and built as in
``bench_runner.py``) is trained by ``sslbench.run.train.pretrain`` under four ``[run]``
settings: plain, ``fused_optimizer = true``, ``compile = true``, both. The clock reads
at the start of every step; a run's steady step time is the median of its steps after
``WARMUP`` (compilation happens in the first steps), and its one-off cost is the
whole call minus that many steady steps (for ``compile``: the compile time). The
settings run in rotated order ``ROUNDS`` times; each speed-up is the median of the
rounds' ratios (plain step ÷ option step, > 1: the option is faster).

On a CPU, ``torch.compile`` (inductor, C++ codegen) costs tens of seconds per cell
and a small CNN gains little from it; fused AdamW matters most where optimizer steps
are many small kernels (GPUs). Reported as measured, not as hoped.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python -m pytest benchmarks/bench_options.py --benchmark-only -s
"""
from __future__ import annotations

import dataclasses
import itertools
import os
import statistics
import time
from typing import Any

import torch
from bench_runner import StampedSplit, build_task, plan_cell

WARMUP = 4  # steps left out of the steady time (compile, FLOP counting)
STEPS = 16  # steady steps per run
ROUNDS = int(os.environ.get("SSLBENCH_BENCH_ROUNDS", "2"))
SETTINGS = {"plain": {}, "fused": {"fused_optimizer": True}, "compile": {"compile": True},
            "compile+fused": {"compile": True, "fused_optimizer": True}}


def train_once(task: torch.nn.Module, split: Any, run: Any, device: torch.device) -> dict[str, float]:
    """Steady seconds per step (median after warmup) and one-off seconds of one ``pretrain`` call."""
    from sslbench.run.train import pretrain

    stamped = StampedSplit(split, device)
    start = time.perf_counter()
    pretrain(task, stamped, run, device, seed=0)
    whole = time.perf_counter() - start
    s = stamped.stamps
    steady = statistics.median(b - a for a, b in itertools.pairwise(s[WARMUP:]))
    return {"step_s": steady, "one_off_s": max(0.0, whole - steady * run.steps)}


def test_compile_and_fused_optimizer(benchmark, registry, data_ctx, device, record, tmp_path):
    import bench_runner

    config, cell = plan_cell("image", registry, tmp_path, device)
    dataset = registry.get("dataset", cell.dataset).build(data_ctx, config.options_for("dataset", cell.dataset))
    split = dataset.split("pretrain")
    base = dataclasses.replace(cell.run, steps=WARMUP + STEPS + 1)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in SETTINGS}

    def one_round() -> None:
        names = list(SETTINGS)
        shift = len(runs["plain"]) % len(names)
        for name in names[shift:] + names[:shift]:
            run = dataclasses.replace(base, **SETTINGS[name])
            torch._dynamo.reset()  # every compiled run pays its own compile, as a cell in a grid does
            runs[name].append(train_once(build_task(registry, config, cell, dataset), split, run, device))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    speedup = {name: statistics.median(p["step_s"] / r["step_s"] for p, r in zip(runs["plain"], runs[name]))
               for name in SETTINGS}
    step_ms = {name: round(statistics.median(r["step_s"] for r in rs) * 1e3, 2) for name, rs in runs.items()}
    one_off = {name: round(statistics.median(r["one_off_s"] for r in rs), 2) for name, rs in runs.items()}
    record(
        "options-compile-fused",
        f"{cell.key} B={cell.run.batch_size}: step ms {step_ms}; speed-up over plain "
        f"{ {k: round(v, 3) for k, v in speedup.items()} }; one-off s {one_off}",
        cell=cell.key, batch_size=cell.run.batch_size, warmup_steps=WARMUP, steady_steps=STEPS, rounds=ROUNDS,
        step_ms=step_ms, speedup_over_plain={k: round(v, 3) for k, v in speedup.items()}, one_off_s=one_off,
        uses=bench_runner.CELLS["image"]["dataset"],
    )
