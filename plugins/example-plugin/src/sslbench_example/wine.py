"""``wine``: scikit-learn's bundled wine recognition data as a ``tabular`` dataset.

178 wines from three cultivars of one Italian region, 13 chemical measurements each
(Forina et al.; UCI "Wine"). It ships inside scikit-learn, so there is nothing to
download and no ``DataSpec``. Split once, stratified, with a fixed seed; features are
standardised with the train split's mean and std (their scales differ by 10⁴: proline
is in the hundreds, hue around 1). Pretraining sees the train rows without labels.

A plugin dataset declares a validation split by filling ``LoadedDataset.valid``:
here ``valid_fraction`` of the train rows, stratified, with its own fixed seed, held
out of ``train`` and ``pretrain``. Evaluators (``linear-probe``, ``knn``) select
their hyper-parameters on it and score ``test`` once.
"""
from __future__ import annotations


import torch
from torch import Tensor

from sslbench import DatasetContext, LoadedDataset, TensorSplit, fingerprint
from sslbench_example.options import LABEL_SET, WineOptions  # noqa: F401  # torch-free: re-exported

SPLIT_SEED = 0  # every run and every machine sees the same split

VALID_SEED = 1  # the validation draw's own fixed seed (never the run's)


def load_wine(ctx: DatasetContext, options: WineOptions) -> LoadedDataset:
    """The ``DatasetSpec.build`` factory.

    Shape:
        split["x"] (N, 13) float32, standardised; labels["cultivar"] (N,) long in {0, 1, 2}.
    """
    from sklearn.datasets import load_wine as sk_load_wine
    from sklearn.model_selection import train_test_split

    wine = sk_load_wine()
    x, y = torch.tensor(wine.data, dtype=torch.float32), torch.tensor(wine.target, dtype=torch.long)
    fit, score = train_test_split(torch.arange(len(y)).numpy(), test_size=options.test_fraction,
                                  stratify=wine.target, random_state=SPLIT_SEED)
    held = fit[:0]
    if options.valid_fraction:
        fit, held = train_test_split(fit, test_size=options.valid_fraction, stratify=wine.target[fit],
                                     random_state=VALID_SEED)
    return tabular_dataset(x[fit], y[fit], x[score], y[score], fingerprint(x, y, torch.as_tensor(held)),
                           valid=(x[held], y[held]) if len(held) else None)


def tabular_dataset(x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor, digest: str,
                    valid: tuple[Tensor, Tensor] | None = None) -> LoadedDataset:
    """Splits standardised by the train rows' statistics; pretrain = train rows without labels.

    Shape:
        x_* (N, F) float, y_* (N,) long; valid: (x (M, F), y (M,)) or None.
    """
    mean, std = x_train.mean(0), x_train.std(0).clamp_min(1e-6)
    train, test = (x_train - mean) / std, (x_test - mean) / std
    held = TensorSplit({"x": (valid[0] - mean) / std}, labels={LABEL_SET: valid[1]}) if valid is not None else None
    return LoadedDataset(
        pretrain=TensorSplit({"x": train}),
        train=TensorSplit({"x": train}, labels={LABEL_SET: y_train}),
        test=TensorSplit({"x": test}, labels={LABEL_SET: y_test}),
        info={"num_features": int(x_train.shape[1]), "num_classes": int(y_train.max()) + 1},
        fingerprint=digest,
        valid=held,
    )


def example_wine(ctx: DatasetContext, options: WineOptions) -> LoadedDataset:
    """``DatasetSpec.example``: 30 random rows of 13 features in 3 classes (16 train, 6 valid, 8 test),
    shaped like ``load_wine``'s."""
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(30, 13, generator=generator), torch.arange(30) % 3
    return tabular_dataset(x[:16], y[:16], x[22:], y[22:], "example", valid=(x[16:22], y[16:22]))
