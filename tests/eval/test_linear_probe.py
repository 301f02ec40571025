"""The torch linear probe against scikit-learn's LogisticRegression on the same objective."""
import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from sslbench_eval.linear_probe import fit_logistic_regression, standardize


def test_same_solution_as_sklearn_for_the_same_objective():
    g = torch.Generator().manual_seed(0)
    n, d, c, l2 = 300, 6, 3, 1e-2
    x = torch.randn(n, d, generator=g)
    y = (x @ torch.randn(d, c, generator=g) + 0.5 * torch.randn(n, c, generator=g)).argmax(1)
    weight, bias = fit_logistic_regression(x, y, c, l2=l2, max_iter=500)
    # sklearn minimises C·Σ loss + ½‖W‖², i.e. mean loss + ‖W‖²/(2·C·n): C = 1/(l2·n)
    x64 = x.double().numpy()
    sk = LogisticRegression(C=1 / (l2 * n), tol=1e-10, max_iter=5000).fit(x64, y.numpy())
    ours_p = torch.softmax(x.double() @ weight + bias, dim=1).numpy()
    assert np.abs(ours_p - sk.predict_proba(x64)).max() < 1e-5
    # softmax parameters are defined up to a constant per feature; compare centred weights
    ours_w = weight.numpy() - weight.numpy().mean(1, keepdims=True)
    sk_w = sk.coef_.T - sk.coef_.T.mean(1, keepdims=True)
    assert np.abs(ours_w - sk_w).max() < 1e-3


def test_standardize_uses_train_statistics():
    train, test = torch.randn(50, 3) * 4 + 2, torch.randn(10, 3)
    s_train, s_test = standardize(train, test)
    assert torch.allclose(s_train.mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(s_test, (test - train.mean(0)) / train.std(0), atol=1e-5)


def test_separable_data_is_classified_perfectly():
    x = torch.cat([torch.randn(40, 2) + 4, torch.randn(40, 2) - 4])
    y = torch.cat([torch.zeros(40), torch.ones(40)]).long()
    weight, bias = fit_logistic_regression(x, y, 2, l2=1e-3, max_iter=100)
    assert ((x.double() @ weight + bias).argmax(1) == y).all()


def test_options_refuse_negative_l2():
    from sslbench_eval.linear_probe import LinearProbeOptions

    with pytest.raises(ValueError, match="l2"):
        LinearProbeOptions(l2=-1.0)


def test_the_protocol_defaults_reach_sklearn_accuracy_in_float32():
    """The evaluator's defaults (tolerance 1e-4, float32) stop early yet agree with sklearn's predictions."""
    from sslbench_eval.linear_probe import LinearProbeOptions

    g = torch.Generator().manual_seed(1)
    n, d, c = 600, 16, 4
    x = torch.randn(n, d, generator=g)
    y = (x @ torch.randn(d, c, generator=g) + torch.randn(n, c, generator=g)).argmax(1)
    o = LinearProbeOptions()
    weight, bias = fit_logistic_regression(x, y, c, o.l2, o.max_iter, o.tolerance, torch.float32)
    sk = LogisticRegression(C=1 / (o.l2 * n), max_iter=5000).fit(x.double().numpy(), y.numpy())
    ours = (x @ weight + bias).argmax(1).numpy()
    assert (ours == sk.predict(x.double().numpy())).mean() >= 0.99
