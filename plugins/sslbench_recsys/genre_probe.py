"""Multi-label linear probe on frozen item embeddings (e.g. movie genres) → micro-F1.

One L2-regularised logistic regression per label (binary cross-entropy), fit to
convergence with full-batch L-BFGS in torch on a random train split of the
labelled items, thresholded at 0.5 on the held-out items: the linear evaluation
protocol of SSL (e.g. SimCLR, Chen et al., 2020) applied to item vectors, much as
item2vec (Barkan & Koenigstein, 2016) checks its embeddings against genres. The
objective, mean BCE + (l2 / 2)·‖w‖² per label, is scikit-learn's
``LogisticRegression(C=1 / (l2 · N))`` for each label; a test compares the two.
A converged optimum, not a number of optimiser steps, makes the protocol
well-defined (and it takes far fewer passes than Adam).

Selection: labels are per item, not per user, so the dataset's ``valid`` split
(user histories) carries none; the probe carves its own fixed validation items
instead. After the test items (``test_fraction``, as before) ``valid_fraction`` of
the labelled items is held out by the same fixed ``seed``; the L2 of ``l2_grid``
with the best validation micro-F1 of a probe fit on the remaining train items is
kept (ties: the larger L2), and the test items are scored once, with that model
(fit on train items only, as the ``linear-probe`` evaluator does). The grid runs
from the largest L2 down, each fit warm-started from the last. An empty
``l2_grid`` or ``valid_fraction = 0`` uses the fixed ``l2``.
"""

from __future__ import annotations


import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from .splits import FIRST_ITEM, ItemVocab
from sslbench_recsys.options import GenreProbeOptions  # noqa: F401  # torch-free: re-exported


def label_matrix(labels: pd.DataFrame, vocab: ItemVocab) -> tuple[Tensor, Tensor]:
    """Align a multi-hot label frame (index: item key) with vocabulary ids.

    Returns the label matrix and which ids have a label row; padding, unknown,
    [MASK] and items without a row are unlabelled.

    Shape:
        → labels (V, G) float, labelled (V,) bool.
    """
    items = slice(FIRST_ITEM, FIRST_ITEM + len(vocab.keys))
    labelled = torch.zeros(len(vocab), dtype=torch.bool)
    labelled[items] = torch.tensor(vocab.keys.isin(labels.index))
    matrix = torch.zeros(len(vocab), labels.shape[1])
    matrix[items] = torch.tensor(labels.reindex(vocab.keys, fill_value=False).to_numpy(dtype="float32"))
    return matrix, labelled


def micro_f1(predicted: Tensor, true: Tensor) -> float:
    """Micro-averaged F1 = 2·TP / (2·TP + FP + FN) over every (item, label) cell.

    Shape:
        predicted, true: (N, G) bool.
    """
    predicted, true = predicted.bool(), true.bool()
    tp = (predicted & true).sum().item()
    wrong = (predicted ^ true).sum().item()
    return 2 * tp / (2 * tp + wrong) if tp + wrong else 0.0


def fit_multilabel(x: Tensor, y: Tensor, l2: float, max_iter: int,
                   init: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
    """Weights and bias of one L2-regularised logistic regression per label (bias not penalised).

    Starts from ``init`` (a previous ``(W, b)``: a warm start) or from zeros.

    Shape:
        x (N, D) float, y (N, G) 0/1, init (D, G) and (G,); returns W (D, G) and b (G,), float64.
    """
    x, y = x.double(), y.double()  # L-BFGS is sensitive to round-off; D×G parameters are few
    if init is None:
        weight = torch.zeros(x.shape[1], y.shape[1], dtype=x.dtype, requires_grad=True)
        bias = torch.zeros(y.shape[1], dtype=x.dtype, requires_grad=True)
    else:
        weight, bias = (p.double().clone().requires_grad_(True) for p in init)
    opt = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter, tolerance_grad=1e-9,
                            tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        bce = F.binary_cross_entropy_with_logits(x @ weight + bias, y, reduction="none").mean(0).sum()
        loss = bce + 0.5 * l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return weight.detach(), bias.detach()


def multilabel_probe(embeddings: Tensor, labels: Tensor, labelled: Tensor,
                     settings: GenreProbeOptions = GenreProbeOptions()) -> dict[str, float]:
    """Fit the per-label probes on a fixed random split of the labelled items; micro-F1 on the test items.

    Items are split test / valid / train by one seeded permutation; the L2 is selected
    on the valid items (module docstring) when ``valid_fraction`` and ``l2_grid`` allow,
    and returned as ``l2``. Embeddings are standardised with the train items' mean and std.

    Shape:
        embeddings: (V, D); labels: (V, G) 0/1; labelled: (V,) bool.
    """
    generator = torch.Generator().manual_seed(settings.seed)
    ids = torch.nonzero(labelled.cpu()).squeeze(1)
    ids = ids[torch.randperm(len(ids), generator=generator)]
    n_test = max(1, round(settings.test_fraction * len(ids)))
    n_valid = round(settings.valid_fraction * len(ids)) if settings.l2_grid else 0
    test, valid, train = ids[:n_test], ids[n_test : n_test + n_valid], ids[n_test + n_valid :]
    x = embeddings.detach().double().cpu()
    mean, std = x[train].mean(0), x[train].std(0).clamp(min=1e-6)
    x = (x - mean) / std
    labels = labels.cpu()
    l2, params = settings.l2, None
    if len(valid):
        l2, params = select_multilabel_l2((x[train], labels[train]), (x[valid], labels[valid]), settings)
    weight, bias = params or fit_multilabel(x[train], labels[train], l2, settings.max_iter)
    predicted = torch.sigmoid(x[test] @ weight + bias) >= settings.threshold
    return {"micro_f1": micro_f1(predicted, labels[test] > 0), "train_items": float(len(train)),
            "valid_items": float(len(valid)), "test_items": float(len(test)), "l2": l2}


def select_multilabel_l2(train: tuple[Tensor, Tensor], valid: tuple[Tensor, Tensor], settings: GenreProbeOptions,
                         ) -> tuple[float, tuple[Tensor, Tensor]]:
    """The L2 of ``settings.l2_grid`` with the best validation micro-F1 (ties: the larger L2), and its model.

    Shape:
        train, valid: (x (N, D) float64, labels (N, G) 0/1).
    """
    best: tuple[float, float, tuple[Tensor, Tensor]] | None = None
    params = None
    for l2 in sorted(set(settings.l2_grid), reverse=True):
        params = fit_multilabel(*train, l2, settings.max_iter, init=params)
        score = micro_f1(torch.sigmoid(valid[0] @ params[0] + params[1]) >= settings.threshold, valid[1] > 0)
        if best is None or score > best[0]:
            best = (score, l2, params)
    assert best is not None  # the caller checks that l2_grid is not empty
    return best[1], best[2]
