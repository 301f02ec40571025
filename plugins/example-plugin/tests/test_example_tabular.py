"""The tabular modality's SCARF views, the MLP encoder and the wine dataset."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sslbench import DatasetContext, ModelContext
from sslbench_example.tabular import (
    TabularMLPOptions, TabularModality, TabularViewOptions, build_raw_features, build_tabular_mlp, scarf_corrupt,
)
from sslbench_example.wine import WineOptions, example_wine, load_wine


def test_scarf_corruption_draws_each_replaced_entry_from_its_own_column():
    torch.manual_seed(0)
    x = torch.arange(2000.0).view(200, 10)  # every value unique, column c holds values ≡ c (mod 10)
    out = scarf_corrupt(x, 0.6)
    assert torch.equal(out.remainder(10), x.remainder(10))  # same column, another row
    replaced = (out != x).float().mean().item()
    assert replaced == pytest.approx(0.6 * (1 - 1 / 200), abs=0.02)  # a draw of the row itself changes nothing
    assert torch.equal(scarf_corrupt(x, 0.0), x)


def test_view_a_is_the_row_and_view_b_its_corruption():
    modality = TabularModality(TabularViewOptions(corruption=0.5, noise=0.0))
    batch = {"x": torch.randn(32, 6)}
    torch.manual_seed(1)
    a, b = modality.views(batch)
    assert torch.equal(a["x"], batch["x"]) and not torch.equal(b["x"], batch["x"])
    torch.manual_seed(1)
    assert torch.equal(modality.views(batch)[1]["x"], b["x"])  # torch's global generator: reproducible


def test_wine_splits_are_stratified_standardised_and_disjoint(tmp_path: Path):
    data = load_wine(DatasetContext(data_root=tmp_path), WineOptions())
    train, valid, test = data.train.data["x"], data.valid.data["x"], data.test.data["x"]
    assert (len(data.pretrain), len(train), len(valid), len(test)) == (99, 99, 25, 54)
    assert torch.bincount(data.test.labels["cultivar"]).tolist() == [18, 21, 15]  # 59/71/48 × 0.3
    assert torch.bincount(data.valid.labels["cultivar"]).tolist() == [8, 10, 7]  # 41/50/33 × 0.2
    assert torch.cdist(valid, train).min() > 0 and torch.cdist(valid, test).min() > 0
    assert torch.allclose(train.mean(0), torch.zeros(13), atol=1e-5)
    assert torch.allclose(train.std(0), torch.ones(13), atol=1e-4)
    assert not data.pretrain.labels and (torch.cdist(train, test).min() > 0)
    encoder = build_tabular_mlp(ModelContext("wine", "tabular", data.info), TabularMLPOptions(width=32, depth=2))
    assert encoder(data.test.batch(torch.arange(5))).pooled.shape == (5, 32)


def test_the_raw_features_reference_is_the_row_itself():
    dataset = example_wine(None, WineOptions())
    reference = build_raw_features(dataset, TabularViewOptions())
    batch = dataset.test.batch(torch.arange(len(dataset.test)))
    assert reference.embed_dim == 13 and torch.equal(reference(batch).pooled, batch["x"])
