"""kNN against scikit-learn's KNeighborsClassifier and a naive weighted vote."""
import numpy as np
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier

from sslbench_eval.knn import KNNOptions, knn_predict


def data(seed=0, n=200, m=80, d=8, c=4):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(c, d, generator=g) * 2
    y = torch.randint(0, c, (n + m,), generator=g)
    x = centers[y] + torch.randn(n + m, d, generator=g)
    return x[:n], y[:n], x[n:], y[n:]


def test_uniform_vote_matches_sklearn_cosine_knn():
    train, train_y, test, _ = data()
    ours = knn_predict(train, train_y, test, 4, k=7, temperature=1.0, weighting="uniform", chunk=16)
    sk = KNeighborsClassifier(n_neighbors=7, metric="cosine", algorithm="brute").fit(train.numpy(), train_y.numpy())
    assert (ours.numpy() == sk.predict(test.numpy())).mean() >= 0.99  # ties may break differently


def test_similarity_weighted_vote_matches_naive_reference():
    train, train_y, test, _ = data(seed=1)
    ours = knn_predict(train, train_y, test, 4, k=10, temperature=0.1)
    tn = train / train.norm(dim=1, keepdim=True)
    for i, q in enumerate(test):
        sims = (tn @ (q / q.norm())).numpy()
        top = np.argsort(-sims)[:10]
        votes = np.zeros(4)
        for j in top:
            votes[int(train_y[j])] += np.exp(sims[j] / 0.1)
        assert int(ours[i]) == int(votes.argmax())


def test_k_larger_than_the_memory_bank_is_capped():
    train, train_y, test, _ = data(n=5)
    assert knn_predict(train, train_y, test, 4, k=50, temperature=0.1).shape == (len(test),)


def test_options_refuse_impossible_values():
    with pytest.raises(ValueError, match="k: must be >= 1"):
        KNNOptions(k=0)
