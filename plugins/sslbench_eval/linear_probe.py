"""Linear probe: multinomial logistic regression on frozen, standardised embeddings.

Trained full-batch with L-BFGS in torch (on the cell's device), minimising
mean cross-entropy + (l2 / 2)·‖W‖² — the same objective as scikit-learn's
``LogisticRegression(C=1 / (l2 · N))``, whose result a test compares against.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from sslbench import EvalContext
from sslbench_eval.options import LinearProbeOptions  # noqa: F401  # torch-free: re-exported


def fit_logistic_regression(x: Tensor, y: Tensor, num_classes: int, l2: float, max_iter: int,
                            tolerance: float = 1e-9, dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
    """Weights and bias of an L2-regularised softmax regression (bias not penalised).

    L-BFGS stops after ``max_iter`` iterations or when the largest gradient entry
    falls below ``tolerance``.

    Shape:
        x (N, D) float, y (N,) long; returns W (D, C) and b (C,).
    """
    x = x.to(dtype)
    # (C, D), F.linear's layout: its weight gradient is grad.T @ x. With (D, C) and x @ weight the
    # gradient is x.T @ grad, which MKL runs 3-6x slower in float64 on AMD CPUs (benchmarks/bench_eval.py).
    weight = torch.zeros(num_classes, x.shape[1], dtype=x.dtype, device=x.device, requires_grad=True)
    bias = torch.zeros(num_classes, dtype=x.dtype, device=x.device, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter, tolerance_grad=tolerance,
                            tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(F.linear(x, weight, bias), y) + 0.5 * l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return weight.detach().T, bias.detach()


def standardize(train: Tensor, test: Tensor) -> tuple[Tensor, Tensor]:
    """Scale both by the train split's per-feature mean and std. Shape: unchanged."""
    mean, std = train.mean(dim=0), train.std(dim=0).clamp_min(1e-6)
    return (train - mean) / std, (test - mean) / std


def run_linear_probe(ctx: EvalContext, options: LinearProbeOptions) -> dict[str, float]:
    """``top1``: test accuracy of a logistic regression fit on the train split's embeddings."""
    train_x, test_x = ctx.embeddings("train"), ctx.embeddings("test")
    if options.standardize:
        train_x, test_x = standardize(train_x, test_x)
    train_y, test_y = ctx.labels("train"), ctx.labels("test")
    num_classes = int(max(train_y.max(), test_y.max())) + 1
    dtype = torch.float64 if options.precision == "float64" else torch.float32
    weight, bias = fit_logistic_regression(train_x, train_y, num_classes, options.l2, options.max_iter,
                                           options.tolerance, dtype)
    pred = (test_x.to(dtype) @ weight + bias).argmax(dim=1)
    return {"top1": (pred == test_y).float().mean().item()}
