"""Multi-label genre probe: micro-F1 and the fit against scikit-learn, label alignment, learning."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sslbench_recsys.genre_probe import (
    GenreProbeOptions,
    fit_multilabel,
    label_matrix,
    micro_f1,
    multilabel_probe,
)
from sslbench_recsys.splits import ItemVocab


@pytest.mark.parametrize("seed", range(5))
def test_micro_f1_equals_scikit_learn(seed):
    generator = torch.Generator().manual_seed(seed)
    true = torch.rand(40, 6, generator=generator) < 0.3
    predicted = torch.rand(40, 6, generator=generator) < 0.4
    assert micro_f1(predicted, true) == pytest.approx(f1_score(true.numpy(), predicted.numpy(), average="micro"))


def test_micro_f1_with_nothing_predicted_or_true_is_zero():
    empty = torch.zeros(3, 2, dtype=torch.bool)
    assert micro_f1(empty, empty) == 0.0 == f1_score(empty.numpy(), empty.numpy(), average="micro", zero_division=0)


def test_labels_align_with_vocabulary_ids():
    vocab = ItemVocab.from_items(pd.Series(["b", "a", "c", "a"]))  # ids: a=2, b=3, c=4, [MASK]=5
    labels = pd.DataFrame({"Drama": [True, False, True], "Comedy": [False, True, True]}, index=["a", "b", "zzz"])
    matrix, labelled = label_matrix(labels, vocab)
    assert labelled.tolist() == [False, False, True, True, False, False]  # c has no label row, zzz is not an item
    assert matrix.tolist() == [[0, 0], [0, 0], [1, 0], [0, 1], [0, 0], [0, 0]]


def test_probe_recovers_labels_that_embeddings_encode_and_not_random_ones():
    generator = torch.Generator().manual_seed(0)
    labels = (torch.rand(300, 5, generator=generator) < 0.3).float()
    labelled = torch.ones(300, dtype=torch.bool)
    labelled[:2] = False
    informative = torch.cat([labels * 2 - 1, torch.randn(300, 3, generator=generator)], 1) + 0.3 * torch.randn(300, 8, generator=generator)
    noise = torch.randn(300, 8, generator=generator)
    settings = GenreProbeOptions()
    good = multilabel_probe(informative, labels, labelled, settings)
    bad = multilabel_probe(noise, labels, labelled, settings)
    assert good["micro_f1"] > 0.95 and bad["micro_f1"] < 0.5
    assert good["test_items"] == round(0.3 * 298) and good["valid_items"] == round(0.15 * 298)
    assert good["train_items"] == 298 - good["test_items"] - good["valid_items"]


def test_fit_equals_scikit_learn_logistic_regression_per_label():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(120, 4, generator=generator, dtype=torch.float64)
    y = (x[:, :3] + torch.randn(120, 3, generator=generator, dtype=torch.float64) > 0.3).double()
    l2 = 1e-2
    weight, bias = fit_multilabel(x, y, l2, max_iter=200)
    for g in range(3):  # mean BCE + (l2/2)·|w|² is LogisticRegression(C = 1 / (l2·N)) per label
        peer = LogisticRegression(C=1 / (l2 * len(x)), tol=1e-10, max_iter=1000).fit(x.numpy(), y[:, g].numpy())
        torch.testing.assert_close(weight[:, g], torch.from_numpy(peer.coef_[0]), atol=1e-5, rtol=1e-4)
        assert bias[g].item() == pytest.approx(peer.intercept_[0], abs=1e-5)


@pytest.mark.parametrize("field,value", [("test_fraction", 1.0), ("l2", -1.0), ("max_iter", 0), ("threshold", 1.0)])
def test_bad_options_name_the_field(field, value):
    with pytest.raises(ValueError, match=f"^{field}: must"):
        GenreProbeOptions(**{field: value})
