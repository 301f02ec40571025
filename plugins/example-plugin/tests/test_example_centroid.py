"""The nearest-centroid evaluator against scikit-learn's NearestCentroid, and its options."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestCentroid
from sklearn.preprocessing import normalize

from sslbench import EvalContext, LoadedDataset, TensorSplit
from sslbench_example.centroid import CentroidOptions, nearest_centroid_predict, run_nearest_centroid


def clusters(n: int = 120, dim: int = 5, classes: int = 4) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    """(train x, y), (test x, y): Gaussian clusters around shared centres, split in halves."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % classes
    x = torch.randn(classes, dim, generator=g)[y] * 2 + torch.randn(n, dim, generator=g) * 1.5
    return (x[: n // 2], y[: n // 2]), (x[n // 2 :], y[n // 2 :])


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_predictions_match_scikit_learn(distance):
    (train, train_y), (test, _) = clusters()
    pred = nearest_centroid_predict(train, train_y, test, distance)
    fit, score = train.numpy(), test.numpy()
    if distance == "cosine":
        fit, score = normalize(fit), normalize(score)
    expected = NearestCentroid().fit(fit, train_y.numpy()).predict(score)
    np.testing.assert_array_equal(pred.numpy(), expected)


def test_a_class_without_train_samples_is_never_predicted():
    train = torch.tensor([[0.0, 0.0], [10.0, 10.0]])
    pred = nearest_centroid_predict(train, torch.tensor([0, 2]), torch.tensor([[9.0, 9.0], [0.1, 0.0]]), "euclidean")
    assert pred.tolist() == [2, 0]  # class 1 has no centroid: its zero-filled mean must not win


def test_run_scores_top1_on_the_test_split():
    (x, y), (xt, yt) = clusters()
    dataset = LoadedDataset(pretrain=TensorSplit({"x": x}), train=TensorSplit({"x": x}, labels={"c": y}),
                            test=TensorSplit({"x": xt}, labels={"c": yt}))
    identity = torch.nn.Identity()
    encoder = lambda batch: type("Out", (), {"pooled": identity(batch["x"])})  # noqa: E731
    ctx = EvalContext(encoder=encoder, task=None, dataset=dataset, modality=None, label_set="c",
                      device=torch.device("cpu"), seed=0)
    options = CentroidOptions(distance="euclidean")
    expected = float((nearest_centroid_predict(x, y, xt, "euclidean") == yt).float().mean())
    assert run_nearest_centroid(ctx, options) == {"top1": pytest.approx(expected)}
    assert expected > 0.5  # the clusters are separable enough that a broken centroid would show


def test_options_say_what_is_allowed():
    with pytest.raises(ValueError, match=r"^distance: must be one of cosine, euclidean, got 'manhattan'"):
        CentroidOptions(distance="manhattan")
