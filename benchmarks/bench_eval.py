"""Evaluators on frozen features: torch ``linear-probe`` and ``knn`` vs scikit-learn on the same features.

Features are a structured Gaussian mixture shaped like a small encoder's output: a
class mean plus noise in a 32-dim latent space, mapped to D = 512 by a fixed random
matrix, plus noise, through a ReLU (non-negative, low-rank, classes overlap). Both
sides get the same float32 arrays and are timed from features to test predictions:

* **linear probe**: the evaluator's own functions (``standardize`` with train
  statistics, ``fit_logistic_regression`` with the evaluator's defaults: full-batch
  L-BFGS in float32, at most 200 iterations, gradient tolerance 1e-4, l2 = 1e-4, on the device) vs ``StandardScaler`` + scikit-learn's
  ``LogisticRegression(C = 1 / (l2 · N), max_iter=200)`` (lbfgs; the same objective:
  mean cross-entropy + (l2/2)·‖W‖², bias unpenalised).
* **kNN**: ``knn_predict`` (cosine, k = 20, exp(s/τ) votes, τ = 0.07) vs
  ``KNeighborsClassifier(n_neighbors=20, metric="cosine", algorithm="brute")`` with
  the same exp((1 − d)/τ) vote weights (d = 1 − s is scikit-learn's cosine distance).

Sizes: ``small`` (10,000 train × 512, 2,000 test; ``SSLBENCH_BENCH_EVAL_SIZE=TRAIN,TEST``
changes it) always; ``full`` (60,000 × 512,
10,000 test) with ``SSLBENCH_BENCH_EVAL_FULL=1`` — several minutes per side for the
probe on a loaded 2-core CPU. The sides alternate ``ROUNDS`` times; the speed-up is
the median of the rounds' ratios (scikit-learn seconds ÷ torch seconds); accuracy
is test top-1 of each side (deterministic, so the same every round).

Run::

    OMP_NUM_THREADS=1 .venv/bin/python -m pytest benchmarks/bench_eval.py --benchmark-only -s
"""
from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import pytest
import torch
from conftest import synchronize

ROUNDS = int(os.environ.get("SSLBENCH_BENCH_ROUNDS", "3"))
# SSLBENCH_BENCH_EVAL_SIZE="TRAIN,TEST" replaces the small size (benchmarks/gpu.sh's dry run uses a tiny one).
_SMALL = tuple(int(n) for n in os.environ.get("SSLBENCH_BENCH_EVAL_SIZE", "10000,2000").split(","))
SIZES = {"small": _SMALL} | ({"full": (60_000, 10_000)} if os.environ.get("SSLBENCH_BENCH_EVAL_FULL") else {})
DIM, CLASSES, LATENT = 512, 10, 32
L2, MAX_ITER = 1e-4, 200  # the linear-probe evaluator's defaults
K, TAU = 20, 0.07  # the knn evaluator's defaults
GOAL_SPEEDUP, GOAL_ACCURACY = 10.0, 0.005  # >= 10x faster, top-1 within 0.5 points


def mixture(n_train: int, n_test: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Train and test features with labels from one structured Gaussian mixture.

    Shape:
        returns x_train (n_train, DIM) float32, y_train (n_train,) int64, x_test (n_test, DIM), y_test (n_test,).
    """
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(CLASSES, LATENT)) * 0.55  # top-1 about 0.85: classes overlap
    lift = rng.normal(size=(LATENT, DIM)) / np.sqrt(LATENT)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, CLASSES, n)
        z = means[y] + rng.normal(size=(n, LATENT))
        x = np.maximum(z @ lift + 0.5 * rng.normal(size=(n, DIM)), 0.0)
        return x.astype(np.float32), y.astype(np.int64)

    return (*draw(n_train), *draw(n_test))


def torch_linear_probe(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, device: torch.device) -> np.ndarray:
    """The ``linear-probe`` evaluator's path: standardise, L-BFGS fit, predict."""
    from sslbench_eval.linear_probe import LinearProbeOptions, fit_logistic_regression, standardize

    options = LinearProbeOptions()  # the evaluator's defaults: tolerance, precision
    dtype = torch.float64 if options.precision == "float64" else torch.float32
    train, test = standardize(torch.from_numpy(x).to(device), torch.from_numpy(x_test).to(device))
    weight, bias = fit_logistic_regression(train, torch.from_numpy(y).to(device), CLASSES, options.l2,
                                           options.max_iter, options.tolerance, dtype)
    return (test.to(dtype) @ weight + bias).argmax(dim=1).cpu().numpy()


def sklearn_linear_probe(x: np.ndarray, y: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """``StandardScaler`` + ``LogisticRegression`` at the same regularisation, C = 1 / (l2 · N)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=1.0 / (L2 * len(x)), max_iter=MAX_ITER).fit(scaler.transform(x), y)
    return model.predict(scaler.transform(x_test))


def torch_knn(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, device: torch.device) -> np.ndarray:
    """The ``knn`` evaluator's path: cosine top-k and exp(s/τ) votes, in chunks."""
    from sslbench_eval.knn import knn_predict

    return knn_predict(torch.from_numpy(x).to(device), torch.from_numpy(y).to(device),
                       torch.from_numpy(x_test).to(device), CLASSES, K, TAU).cpu().numpy()


def sklearn_knn(x: np.ndarray, y: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """``KNeighborsClassifier``, cosine, brute force, with the same exp((1 − d)/τ) vote weights."""
    from sklearn.neighbors import KNeighborsClassifier

    model = KNeighborsClassifier(n_neighbors=K, metric="cosine", algorithm="brute",
                                 weights=lambda d: np.exp((1.0 - d) / TAU))
    return model.fit(x, y).predict(x_test)


def timed(fn: Callable[[], np.ndarray], device: torch.device | None = None) -> tuple[float, np.ndarray]:
    """Seconds ``fn`` takes (GPU work included) and what it returns."""
    start = time.perf_counter()
    out = fn()
    if device is not None:
        synchronize(device)
    return time.perf_counter() - start, out


@pytest.fixture(scope="module", params=list(SIZES))
def features(request: pytest.FixtureRequest) -> tuple[str, tuple[np.ndarray, ...]]:
    return request.param, mixture(*SIZES[request.param])


@pytest.mark.parametrize("method", ["linear-probe", "knn"])
def test_evaluator_against_sklearn(method, features, benchmark, device, record):
    size, (x, y, x_test, y_test) = features
    ours_fn, theirs_fn = {"linear-probe": (torch_linear_probe, sklearn_linear_probe), "knn": (torch_knn, sklearn_knn)}[method]
    ours, theirs, pred = [], [], {}

    def one_round() -> None:
        for side in ("ours", "theirs") if len(ours) % 2 else ("theirs", "ours"):
            if side == "ours":
                seconds, pred["ours"] = timed(lambda: ours_fn(x, y, x_test, device), device)
                ours.append(seconds)
            else:
                seconds, pred["theirs"] = timed(lambda: theirs_fn(x, y, x_test))
                theirs.append(seconds)

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    speedup = statistics.median(t / o for o, t in zip(ours, theirs))
    accuracy = {side: float((p == y_test).mean()) for side, p in pred.items()}
    gap = abs(accuracy["ours"] - accuracy["theirs"])
    record(
        f"eval-{method}-{size}",
        f"{method} {len(x)}x{DIM} (test {len(x_test)}): torch {statistics.median(ours):.2f} s, scikit-learn "
        f"{statistics.median(theirs):.2f} s, speed-up {speedup:.2f}x (goal >= {GOAL_SPEEDUP:g}x); top-1 "
        f"{accuracy['ours']:.4f} vs {accuracy['theirs']:.4f}",
        method=method, train=list(x.shape), test=len(x_test), torch_s=[round(t, 3) for t in ours],
        sklearn_s=[round(t, 3) for t in theirs], speedup=round(speedup, 3), top1=accuracy,
        top1_gap_points=round(100 * gap, 3), agreement=float((pred["ours"] == pred["theirs"]).mean()),
        goal=f"speed-up >= {GOAL_SPEEDUP:g}x, top-1 within {100 * GOAL_ACCURACY:g} points",
        met=speedup >= GOAL_SPEEDUP and gap <= GOAL_ACCURACY,
    )
    assert gap <= 0.02  # the same protocol: far apart accuracies mean the comparison is broken
