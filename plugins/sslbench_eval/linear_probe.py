"""Linear probe: multinomial logistic regression on frozen, standardised embeddings.

Trained full-batch with L-BFGS in torch (on the cell's device), minimising
mean cross-entropy + (l2 / 2)·‖W‖² — the same objective as scikit-learn's
``LogisticRegression(C=1 / (l2 · N))``, whose result a test compares against.

Selection, as in the linear-evaluation protocol of Kolesnikov et al. (2019,
"Revisiting Self-Supervised Visual Representation Learning") and Chen et al. (2020,
SimCLR, appendix B.5): when the dataset has a ``valid`` split, the probe is fit on
``train`` for every L2 of ``l2_grid``, the L2 with the best ``valid`` accuracy is
kept, and ``test`` is scored once, with that model. The kept model is the one fit
on ``train`` alone (no refit on train + valid): the probe then sees exactly the
configured ``train`` split — the same examples as without a ``valid`` split and as
the kNN memory bank — so rows stay comparable across protocols, and no sixth fit
is paid. The grid is walked from the largest L2 to the smallest, each fit
warm-started from the previous solution (a regularisation path, as in glmnet), so
later fits need few L-BFGS iterations; every fit is still capped at ``max_iter``.
Without a ``valid`` split (a plugin dataset that declares none) or with an empty
``l2_grid``, the fixed ``l2`` is used. The chosen L2 is recorded with
``EvalContext.record_choice`` (the row's ``selected``), never returned as a metric.
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import Tensor

from sslbench import EvalContext
from sslbench_eval.budget import budget_context
from sslbench_eval.options import LinearProbeOptions  # noqa: F401  # torch-free: re-exported


def fit_logistic_regression(x: Tensor, y: Tensor, num_classes: int, l2: float, max_iter: int,
                            tolerance: float = 1e-9, dtype: torch.dtype = torch.float64,
                            init: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
    """Weights and bias of an L2-regularised softmax regression (bias not penalised).

    L-BFGS starts from ``init`` (a previous ``(W, b)``: a warm start) or from zeros,
    and stops after ``max_iter`` iterations or when the largest gradient entry
    falls below ``tolerance``.

    Shape:
        x (N, D) float, y (N,) long, init (D, C) and (C,); returns W (D, C) and b (C,).
    """
    x = x.to(dtype)
    # (C, D), F.linear's layout: its weight gradient is grad.T @ x. With (D, C) and x @ weight the
    # gradient is x.T @ grad, which MKL runs 3-6x slower in float64 on AMD CPUs (benchmarks/bench_eval.py).
    if init is None:
        weight = torch.zeros(num_classes, x.shape[1], dtype=x.dtype, device=x.device, requires_grad=True)
        bias = torch.zeros(num_classes, dtype=x.dtype, device=x.device, requires_grad=True)
    else:
        weight = init[0].T.to(x).clone().requires_grad_(True)
        bias = init[1].to(x).clone().requires_grad_(True)
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


def standardize(train: Tensor, *others: Tensor) -> tuple[Tensor, ...]:
    """Scale ``train`` and each of ``others`` by the train split's per-feature mean and std. Shape: unchanged."""
    mean, std = train.mean(dim=0), train.std(dim=0).clamp_min(1e-6)
    return tuple((x - mean) / std for x in (train, *others))


def accuracy(weight: Tensor, bias: Tensor, x: Tensor, y: Tensor) -> float:
    """Top-1 accuracy of the linear classifier. Shape: W (D, C), b (C,), x (N, D), y (N,) long."""
    return ((x.to(weight.dtype) @ weight + bias).argmax(dim=1) == y).float().mean().item()


def select_l2(train: tuple[Tensor, Tensor], valid: tuple[Tensor, Tensor], num_classes: int,
              options: LinearProbeOptions, dtype: torch.dtype = torch.float32,
              ) -> tuple[float, tuple[Tensor, Tensor], dict[float, float]]:
    """The L2 of ``options.l2_grid`` whose train-fit model is most accurate on valid, that model, every score.

    Walks the grid from the largest L2 down, warm-starting each fit from the last;
    a tie goes to the larger L2 (the simpler model). Reads no test data.

    Shape:
        train, valid: (x (N, D), y (N,) long); returns W (D, C), b (C,) as the model.
    """
    best: tuple[float, float, tuple[Tensor, Tensor]] | None = None
    scores: dict[float, float] = {}
    params = None
    for l2 in sorted(set(options.l2_grid), reverse=True):
        params = fit_logistic_regression(*train, num_classes, l2, options.max_iter, options.tolerance, dtype,
                                         init=params)
        scores[l2] = accuracy(*params, *valid)
        if best is None or scores[l2] > best[0]:
            best = (scores[l2], l2, params)
    if best is None:
        raise ValueError("l2_grid: empty; give at least one value or use l2")
    return best[1], best[2], scores


def run_linear_probe(ctx: EvalContext, options: LinearProbeOptions) -> dict[str, float]:
    """``top1``: test accuracy of a logistic regression fit on the train split's embeddings.

    With a ``valid`` split and a non-empty ``l2_grid`` the L2 is selected on valid
    (module docstring) and recorded as ``selected.l2``; otherwise ``l2`` is used.
    Test labels are read once, after the model is fixed. With a label budget the probe is
    fit (and standardised) on the budget's subset of train only (:mod:`sslbench_eval.budget`).
    """
    ctx, subset = budget_context(ctx, options)
    select = ctx.has_split("valid") and bool(options.l2_grid)
    names = ("train", "valid", "test") if select else ("train", "test")
    xs = [ctx.embeddings(name) for name in names]
    train_y = ctx.labels("train")
    if subset is not None:
        xs[0], train_y = xs[0][subset.to(xs[0].device)], train_y[subset.to(train_y.device)]
    if options.standardize:
        xs = list(standardize(*xs))
    valid_y = ctx.labels("valid") if select else train_y[:0]
    num_classes = int(max(train_y.max(), valid_y.max() if len(valid_y) else 0)) + 1
    dtype = torch.float64 if options.precision == "float64" else torch.float32
    if select:
        l2, (weight, bias), _ = select_l2((xs[0], train_y), (xs[1], valid_y), num_classes, options, dtype)
        ctx.record_choice(l2=l2)
    else:
        weight, bias = fit_logistic_regression(xs[0], train_y, num_classes, options.l2, options.max_iter,
                                               options.tolerance, dtype)
    test_y = ctx.labels("test")
    return {"top1": accuracy(weight, bias, xs[-1], test_y)}
