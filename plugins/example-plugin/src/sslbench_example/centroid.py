"""``nearest-centroid``: classify each test embedding by the closest class mean of the train embeddings.

The nearest-class-mean classifier (Mensink et al., 2013, Distance-Based Image
Classification: Generalizing to New Classes at Near-Zero Cost) has no parameters to fit
and no hyper-parameter to tune, so it scores an embedding space with no choice made on
any split. With ``distance = "cosine"`` the embeddings are L2-normalised first, the
"L2N" variant of SimpleShot (Wang et al., 2019); ``scikit-learn``'s ``NearestCentroid``
on the same (normalised) inputs is the reference a test compares against.
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import Tensor

from sslbench import EvalContext



from sslbench_example.options import DISTANCES, CentroidOptions  # noqa: F401  # torch-free: re-exported


def nearest_centroid_predict(train: Tensor, train_labels: Tensor, test: Tensor, distance: str) -> Tensor:
    """The class whose train mean is nearest (Euclidean) to each test embedding.

    Classes without a train sample are never predicted; ties go to the lowest class id.

    Shape:
        train (N, D), train_labels (N,) long, test (M, D); returns (M,) long.
    """
    train, test = train.float(), test.float()
    if distance == "cosine":
        train, test = F.normalize(train, dim=1), F.normalize(test, dim=1)
    classes = int(train_labels.max()) + 1
    counts = torch.bincount(train_labels, minlength=classes).to(train.dtype)  # (C,)
    sums = torch.zeros(classes, train.shape[1], device=train.device).index_add_(0, train_labels, train)
    centroids = sums / counts.clamp_min(1).unsqueeze(1)  # (C, D)
    distances = torch.cdist(test, centroids)  # (M, C)
    distances[:, counts == 0] = float("inf")
    return distances.argmin(dim=1)


def run_nearest_centroid(ctx: EvalContext, options: CentroidOptions) -> dict[str, float]:
    """The ``EvaluatorSpec.run`` function: ``top1`` accuracy on the test split, centroids from train.

    ``ctx.embeddings(split)`` is (N, D), computed once per cell and shared by every
    evaluator; ``ctx.labels(split)`` is (N,) for the label set ``ctx.label_set`` that
    this call scores (one call per ``class`` label set of the dataset).
    """
    train_y, test_y = ctx.labels("train"), ctx.labels("test")
    pred = nearest_centroid_predict(ctx.embeddings("train"), train_y, ctx.embeddings("test"), options.distance)
    return {"top1": (pred == test_y).float().mean().item()}
